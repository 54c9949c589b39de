/**
 * The ResNet generator of CUT (reference: models/networks.py, ResnetGenerator with
 * anti-aliased sampling). Parameter names follow the reference's `model.<index>` layout so
 * checkpoints map one to one. NHWC throughout; input sides must be multiples of 4.
 *
 *   pad3 → conv7 → IN → ReLU                                   [B, H, W, ngf]
 *   conv3 (down1 tap) → IN → ReLU → blur-down                  [B, H/2, W/2, 2ngf]
 *   conv3 (down2 tap) → IN → ReLU → blur-down                  [B, H/4, W/4, 4ngf]
 *   N × residual block (res1…resN taps)                        [B, H/4, W/4, 4ngf]
 *   up → conv3 → IN → ReLU → up → conv3 → IN → ReLU            [B, H, W, ngf]
 *   pad3 → conv7 → tanh                                        [B, H, W, 3]
 */
import * as tf from '@tensorflow/tfjs';
import type { NceTap } from '../../../shared/options';
import type { Rng } from '../rng';
import { blurDownsample, conv2d, instanceNorm, reflectPad, upsample2x, type T4 } from './layers';
import { conv, initParams, type ParamSet, type ParamSpec } from './params';
import { runStage, type Segment, type SegmentMode } from './recompute';

export interface GeneratorConfig {
  ngf: number;
  nBlocks: number;
  inputChannels?: number;
  outputChannels?: number;
}

/** Reference layer names (`model.<i>`) of each conv, derived from the block count. */
export function generatorLayerNames(nBlocks: number) {
  return {
    stem: 'model.1',
    down1: 'model.4',
    down2: 'model.8',
    block: (i: number) => `model.${12 + i}.conv_block`, // i = 0-based block index
    up1: `model.${13 + nBlocks}`,
    up2: `model.${17 + nBlocks}`,
    head: `model.${21 + nBlocks}`,
  };
}

export function generatorSpecs(cfg: GeneratorConfig): ParamSpec[] {
  const { ngf, nBlocks } = cfg;
  const cin = cfg.inputChannels ?? 3;
  const cout = cfg.outputChannels ?? 3;
  const n = generatorLayerNames(nBlocks);
  const specs = [
    ...conv(n.stem, 7, cin, ngf),
    ...conv(n.down1, 3, ngf, 2 * ngf),
    ...conv(n.down2, 3, 2 * ngf, 4 * ngf),
  ];
  for (let i = 0; i < nBlocks; i++) {
    specs.push(...conv(`${n.block(i)}.1`, 3, 4 * ngf, 4 * ngf));
    specs.push(...conv(`${n.block(i)}.5`, 3, 4 * ngf, 4 * ngf));
  }
  specs.push(...conv(n.up1, 3, 4 * ngf, 2 * ngf));
  specs.push(...conv(n.up2, 3, 2 * ngf, ngf));
  specs.push(...conv(n.head, 7, ngf, cout));
  return specs;
}

/** Channels of each encoder tap, for sizing the projection head. */
export function tapChannels(tap: NceTap, ngf: number, inputChannels = 3): number {
  if (tap === 'input') return inputChannels;
  if (tap === 'down1') return 2 * ngf;
  return 4 * ngf;
}

/** Order of taps along the network, so the encoder can stop at the deepest one asked for. */
function tapDepth(tap: NceTap): number {
  if (tap === 'input') return 0;
  if (tap === 'down1') return 1;
  if (tap === 'down2') return 2;
  return 2 + Number(tap.slice(3));
}

export class ResnetGenerator {
  readonly params: ParamSet;
  /**
   * How each stage runs: `tidied` (default) frees a stage's temporaries as soon as it ends;
   * `recomputed` also keeps only stage boundaries for the backward pass and recomputes each
   * stage there (gradient checkpointing: bounded training memory at large crops, one more
   * forward pass). Values and gradients are the same either way.
   */
  segmentMode: SegmentMode = 'tidied';
  private readonly names: ReturnType<typeof generatorLayerNames>;

  constructor(
    readonly config: GeneratorConfig,
    params: ParamSet,
  ) {
    this.params = params;
    this.names = generatorLayerNames(config.nBlocks);
  }

