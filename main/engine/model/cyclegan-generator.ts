/**
 * The ResNet generator of CycleGAN (reference: pytorch-CycleGAN-and-pix2pix, models/
 * networks.py, ResnetGenerator with instance norm and no dropout), for translating with
 * imported CycleGAN checkpoints. Same network as CUT's generator except for the sampling:
 * stride-2 convs down, transposed convs (stride 2, padding 1, output_padding 1) up, no blur.
 * Parameter names follow the reference's `model.<index>` layout; NHWC; sides multiples of 4.
 *
 *   pad3 → conv7 → IN → ReLU                                   [B, H, W, ngf]
 *   conv3/2 → IN → ReLU → conv3/2 → IN → ReLU                  [B, H/4, W/4, 4ngf]
 *   N × residual block                                         [B, H/4, W/4, 4ngf]
 *   convT3/2 → IN → ReLU → convT3/2 → IN → ReLU                [B, H, W, ngf]
 *   pad3 → conv7 → tanh                                        [B, H, W, 3]
 */
import * as tf from '@tensorflow/tfjs';
import type { GeneratorConfig } from './generator';
import { conv2d, instanceNorm, reflectPad, type T4 } from './layers';
import { conv, getParam, type ParamSet, type ParamSpec } from './params';

/** Reference layer names (`model.<i>`) of each conv. */
export function cycleganLayerNames(nBlocks: number) {
  return {
    stem: 'model.1',
    down1: 'model.4',
    down2: 'model.7',
    block: (i: number) => `model.${10 + i}.conv_block`,
    up1: `model.${10 + nBlocks}`,
    up2: `model.${13 + nBlocks}`,
    head: `model.${17 + nBlocks}`,
  };
}

/** Transposed convs' kernels in TF.js's conv2dTranspose layout: [kh, kw, Cout, Cin]. */
function convT(name: string, k: number, cin: number, cout: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [k, k, cout, cin], kind: 'conv-weight' },
    { name: `${name}.bias`, shape: [cout], kind: 'bias' },
  ];
}

export function cycleganSpecs(cfg: GeneratorConfig): ParamSpec[] {
  const { ngf, nBlocks } = cfg;
  const n = cycleganLayerNames(nBlocks);
  const specs = [
    ...conv(n.stem, 7, cfg.inputChannels ?? 3, ngf),
    ...conv(n.down1, 3, ngf, 2 * ngf),
    ...conv(n.down2, 3, 2 * ngf, 4 * ngf),
  ];
  for (let i = 0; i < nBlocks; i++) {
    specs.push(...conv(`${n.block(i)}.1`, 3, 4 * ngf, 4 * ngf));
    specs.push(...conv(`${n.block(i)}.5`, 3, 4 * ngf, 4 * ngf));
  }
  specs.push(...convT(n.up1, 3, 4 * ngf, 2 * ngf));
  specs.push(...convT(n.up2, 3, 2 * ngf, ngf));
  specs.push(...conv(n.head, 7, ngf, cfg.outputChannels ?? 3));
  return specs;
}

export class CycleGanGenerator {
  private readonly names: ReturnType<typeof cycleganLayerNames>;

  constructor(
    readonly config: GeneratorConfig,
    readonly params: ParamSet,
  ) {
    this.names = cycleganLayerNames(config.nBlocks);
  }

  /** Translate: [B, H, W, 3] in [−1, 1] → [B, H, W, 3] in [−1, 1]. H, W multiples of 4. */
  forward(x: T4): T4 {
    const [, h, w] = x.shape;
    if (h % 4 !== 0 || w % 4 !== 0 || h < 8 || w < 8) {
      throw new Error(`generator input sides must be multiples of 4 and ≥ 8, got ${h}×${w}`);
    }
    const n = this.names;
    const p = this.params;
    const block = (t: T4) => tf.relu(instanceNorm(t));
    // Layer by layer, each in its own tidy: only the current map stays alive between them,
    // so untiled translation holds a few maps at a time rather than every intermediate.
    const steps: ((t: T4) => T4)[] = [
      (t) => block(conv2d(reflectPad(t, 3), p, n.stem)), // [B, H, W, ngf]
      (t) => block(conv2d(t, p, n.down1, 1, 2)), // [B, H/2, W/2, 2ngf]
      (t) => block(conv2d(t, p, n.down2, 1, 2)), // [B, H/4, W/4, 4ngf]
      ...Array.from({ length: this.config.nBlocks }, (_, i) => (t: T4) => this.resBlock(t, i)),
      (t) => block(transposedConvUp(t, p, n.up1)), // [B, H/2, W/2, 2ngf]
      (t) => block(transposedConvUp(t, p, n.up2)), // [B, H, W, ngf]
      (t) => tf.tanh(conv2d(reflectPad(t, 3), p, n.head)), // [B, H, W, 3]
    ];
    let y = x;
    for (const step of steps) {
      const next = tf.tidy(() => step(y));
      if (y !== x) y.dispose();
      y = next;
    }
    return y;
  }

  private resBlock(x: T4, i: number): T4 {
    const name = this.names.block(i);
    let h = tf.relu(instanceNorm(conv2d(reflectPad(x, 1), this.params, `${name}.1`)));
    h = instanceNorm(conv2d(reflectPad(h, 1), this.params, `${name}.5`));
    return tf.add(x, h);
  }
}

/**
 * ConvTranspose2d(k 3, stride 2, padding 1, output_padding 1): the full transposed conv
 * gives 2H + 1 rows; padding 1 drops the first, output_padding 1 keeps the last, so rows
 * 1 … 2H remain. Tiles use it on windows too (tile-evaluator.ts).
 */
export function transposedConvUp(x: T4, params: ParamSet, name: string): T4 {
  const w = getParam(params, `${name}.weight`) as tf.Tensor4D; // [3, 3, Cout, Cin]
  const b = getParam(params, `${name}.bias`);
  const [bs, h, wd] = x.shape;
  const cout = w.shape[2];
  const full = tf.conv2dTranspose(x, w, [bs, 2 * h + 1, 2 * wd + 1, cout], 2, 'valid');
  return tf.add(tf.slice(full, [0, 1, 1, 0], [-1, 2 * h, 2 * wd, -1]), b); // [B, 2H, 2W, Cout]
}
