// The layers are rewritten from slices and pads (for backend coverage), so each is checked
// against TF.js's own direct op on the cpu backend, values and gradients.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  blurDownsample,
  instanceNorm,
  reflectPad,
  upsample2x,
} from '../../../../main/engine/model/layers';

function rand(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  return tf.randomUniform(shape, -1, 1, 'float32', seed) as tf.Tensor4D;
}

/** d/dx of a scalar-valued f, typed for NHWC inputs. */
function gradOf(f: (t: tf.Tensor4D) => tf.Tensor, x: tf.Tensor4D): tf.Tensor {
  return tf.grad((t: tf.Tensor) => f(t as tf.Tensor4D))(x);
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Reflect padding by gather, whose gradient (a scatter-add) is right on cpu. */
function reflectIndex(n: number, p: number): number[] {
  return Array.from({ length: n + 2 * p }, (_, i) => {
    const j = i - p;
    return j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j;
  });
}
function gatherPad(x: tf.Tensor4D, p: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  const rows = tf.gather(x, reflectIndex(h, p), 1);
  return tf.gather(rows, reflectIndex(w, p), 2) as tf.Tensor4D;
}

/** The 2n×n matrix of bilinear ×2 with half-pixel centres and clamped edges. */
function upMatrix(n: number): tf.Tensor2D {
  const m = Array.from({ length: 2 * n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    m[2 * i][Math.max(i - 1, 0)] += 0.25;
    m[2 * i][i] += 0.75;
    m[2 * i + 1][i] += 0.75;
    m[2 * i + 1][Math.min(i + 1, n - 1)] += 0.25;
  }
  return tf.tensor2d(m);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('reflectPad', () => {
  it.each([
    [1, 5, 7],
    [3, 8, 12],
    [1, 2, 3],
  ])('pad %i on %i×%i: values and gradient equal a gather-based reflect pad', (p, h, w) => {
    const x = rand([2, h, w, 3], 1);
    const r = rand([2, h + 2 * p, w + 2 * p, 3], 2);
    expect(maxDiff(reflectPad(x, p), gatherPad(x, p))).toBeLessThan(1e-7);
    const g1 = gradOf((t) => tf.sum(tf.mul(reflectPad(t, p), r)), x);
    const g2 = gradOf((t) => tf.sum(tf.mul(gatherPad(t, p), r)), x);
    expect(maxDiff(g1, g2)).toBeLessThan(1e-5);
  });
});

describe('upsample2x', () => {
  it('equals bilinear ×2 with half-pixel centres', () => {
    const x = rand([2, 5, 7, 4], 3);
    const direct = tf.image.resizeBilinear(x, [10, 14], false, true);
    expect(maxDiff(upsample2x(x), direct)).toBeLessThan(1e-6);
  });

  // TF.js 4.22's cpu ResizeBilinearGrad is no reference (wrong shape for non-square images,
  // wrong values with half-pixel centres), so the gradient is checked against the same map
  // written as matrices: out = U_h · x · U_wᵀ per image and channel.
  it.each([
    [5, 7],
    [1, 3],
    [2, 1],
  ])('%i×%i: has the gradient of bilinear ×2 (its hand-written adjoint)', (h, w) => {
    const x = rand([2, h, w, 4], 3);
    const uh = upMatrix(h);
    const uw = upMatrix(w);
    const direct = (t: tf.Tensor4D) => {
      const nchw = tf.transpose(t, [0, 3, 1, 2]); // [N, C, H, W]
      const y = tf.matMul(tf.matMul(tf.broadcastTo(uh, [2, 4, 2 * h, h]), nchw), uw, false, true);
      return tf.transpose(y, [0, 2, 3, 1]);
    };
    expect(maxDiff(upsample2x(x), direct(x))).toBeLessThan(1e-6);
    const r = rand([2, 2 * h, 2 * w, 4], 4);
    const g1 = gradOf((t) => tf.sum(tf.mul(upsample2x(t), r)), x);
    const g2 = gradOf((t) => tf.sum(tf.mul(direct(t), r)), x);
    expect(maxDiff(g1, g2)).toBeLessThan(1e-5);
  });
});

describe('blurDownsample', () => {
  const filter1d = [1, 2, 1];
  const taps = filter1d.flatMap((a) => filter1d.map((b) => (a * b) / 16));
  it.each([
    [8, 12],
    [7, 9],
    [255, 6],
    [2, 3],
  ])(
    '%i×%i equals a depthwise [1,2,1]² / 16 stride-2 filter on the reflect-padded input',
    (h, w) => {
      const c = 3;
      const x = rand([2, h, w, c], 5);
      const f = tf.tensor4d(
        taps.flatMap((t) => Array(c).fill(t)),
        [3, 3, c, 1],
      );
      const direct = (t: tf.Tensor4D) => tf.depthwiseConv2d(gatherPad(t, 1), f, 2, 'valid');
      const got = blurDownsample(x);
      expect(got.shape).toEqual(direct(x).shape);
      expect(maxDiff(got, direct(x))).toBeLessThan(1e-6);
      const r = tf.randomUniform(got.shape, -1, 1, 'float32', 6);
      const g1 = gradOf((t) => tf.sum(tf.mul(blurDownsample(t), r)), x);
      const g2 = gradOf((t) => tf.sum(tf.mul(direct(t), r)), x);
      expect(maxDiff(g1, g2)).toBeLessThan(1e-5);
    },
  );
});

describe('instanceNorm', () => {
  it('normalises each image and channel over space (biased variance)', () => {
    const x = tf.add(tf.mul(rand([2, 6, 5, 3], 7), 4), 2) as tf.Tensor4D;
    const y = instanceNorm(x);
    const { mean, variance } = tf.moments(y, [1, 2]);
    expect(tf.max(tf.abs(mean)).dataSync()[0]).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(tf.sub(variance, 1))).dataSync()[0]).toBeLessThan(1e-3);
  });
});
