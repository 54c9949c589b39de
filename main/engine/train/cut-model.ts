/**
 * Everything CUT/FastCUT trains, in one place: generator G, discriminator D, projection head
 * H and one Adam per network (reference: models/cut_model.py; what SinCUT shares is in
 * trained-networks.ts). Built from resolved options.
 */
import type { NceTap, TrainOptions } from '../../../shared/options';
import { PatchDiscriminator } from '../model/discriminator';
import { ResnetGenerator, tapChannels } from '../model/generator';
import { ProjectionHead } from '../model/projection-head';
import type { SegmentMode } from '../model/recompute';
import { Rng } from '../rng';
import { TrainedNetworks } from './trained-networks';

/**
 * Generator activations (batch × pixels × ngf) above which stages are recomputed: at
 * 128² × ngf 16 (the small configuration) a kept FastCUT step needs ~0.4 GiB of tensors,
 * at 128² × ngf 64 ~1.6 GiB, at 256² × ngf 64 far more than wasm's 4 GiB heap.
 */
const RECOMPUTE_ABOVE = 128 * 128 * 16;

export class CutModel extends TrainedNetworks<TrainOptions, ResnetGenerator, PatchDiscriminator> {
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
}
