/**
 * Everything CUT/FastCUT trains, in one place: generator G, discriminator D, projection head
 * H and one Adam per network (reference: models/cut_model.py). Built from resolved options.
 */
import type { NceTap, TrainOptions } from '../../../shared/options';
import { PatchDiscriminator } from '../model/discriminator';
import { ResnetGenerator, tapChannels } from '../model/generator';
import { ProjectionHead } from '../model/patch-sampler';
import { disposeParams, type ParamSet } from '../model/params';
import { Rng } from '../rng';
import { Adam } from './adam';

export class CutModel {
  readonly taps: NceTap[];
  readonly optG: Adam;
  readonly optD: Adam;
  readonly optH: Adam;

  constructor(
    readonly opts: TrainOptions,
    readonly G: ResnetGenerator,
    readonly D: PatchDiscriminator,
    readonly H: ProjectionHead,
  ) {
    this.taps = opts.nceTaps as NceTap[];
    const adam = { lr: opts.lr, beta1: opts.beta1, beta2: opts.beta2 };
    this.optG = new Adam(G.params, adam);
    this.optD = new Adam(D.params, adam);
    this.optH = new Adam(H.params, adam);
  }

  /** Fresh networks with the reference's xavier init, drawn from `seed`. */
  static create(opts: TrainOptions, seed = opts.seed): CutModel {
    const rng = new Rng(seed);
    const taps = opts.nceTaps as NceTap[];
    const G = ResnetGenerator.create(
      { ngf: opts.ngf, nBlocks: opts.nBlocks },
      opts.initGain,
      rng.fork(),
    );
    const D = PatchDiscriminator.create(
      { ndf: opts.ndf, nLayers: opts.nLayersD },
      opts.initGain,
      rng.fork(),
    );
    const channels = taps.map((t) => tapChannels(t, opts.ngf));
    const H = ProjectionHead.create(channels, opts.projectionDim, opts.initGain, rng.fork());
    return new CutModel(opts, G, D, H);
  }

  setLearningRate(lr: number): void {
    this.optG.lr = lr;
    this.optD.lr = lr;
    this.optH.lr = lr;
  }

  /** Every parameter set by network, for checkpoints. */
  networks(): Record<'G' | 'D' | 'H', ParamSet> {
    return { G: this.G.params, D: this.D.params, H: this.H.params };
  }

  dispose(): void {
    for (const o of [this.optG, this.optD, this.optH]) o.dispose();
    for (const p of Object.values(this.networks())) disposeParams(p);
  }
}
