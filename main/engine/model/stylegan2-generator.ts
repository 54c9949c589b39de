/**
 * SinCUT's generator (reference: models/stylegan_networks.py, StyleGAN2Generator with one
 * downsampling, as SinCUT configures it): an encoder and a decoder of StyleGAN2 residual
 * blocks, with no normalisation layer at all, so every output pixel depends only on a
 * bounded neighbourhood of the input (tiles need halos, not global statistics).
 *
 *   1×1 conv → bias-act                                       [B, H, W, c0]     (stem)
 *   residual block, blurred stride 2                          [B, H/2, W/2, c1] (down1 tap)
 *   nBlocks/2 residual blocks                                 [B, H/2, W/2, c1] (res1… taps)
 *   nBlocks/2 residual blocks                                 [B, H/2, W/2, c1]
 *   demodulated conv transposed ×2, blur, + noise, bias-act   [B, H, W, c0]
 *   1×1 conv → bias-act (to RGB, no tanh)                     [B, H, W, 3]
 *
 * Widths follow the reference's table for its crop size (ngf/32 × 256 at 64², × 512 at 32²…),
 * so a style records ngf and the crop it was built for. Input sides must be even.
 */
import * as tf from '@tensorflow/tfjs';
import type { NceTap } from '../../../shared/options';
import type { Rng } from '../rng';
import type { ParamSet } from './params';
import { runSegment, type SegmentMode } from './recompute';
import {
  convLayer,
  convLayerSpecs,
  initEqualised,
  paramsNamed,
  resBlock,
  resBlockSpecs,
  styledUpConv,
  styledUpConvSpecs,
  STYLEGAN2_WIDTHS,
  type EqualisedSpec,
} from './stylegan2-layers';

type T4 = tf.Tensor4D;

export interface StyleGan2GeneratorConfig {
  /** Channels at full resolution (c0) and at half resolution (c1). */
  c0: number;
  c1: number;
  /** Residual blocks in all: half in the encoder, half in the decoder. */
  nBlocks: number;
}

/** The reference's widths for `ngf` at a crop of `crop` (its nearest power of 2). */
export function styleGan2Widths(ngf: number, crop: number): { c0: number; c1: number } {
  const res = 2 ** Math.min(10, Math.max(3, Math.round(Math.log2(crop))));
  const m = ngf / 32;
  const ch = (r: number) => {
    const v = Math.round(STYLEGAN2_WIDTHS[r] * m);
    return r <= 32 ? Math.min(512, v) : v;
  };
  return { c0: Math.max(1, ch(res)), c1: Math.max(1, ch(res / 2)) };
}

export function styleGan2GeneratorNames(nBlocks: number) {
  const half = Math.floor(nBlocks / 2);
  return {
    stem: 'encoder.convs.1',
    down: 'encoder.convs.2',
    encoderBlock: (i: number) => `encoder.convs.${3 + i}`,
    decoderBlock: (i: number) => `decoder.convs.${i}`,
    up: `decoder.convs.${half}`,
    rgb: `decoder.convs.${half + 1}`,
    half,
  };
}

export function styleGan2GeneratorSpecs(cfg: StyleGan2GeneratorConfig): EqualisedSpec[] {
  const n = styleGan2GeneratorNames(cfg.nBlocks);
  const { c0, c1 } = cfg;
  const specs = [...convLayerSpecs(n.stem, 3, c0, 1), ...resBlockSpecs(n.down, c0, c1, true)];
  for (let i = 0; i < n.half; i++) specs.push(...resBlockSpecs(n.encoderBlock(i), c1, c1, false));
  for (let i = 0; i < n.half; i++) specs.push(...resBlockSpecs(n.decoderBlock(i), c1, c1, false));
  specs.push(...styledUpConvSpecs(n.up, c1, c0));
  specs.push(...convLayerSpecs(n.rgb, c0, 3, 1));
  return specs;
}

