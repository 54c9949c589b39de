/**
 * The building blocks of the reference's networks (models/networks.py: ResnetBlock,
 * Downsample, Upsample, instance norm), written once against TF.js ops in NHWC. Only ops
 * whose gradients every backend has (slice, concat, pad, reshape, arithmetic, conv2d) are used,
 * so training runs on `wasm`, `cpu`, `tensorflow` and `webgpu` alike.
 */
import * as tf from '@tensorflow/tfjs';
import { getParam, type ParamSet } from './params';

export type T4 = tf.Tensor4D;

/** Conv with bias; `pad` zero-pads every side (the reference's `padding=`). */
export function conv2d(x: T4, params: ParamSet, name: string, pad = 0, stride = 1): T4 {
  const w = getParam(params, `${name}.weight`) as tf.Tensor4D;
  const b = getParam(params, `${name}.bias`);
  const y = tf.conv2d(x, w, stride, pad === 0 ? 'valid' : pad);
  return tf.add(y, b);
}

/**
 * Instance norm without affine parameters: biased variance, eps 1e-5 (torch defaults). One
 * op with its closed-form gradient, dx = (dy − mean(dy) − y·mean(dy·y)) / σ, so the tape keeps
 * only y and 1/σ instead of every intermediate of the moments (at 256² and ngf 64 that is
 * the difference between a training step fitting wasm's 4 GiB heap or not).
 */
export function instanceNorm(x: T4, eps = 1e-5): T4 {
  return instanceNormOp(eps)(x) as T4;
}

const instanceNormCache = new Map<number, (x: tf.Tensor) => tf.Tensor>();
function instanceNormOp(eps: number): (x: tf.Tensor) => tf.Tensor {
  let op = instanceNormCache.get(eps);
  if (!op) {
    op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor4D;
      const save = args[1] as tf.GradSaveFunc;
      const { mean, variance } = tf.moments(x, [1, 2], true); // [N, 1, 1, C]
      const rstd = tf.rsqrt(tf.add(variance, eps));
      const y = tf.mul(tf.sub(x, mean), rstd); // [N, H, W, C]
      save([y, rstd]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [yy, r] = saved;
          const meanDy = tf.mean(dy, [1, 2], true);
          const meanDyY = tf.mean(tf.mul(dy, yy), [1, 2], true);
          return tf.mul(tf.sub(tf.sub(dy, meanDy), tf.mul(yy, meanDyY)), r);
        },
      };
    }) as (x: tf.Tensor) => tf.Tensor;
    instanceNormCache.set(eps, op);
  }
  return op;
}

/**
 * Reflect padding with a correct gradient. TF.js 4.22's MirrorPad gradient only slices the
 * centre out of dy and drops what the reflected border contributed, so the border gradient
 * is folded back here by hand.
 */
export function reflectPad(x: T4, p: number): T4 {
  if (p === 0) return x;
  return reflectPadOps(p)(x) as T4;
}

const reflectCache = new Map<number, (x: tf.Tensor) => tf.Tensor>();
function reflectPadOps(p: number): (x: tf.Tensor) => tf.Tensor {
  let op = reflectCache.get(p);
  if (!op) {
    op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor;
      const value = tf.mirrorPad(
        x as T4,
        [
          [0, 0],
          [p, p],
          [p, p],
          [0, 0],
        ],
        'reflect',
      );
      return { value, gradFunc: (dy: tf.Tensor) => foldReflect(foldReflect(dy, 2, p), 1, p) };
    }) as (x: tf.Tensor) => tf.Tensor;
    reflectCache.set(p, op);
  }
  return op;
}

/** Adjoint of reflect padding along one axis: padded row j < p is input row p − j. */
function foldReflect(dy: tf.Tensor, axis: 1 | 2, p: number): tf.Tensor {
  const n = (dy.shape as number[])[axis] - 2 * p;
  const centre = sliceAxis(dy, axis, p, n);
  const top = tf.reverse(sliceAxis(dy, axis, 0, p), axis); // → input rows 1..p
  const bottom = tf.reverse(sliceAxis(dy, axis, p + n, p), axis); // → rows n−1−p..n−2
  return tf.addN([centre, padAxis(top, axis, 1, n - 1 - p), padAxis(bottom, axis, n - 1 - p, 1)]);
}

