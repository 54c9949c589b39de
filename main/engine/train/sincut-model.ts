/**
 * Everything SinCUT trains (reference: models/sincut_model.py on top of cut_model.py): the
 * StyleGAN2 generator (or CUT's ResNet generator), the StyleGAN2 discriminator for dPatch²
 * windows, the projection head, and one Adam per network (lr 2e-3, betas 0 and 0.99).
 */
import * as tf from '@tensorflow/tfjs';
import type { NceTap, SinCutOptions } from '../../../shared/options';
import { ProjectionHead } from '../model/projection-head';
import type { SegmentMode } from '../model/recompute';
import { StyleGan2Discriminator } from '../model/stylegan2-discriminator';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import { Rng } from '../rng';
import { TrainedNetworks } from './trained-networks';
import {
  createGenerator,
  sincutTapChannels,
  type SinCutGenerator,
} from '../model/sincut-generator';

/** Generator activations (batch × pixels × full-resolution width) above which stages recompute. */
const RECOMPUTE_ABOVE = 2 ** 21;

/** The reference's init gain for the projection head (xavier, 0.02). */
const HEAD_INIT_GAIN = 0.02;

export class SinCutModel extends TrainedNetworks<
  SinCutOptions,
  SinCutGenerator,
  StyleGan2Discriminator
> {
  /** Images per pass of D's half (null: by size, see sincut-step.ts dChunk). */
  dChunk: number | null = null;
  /** Images per pass of G's half (null: by size, see sincut-step.ts gChunk). */
  gChunk: number | null = null;

  static create(opts: SinCutOptions, seed = opts.seed): SinCutModel {
    const rng = new Rng(seed);
    const G = createGenerator(opts, rng.fork());
    const D = StyleGan2Discriminator.create({ ndf: opts.ndf, size: opts.dPatch }, rng.fork());
    const channels = (opts.nceTaps as NceTap[]).map((t) => sincutTapChannels(opts, t));
    const H = ProjectionHead.create(channels, opts.projectionDim, HEAD_INIT_GAIN, rng.fork());
    return new SinCutModel(opts, G, D, H);
  }

  /** G(x) with the given noise (the ResNet generator has no noise input). */
  generate(x: tf.Tensor4D, noise: tf.Tensor4D | null): tf.Tensor4D {
    return this.G instanceof StyleGan2Generator ? this.G.forward(x, noise) : this.G.forward(x);
  }

  /** Recompute G's stages in the backward pass once its activations get large. */
  fitMemoryTo(batch: number, h: number, w: number): SegmentMode {
    const width = this.G instanceof StyleGan2Generator ? this.G.config.c0 : this.opts.ngf;
    const auto = batch * h * w * width > RECOMPUTE_ABOVE ? 'recomputed' : 'tidied';
    const mode = this.segmentPolicy === 'auto' ? auto : this.segmentPolicy;
    this.G.segmentMode = mode;
    return mode;
  }
}
