/**
 * Everything CUT/FastCUT trains, in one place: generator G, discriminator D, projection head
 * H and one Adam per network (reference: models/cut_model.py). Built from resolved options.
 */
import type { NceTap, TrainOptions } from '../../../shared/options';
import { PatchDiscriminator } from '../model/discriminator';
import { ResnetGenerator, tapChannels } from '../model/generator';
import { ProjectionHead } from '../model/patch-sampler';
import { disposeParams, type ParamSet } from '../model/params';
import type { SegmentMode } from '../model/recompute';
import { Rng } from '../rng';
import { Adam } from './adam';

/**
 * Generator activations (batch × pixels × ngf) above which stages are recomputed: at
 * 128² × ngf 16 (the small configuration) a kept FastCUT step needs ~0.4 GiB of tensors,
 * at 128² × ngf 64 ~1.6 GiB, at 256² × ngf 64 far more than wasm's 4 GiB heap.
 */
const RECOMPUTE_ABOVE = 128 * 128 * 16;

export class CutModel {
  readonly taps: NceTap[];
  readonly optG: Adam;
  readonly optD: Adam;
  readonly optH: Adam;
  /** `auto` lets `fitMemoryTo` choose by size; a mode forces it (benchmarks, tests). */
  segmentPolicy: 'auto' | SegmentMode = 'auto';

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

  /**
   * Picks how G and D run their stages for a generator input of batch × h × w: recomputed in
   * the backward pass (gradient checkpointing) once the activations get large, where holding
   * them would not fit the wasm heap (the paper's 256² step), else kept (about 6 % faster).
   * Either way the values and gradients are the same.
   */
  fitMemoryTo(batch: number, h: number, w: number): SegmentMode {
    const auto = batch * h * w * this.opts.ngf > RECOMPUTE_ABOVE ? 'recomputed' : 'tidied';
    const mode: SegmentMode = this.segmentPolicy === 'auto' ? auto : this.segmentPolicy;
    this.G.segmentMode = mode;
    this.D.segmentMode = mode;
    return mode;
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