export function sliceAxis<T extends tf.Tensor>(x: T, axis: number, begin: number, size: number): T {
  const b = x.shape.map(() => 0);
  const s = x.shape.map(() => -1);
  b[axis] = begin;
  s[axis] = size;
  return tf.slice(x, b, s);
}

function padAxis(x: tf.Tensor, axis: number, before: number, after: number): tf.Tensor {
  const pads = x.shape.map(() => [0, 0] as [number, number]);
  pads[axis] = [before, after];
  return tf.pad(x, pads);
}

/**
 * The reference's anti-aliased downsampling (Downsample, filt_size 3): reflect-pad 1, then a
 * per-channel [1,2,1]⊗[1,2,1]/16 filter at stride 2. Written as two separable passes of
 * even/odd slices (ops every backend has), as one op with its adjoint as gradient: the map is
 * linear, so the backward pass needs no saved tensor, and the tape holds nothing of the
 * slices.
 */
export function blurDownsample(x: T4): T4 {
  return blurDownsampleOp(x) as T4;
}

const blurDownsampleOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as T4;
  const [, h, w] = x.shape;
  const value = tf.tidy(() => {
    const padded = reflectPad(x, 1); // [N, H+2, W+2, C]
    // Each pass in its own tidy: its temporaries are freed before the next one runs.
    const rows = tf.tidy(() => blurStride2(padded, 1));
    return tf.tidy(() => blurStride2(rows, 2));
  });
  return {
    value,
    gradFunc: (dy: tf.Tensor) =>
      tf.tidy(() => {
        const cols = tf.tidy(() => blurStride2Adjoint(dy, 2, w + 2));
        const rows = tf.tidy(() => blurStride2Adjoint(cols, 1, h + 2));
        return foldReflect(foldReflect(rows, 2, 1), 1, 1);
      }),
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** out[i] = (x[2i] + 2·x[2i+1] + x[2i+2]) / 4 along `axis` (1 = H, 2 = W) of an NHWC tensor. */
function blurStride2(x: tf.Tensor, axis: 1 | 2): tf.Tensor {
  const [n, h, w, c] = x.shape as number[];
  const len = (x.shape as number[])[axis];
  const out = Math.floor((len - 3) / 2) + 1;
  const need = 2 * out + 2;
  const grown = need > len ? padAxis(x, axis, 0, need - len) : sliceAxis(x, axis, 0, need);
  // Pair up rows (or columns): [.., out+1, 2, ..] so even and odd taps are plain slices.
  const pairs =
    axis === 1
      ? tf.reshape(grown, [n, out + 1, 2, w * c]) // [N, out+1, 2, W·C]
      : tf.reshape(grown, [n * h, out + 1, 2, c]); // [N·H, out+1, 2, C]
  const even = tf.slice(pairs, [0, 0, 0, 0], [-1, out + 1, 1, -1]);
  const odd = tf.slice(pairs, [0, 0, 1, 0], [-1, out, 1, -1]);
  const e0 = sliceAxis(even, 1, 0, out);
  const e1 = sliceAxis(even, 1, 1, out);
  const sum = tf.mul(tf.addN([e0, e1, tf.mul(odd, 2)]), 0.25);
  return axis === 1 ? tf.reshape(sum, [n, out, w, c]) : tf.reshape(sum, [n, h, out, c]);
}

/**
 * The adjoint of `blurStride2` for an input of length `len` along `axis`: input position 2i
 * receives (dy[i−1] + dy[i]) / 4 and 2i + 1 receives dy[i] / 2.
 */
function blurStride2Adjoint(dy: tf.Tensor, axis: 1 | 2, len: number): tf.Tensor {
  const [n, h, w, c] = dy.shape as number[];
  const out = (dy.shape as number[])[axis];
  const need = 2 * out + 2;
  const around = padAxis(dy, axis, 1, 1); // dy[−1] … dy[out], zero at both ends
  const even = tf.mul(
    tf.add(sliceAxis(around, axis, 0, out + 1), sliceAxis(around, axis, 1, out + 1)),
    0.25,
  ); // positions 0, 2, …, 2·out
  const odd = tf.mul(padAxis(dy, axis, 0, 1), 0.5); // positions 1, 3, …; the last one is 0
  const [e, o] =
    axis === 1
      ? [tf.reshape(even, [n, out + 1, 1, w * c]), tf.reshape(odd, [n, out + 1, 1, w * c])]
      : [tf.reshape(even, [n * h, out + 1, 1, c]), tf.reshape(odd, [n * h, out + 1, 1, c])];
  const shape = [n, h, w, c];
  shape[axis] = need;
  const full = tf.reshape(tf.concat([e, o], 2), shape);
  // The forward pass zero-padded (need > len) or dropped (need < len) the input's tail.
  return need > len ? sliceAxis(full, axis, 0, len) : padAxis(full, axis, 0, len - need);
}

/**
 * The reference's Upsample (filt_size 4, replicate pad, transposed conv, crop), which equals
 * bilinear ×2 with half-pixel centres and clamped edges: out[2i] = ¼x[i−1] + ¾x[i],
 * out[2i+1] = ¾x[i] + ¼x[i+1]. Separable; each pass interleaves two slices. One op with its
 * adjoint as gradient (linear: nothing saved for the backward pass).
 */
export function upsample2x(x: T4): T4 {
  return upsample2xOp(x) as T4;
}

const upsample2xOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as T4;
  const value = tf.tidy(() => {
    const rows = tf.tidy(() => upsampleAxis(x, 1));
    return tf.tidy(() => upsampleAxis(rows, 2));
  });
  return {
    value,
    gradFunc: (dy: tf.Tensor) =>
      tf.tidy(() => {
        const cols = tf.tidy(() => upsampleAxisAdjoint(dy, 2));
        return tf.tidy(() => upsampleAxisAdjoint(cols, 1));
      }),
  };
}) as (x: tf.Tensor) => tf.Tensor;

