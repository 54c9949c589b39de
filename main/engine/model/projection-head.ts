/**
 * The projection head H (reference: models/networks.py, PatchSampleF with use_mlp): for each
 * encoder tap, gather the features at the sampled positions (train-step.ts samplePatchIds),
 * the same positions for every image of the batch, run them through Linear → ReLU → Linear
 * and L2-normalise. Queries reuse the keys' positions.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng';
import { getParam, initParams, linear, type ParamSet, type ParamSpec } from './params';

export function projectionHeadSpecs(tapChannels: number[], dim: number): ParamSpec[] {
  return tapChannels.flatMap((c, i) => [
    ...linear(`mlp_${i}.0`, c, dim),
    ...linear(`mlp_${i}.2`, dim, dim),
  ]);
}

export class ProjectionHead {
  constructor(
    readonly tapChannels: number[],
    readonly dim: number,
    readonly params: ParamSet,
  ) {}

  static create(tapChannels: number[], dim: number, initGain: number, rng: Rng): ProjectionHead {
    return new ProjectionHead(
      tapChannels,
      dim,
      initParams(projectionHeadSpecs(tapChannels, dim), initGain, rng),
    );
  }

  /**
   * Features of tap `i` [B, H, W, C] at `ids` → [B·np, dim], unit rows, batch-major.
   * With `useMlp` false the raw features are only gathered and normalised.
   */
  project(i: number, feat: tf.Tensor4D, ids: Int32Array, useMlp = true): tf.Tensor2D {
    return tf.tidy(() => {
      const [b, h, w, c] = feat.shape;
      const flat = tf.reshape(feat, [b, h * w, c]); // [B, HW, C]
      const picked = tf.gather(flat, tf.tensor1d(ids, 'int32'), 1); // [B, np, C]
      let x = tf.reshape(picked, [b * ids.length, c]) as tf.Tensor2D; // [B·np, C]
      if (useMlp) {
        const w0 = getParam(this.params, `mlp_${i}.0.weight`) as tf.Tensor2D;
        const b0 = getParam(this.params, `mlp_${i}.0.bias`);
        const w2 = getParam(this.params, `mlp_${i}.2.weight`) as tf.Tensor2D;
        const b2 = getParam(this.params, `mlp_${i}.2.bias`);
        x = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w0), b0)), w2), b2); // [B·np, dim]
      }
      return l2Normalize(x);
    });
  }
}

/**
 * x / (‖x‖ + 1e-7) per row, as the reference's Normalize layer — except that the norm is
 * √(Σx² + 1e-14): the reference's √ has an infinite derivative at an all-zero row (a dead
 * ReLU layer, a flat patch), which turns the whole step into NaN. The shift is below float32
 * resolution for any row that is not almost zero.
 */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-14)); // [M, 1]
    return tf.div(x, tf.add(norm, 1e-7));
  });
}