/** Channels of a tap: the input image, else the half-resolution width. */
export function styleGan2TapChannels(tap: NceTap, cfg: { c1: number }): number {
  return tap === 'input' ? 3 : cfg.c1;
}

export class StyleGan2Generator {
  /** Same meaning as ResnetGenerator.segmentMode: same values, less training memory. */
  segmentMode: SegmentMode = 'tidied';
  readonly names: ReturnType<typeof styleGan2GeneratorNames>;

  constructor(
    readonly config: StyleGan2GeneratorConfig,
    readonly params: ParamSet,
  ) {
    this.names = styleGan2GeneratorNames(config.nBlocks);
  }

  static create(cfg: StyleGan2GeneratorConfig, rng: Rng): StyleGan2Generator {
    return new StyleGan2Generator(cfg, initEqualised(styleGan2GeneratorSpecs(cfg), rng));
  }

  /**
   * [B, H, W, 3] in [−1, 1] → [B, H, W, 3] (not clamped: the last layer is a scaled leaky
   * ReLU, as in the reference). `noise` [B, H, W, 1] feeds the upsampling conv; null adds none.
   */
  forward(x: T4, noise: T4 | null): T4 {
    checkSides(x);
    return tf.tidy(() => this.decode(this.encodeAll(x, [], false).out, noise));
  }

  /** Encoder features at the requested taps, in the order asked; stops at the deepest. */
  encode(x: T4, taps: readonly NceTap[]): T4[] {
    checkSides(x);
    return tf.tidy(() => this.encodeAll(x, taps, true).feats);
  }

  /** The encoder's output [B, H/2, W/2, c1] (for tiled inference). */
  encodeAll(x: T4, taps: readonly NceTap[], stopEarly: boolean): { out: T4; feats: T4[] } {
    const n = this.names;
    const found = new Map<NceTap, T4>();
    const want = new Set(taps);
    const done = () => stopEarly && found.size === want.size;
    const result = (out: T4) => ({ out, feats: taps.map((t) => found.get(t) as T4) });
    if (want.has('input')) found.set('input', tf.clone(x)); // a tap the caller may dispose
    if (done()) return result(x);
    let h = this.stage(n.stem, x, (t) => convLayer(t, this.params, n.stem, 1)); // [B, H, W, c0]
    h = this.stage(n.down, h, (t) => resBlock(t, this.params, n.down, true)); // [B, H/2, W/2, c1]
    if (want.has('down1')) found.set('down1', h);
    if (done()) return result(h);
    for (let i = 0; i < n.half; i++) {
      const name = n.encoderBlock(i);
      h = this.stage(name, h, (t) => resBlock(t, this.params, name, false));
      const tap = `res${i + 1}` as NceTap;
      if (want.has(tap)) found.set(tap, h);
      if (done()) return result(h);
    }
    return result(h);
  }

  /** Decoder: encoder output [B, h, w, c1] → image [B, 2h, 2w, 3]. */
  decode(h: T4, noise: T4 | null): T4 {
    const n = this.names;
    for (let i = 0; i < n.half; i++) {
      const name = n.decoderBlock(i);
      h = this.stage(name, h, (t) => resBlock(t, this.params, name, false));
    }
    h = this.stage(n.up, h, (t) => styledUpConv(t, this.params, n.up, noise)); // [B, H, W, c0]
    return this.stage(n.rgb, h, (t) => convLayer(t, this.params, n.rgb, 1)); // [B, H, W, 3]
  }

  private stage(prefix: string, x: T4, fn: (t: T4) => T4): T4 {
    return runSegment(this.segmentMode, fn, paramsNamed(this.params, prefix), x);
  }
}

function checkSides(x: T4): void {
  const [, h, w] = x.shape;
  if (h % 2 !== 0 || w % 2 !== 0) {
    throw new Error(`the StyleGAN2 generator needs even sides, got ${h}×${w}`);
  }
  if (h < 4 || w < 4) throw new Error(`generator input must be at least 4×4, got ${h}×${w}`);
}