function upsampleAxis(x: tf.Tensor, axis: 1 | 2): tf.Tensor {
  const [n, h, w, c] = x.shape as number[];
  const len = (x.shape as number[])[axis];
  const first = sliceAxis(x, axis, 0, 1);
  const last = sliceAxis(x, axis, len - 1, 1);
  const padded = tf.concat([first, x, last], axis); // replicate pad 1
  const prev = sliceAxis(padded, axis, 0, len);
  const cur = sliceAxis(padded, axis, 1, len);
  const next = sliceAxis(padded, axis, 2, len);
  const even = tf.add(tf.mul(prev, 0.25), tf.mul(cur, 0.75));
  const odd = tf.add(tf.mul(cur, 0.75), tf.mul(next, 0.25));
  if (axis === 1) {
    const e = tf.reshape(even, [n, h, 1, w * c]);
    const o = tf.reshape(odd, [n, h, 1, w * c]);
    return tf.reshape(tf.concat([e, o], 2), [n, 2 * h, w, c]);
  }
  const e = tf.reshape(even, [n * h, w, 1, c]);
  const o = tf.reshape(odd, [n * h, w, 1, c]);
  return tf.reshape(tf.concat([e, o], 2), [n, h, 2 * w, c]);
}

/**
 * The adjoint of `upsampleAxis`: with ge = g[2i], go = g[2i+1],
 * dx[i] = ¾(ge[i] + go[i]) + ¼(ge[i+1] + go[i−1]), where the clamped edges turn ge[len] into
 * go[len−1] and go[−1] into ge[0].
 */
function upsampleAxisAdjoint(g: tf.Tensor, axis: 1 | 2): tf.Tensor {
  const [n, h2, w2, c] = g.shape as number[];
  const len = (g.shape as number[])[axis] / 2;
  const pairs =
    axis === 1 ? tf.reshape(g, [n, len, 2, w2 * c]) : tf.reshape(g, [n * h2, len, 2, c]);
  const shape = [n, h2, w2, c];
  shape[axis] = len;
  const ge = tf.reshape(tf.slice(pairs, [0, 0, 0, 0], [-1, -1, 1, -1]), shape);
  const go = tf.reshape(tf.slice(pairs, [0, 0, 1, 0], [-1, -1, 1, -1]), shape);
  const centre = tf.mul(tf.add(ge, go), 0.75);
  if (len === 1) return tf.add(centre, tf.mul(tf.add(ge, go), 0.25));
  const next = tf.concat([sliceAxis(ge, axis, 1, len - 1), sliceAxis(go, axis, len - 1, 1)], axis);
  const prev = tf.concat([sliceAxis(ge, axis, 0, 1), sliceAxis(go, axis, 0, len - 1)], axis);
  return tf.add(centre, tf.mul(tf.add(next, prev), 0.25));
}
