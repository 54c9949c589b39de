/**
 * SinCUT's discriminator (reference: models/stylegan_networks.py, StyleGAN2Discriminator as
 * SinCUT uses it, without the disabled minibatch-stddev branch): for a square input of side
 * `size` (a power of 2), a 1×1 conv, residual blocks that halve the side down to 4×4, a 3×3
 * conv, and two equalised linear layers to one logit per image.
 *
 *   1×1 conv → bias-act                                  [B, S, S, ch(S)]
 *   log2(S) − 2 residual blocks, blurred stride 2        [B, 4, 4, ch(4)]
 *   3×3 conv → bias-act                                  [B, 4, 4, ch(4)]
 *   flatten (channel-major, as torch) → linear → bias-act → linear      [B, 1]
 *
 * Widths follow the reference's table with ndf/64 as multiplier, capped at 384 below 64².
 * Only ops with twice-differentiable TF.js gradients, run `tidied` (never recomputed: a
 * custom-gradient segment would hide the second derivative R1 needs).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng';
import { getParam, type ParamSet } from './params';
import { runSegment } from './recompute';
import {
  biasAct,
  convLayer,
  convLayerSpecs,
  initEqualised,
  paramsNamed,
  resBlock,
  resBlockSpecs,
  STYLEGAN2_WIDTHS,
  type EqualisedSpec,
} from './stylegan2-layers';

type T4 = tf.Tensor4D;

export interface StyleGan2DiscriminatorConfig {
  ndf: number;
  /** The side it judges (a power of 2, at least 8). */
  size: number;
}

export function styleGan2DWidth(ndf: number, res: number): number {
  const v = Math.trunc(STYLEGAN2_WIDTHS[res] * (ndf / 64));
  return Math.max(1, res <= 32 ? Math.min(384, v) : v);
}

function levels(size: number): number {
  const l = Math.log2(size);
  if (!Number.isInteger(l) || l < 3 || l > 10) {
    throw new RangeError(
      `the discriminator's side must be a power of 2 from 8 to 1024, got ${size}`,
    );
  }
  return l - 2;
}

export function styleGan2DiscriminatorSpecs(cfg: StyleGan2DiscriminatorConfig): EqualisedSpec[] {
  const { ndf, size } = cfg;
  const specs = convLayerSpecs('convs.0', 3, styleGan2DWidth(ndf, size), 1);
  let res = size;
  for (let j = 0; j < levels(size); j++) {
    const cin = styleGan2DWidth(ndf, res);
    const cout = styleGan2DWidth(ndf, res / 2);
    specs.push(...resBlockSpecs(`convs.${1 + j}`, cin, cout, true));
    res /= 2;
  }
  const c4 = styleGan2DWidth(ndf, 4);
  specs.push(...convLayerSpecs('final_conv', c4, c4, 3));
  specs.push(
    { name: 'final_linear.0.weight', shape: [c4 * 16, c4], init: 'normal' },
    { name: 'final_linear.0.bias', shape: [c4], init: 'zero' },
    { name: 'final_linear.1.weight', shape: [c4, 1], init: 'normal' },
    { name: 'final_linear.1.bias', shape: [1], init: 'zero' },
  );
  return specs;
}

export class StyleGan2Discriminator {
  constructor(
    readonly config: StyleGan2DiscriminatorConfig,
    readonly params: ParamSet,
  ) {
    levels(config.size);
  }

  static create(cfg: StyleGan2DiscriminatorConfig, rng: Rng): StyleGan2Discriminator {
    return new StyleGan2Discriminator(cfg, initEqualised(styleGan2DiscriminatorSpecs(cfg), rng));
  }

  /** [B, size, size, 3] → logits [B, 1]. */
  forward(x: T4): tf.Tensor2D {
    const [, h, w] = x.shape;
    const { size } = this.config;
    if (h !== size || w !== size) {
      throw new RangeError(`the discriminator judges ${size}×${size} patches, got ${h}×${w}`);
    }
    return tf.tidy(() => {
      const p = this.params;
      let t = this.stage('convs.0', x, (v) => convLayer(v, p, 'convs.0', 1));
      for (let j = 0; j < levels(size); j++) {
        const name = `convs.${1 + j}`;
        t = this.stage(name, t, (v) => resBlock(v, p, name, true));
      }
      t = this.stage('final_conv', t, (v) => convLayer(v, p, 'final_conv', 3)); // [B, 4, 4, c4]
      const b = t.shape[0];
      // torch flattens NCHW: feature index c·16 + y·4 + x.
      const flat = tf.reshape(tf.transpose(t, [0, 3, 1, 2]), [b, -1]) as tf.Tensor2D;
      return this.linears(flat);
    });
  }

  private linears(flat: tf.Tensor2D): tf.Tensor2D {
    const p = this.params;
    const w0 = getParam(p, 'final_linear.0.weight');
    const w1 = getParam(p, 'final_linear.1.weight');
    const s0 = 1 / Math.sqrt(w0.shape[0]);
    const s1 = 1 / Math.sqrt(w1.shape[0]);
    const h = biasAct(
      tf.matMul(flat, tf.mul(w0, s0) as tf.Tensor2D),
      getParam(p, 'final_linear.0.bias'),
    ) as tf.Tensor2D;
    return tf.add(
      tf.matMul(h, tf.mul(w1, s1) as tf.Tensor2D),
      getParam(p, 'final_linear.1.bias'),
    ) as tf.Tensor2D;
  }

  private stage(prefix: string, x: T4, fn: (t: T4) => T4): T4 {
    return runSegment('tidied', fn, paramsNamed(this.params, prefix), x);
  }
}