  static create(cfg: GeneratorConfig, initGain: number, rng: Rng): ResnetGenerator {
    return new ResnetGenerator(cfg, initParams(generatorSpecs(cfg), initGain, rng));
  }

  /** Translate: [B, H, W, 3] in [−1, 1] → [B, H, W, 3] in [−1, 1]. H, W multiples of 4. */
  forward(x: T4): T4 {
    checkSides(x);
    return tf.tidy(() => {
      const h = this.encoder(x, [], false).out;
      return this.decoder(h);
    });
  }

  /**
   * Encoder features at the requested taps, in the order asked; runs only as far as the
   * deepest tap (no decoder work).
   */
  encode(x: T4, taps: readonly NceTap[]): T4[] {
    checkSides(x);
    return tf.tidy(() => this.encoder(x, taps, true).feats);
  }

  private encoder(x: T4, taps: readonly NceTap[], stopEarly: boolean): { out: T4; feats: T4[] } {
    const n = this.names;
    const found = new Map<NceTap, T4>();
    const want = new Set(taps);
    const deepest = stopEarly ? Math.max(-1, ...taps.map(tapDepth)) : Infinity;
    const done = () => found.size === want.size && stopEarly;
    const collect = (tap: NceTap, t: T4) => {
      if (want.has(tap)) found.set(tap, t);
    };
    const result = () => ({ out: x, feats: taps.map((t) => found.get(t) as T4) });

    const p = this.params;
    let h = reflectPad(x, 3); // [B, H+6, W+6, 3]
    collect('input', h);
    if (done() || deepest < 1) return { ...result(), out: h };
    h = this.stage(h, [n.stem], (t) => tf.relu(instanceNorm(conv2d(t, p, n.stem)))); // [B, H, W, ngf]
    h = this.stage(h, [n.down1], (t) => conv2d(t, p, n.down1, 1)); // [B, H, W, 2ngf]
    collect('down1', h);
    if (done()) return result();
    h = this.stage(h, [n.down2], (t) =>
      conv2d(blurDownsample(tf.relu(instanceNorm(t))), p, n.down2, 1),
    ); // [B, H/2, W/2, 4ngf]
    collect('down2', h);
    if (done()) return result();
    h = this.stage(h, [], (t) => blurDownsample(tf.relu(instanceNorm(t)))); // [B, H/4, W/4, 4ngf]
    for (let i = 0; i < this.config.nBlocks; i++) {
      const name = n.block(i);
      h = this.stage(h, [`${name}.1`, `${name}.5`], (t) => this.resBlock(t, i));
      collect(`res${i + 1}`, h);
      if (done()) return result();
    }
    return { out: h, feats: taps.map((t) => found.get(t) as T4) };
  }

  /** One stage between taps, run as `segmentMode` says; `convs` names every conv it uses. */
  private stage(x: T4, convs: string[], fn: Segment): T4 {
    return runStage(this.segmentMode, this.params, convs, fn, x);
  }

  /** x + IN(conv(pad(ReLU(IN(conv(pad(x))))))) — reference ResnetBlock, reflect padding. */
  resBlock(x: T4, i: number): T4 {
    const name = this.names.block(i);
    let h = conv2d(reflectPad(x, 1), this.params, `${name}.1`);
    h = tf.relu(instanceNorm(h));
    h = instanceNorm(conv2d(reflectPad(h, 1), this.params, `${name}.5`));
    return tf.add(x, h);
  }

  private decoder(h: T4): T4 {
    const n = this.names;
    const p = this.params;
    const up = (name: string) => (t: T4) =>
      tf.relu(instanceNorm(conv2d(upsample2x(t), p, name, 1)));
    h = this.stage(h, [n.up1], up(n.up1)); // [B, H/2, W/2, 2ngf]
    h = this.stage(h, [n.up2], up(n.up2)); // [B, H, W, ngf]
    return this.stage(h, [n.head], (t) => tf.tanh(conv2d(reflectPad(t, 3), p, n.head))); // [B, H, W, 3]
  }
}

function checkSides(x: T4): void {
  const [, h, w] = x.shape;
  if (h % 4 !== 0 || w % 4 !== 0) {
    throw new Error(`generator input sides must be multiples of 4, got ${h}×${w}`);
  }
  if (h < 8 || w < 8) throw new Error(`generator input must be at least 8×8, got ${h}×${w}`);
}
