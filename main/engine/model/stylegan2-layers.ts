/**
 * The StyleGAN2-style building blocks that SinCUT's networks are made of (reference:
 * models/stylegan_networks.py, after Karras et al. 2020): equalised learning-rate convs
 * (weights drawn N(0, 1), scaled by 1/√fan_in when used), bias + leaky ReLU(0.2) × √2, the
 * [1,3,3,1] FIR blur with explicit zero padding, blurred stride-2 downsampling, residual
 * blocks that divide by √2, and the demodulated, noise-injected upsampling conv.
 *
 * Everything here is built from ops whose TF.js gradients are themselves differentiable
 * (pad, slice, add, mul, conv2d, leakyRelu, reshape, transpose, matMul) and no custom-gradient
 * op, so the discriminator's input gradient can be differentiated again (the R1 penalty).
 * NHWC; conv weights [kh, kw, Cin, Cout]; parameter names are the reference's state-dict keys.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng';
import { getParam, type ParamSet } from './params';

/**
 * The reference's channel widths per resolution at width multiplier 1 (stylegan_networks.py's
 * `channels` table), which both networks scale by their ngf/ndf.
 */
export const STYLEGAN2_WIDTHS: Readonly<Record<number, number>> = {
  4: 4096,
  8: 2048,
  16: 1024,
  32: 512,
  64: 256,
  128: 128,
  256: 64,
  512: 32,
  1024: 16,
};

type T4 = tf.Tensor4D;

export const SQRT2 = Math.SQRT2;

/** A parameter and how it starts: N(0, 1) (equalised weights) or a constant. */
export interface EqualisedSpec {
  name: string;
  shape: number[];
  init: 'normal' | 'zero';
}

let counter = 0;

/** Variables for `specs`, drawn from the seeded Rng (the reference's own init, not xavier). */
export function initEqualised(specs: EqualisedSpec[], rng: Rng): ParamSet {
  const params: ParamSet = new Map();
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (s.init === 'normal') for (let i = 0; i < size; i++) values[i] = rng.normal();
    counter += 1;
    params.set(
      s.name,
      tf.tidy(() => tf.variable(tf.tensor(values, s.shape), true, `${s.name}#sg${counter}`)),
    );
  }
  return params;
}

/** Spec of one ConvLayer (the reference's Sequential: [blur,] conv, [bias-act]). */
export function convLayerSpecs(
  name: string,
  cin: number,
  cout: number,
  k: number,
  down = false,
  act = true,
): EqualisedSpec[] {
  const ci = down ? 1 : 0;
  const specs: EqualisedSpec[] = [
    { name: `${name}.${ci}.weight`, shape: [k, k, cin, cout], init: 'normal' },
  ];
  if (act) specs.push({ name: `${name}.${ci + 1}.bias`, shape: [cout], init: 'zero' });
  return specs;
}

/** Specs of a residual block; the skip path has a 1×1 conv when it downsamples or widens. */
export function resBlockSpecs(name: string, cin: number, cout: number, down: boolean) {
  const specs = [
    ...convLayerSpecs(`${name}.conv1`, cin, cin, 3),
    ...convLayerSpecs(`${name}.conv2`, cin, cout, 3, down),
  ];
  if (down || cin !== cout)
    specs.push(...convLayerSpecs(`${name}.skip`, cin, cout, 1, down, false));
  return specs;
}

/** The variables one ConvLayer / residual block reads, for runSegment. */
export function paramsNamed(params: ParamSet, prefix: string): tf.Variable[] {
  return [...params.entries()].filter(([n]) => n.startsWith(`${prefix}.`)).map(([, v]) => v);
}

const FIR = [1 / 8, 3 / 8, 3 / 8, 1 / 8];

/**
 * Zero-pad by (pad0, pad1) on both spatial axes, then the separable [1,3,3,1]/8 filter along
 * each (times √gain per axis, so `gain` overall): side n → n + pad0 + pad1 − 3.
 */
export function blur(x: T4, pad0: number, pad1: number, gain = 1): T4 {
  return tf.tidy(() => {
    const g = Math.sqrt(gain);
    const padded = tf.pad(x, [
      [0, 0],
      [pad0, pad1],
      [pad0, pad1],
      [0, 0],
    ]);
    return firAxis(firAxis(padded, 1, g), 2, g);
  });
}

/** out[i] = g·Σ_t FIR[t]·x[i + t] along `axis` (1 = H, 2 = W). */
function firAxis(x: T4, axis: 1 | 2, g: number): T4 {
  const n = x.shape[axis] - 3;
  const taps = FIR.map((k, t) => {
    const begin = [0, 0, 0, 0];
    const size = [-1, -1, -1, -1];
    begin[axis] = t;
    size[axis] = n;
    return tf.mul(tf.slice(x, begin, size), k * g);
  });
  return tf.addN(taps) as T4;
}

/** Equalised conv: the weight times 1/√(k·k·Cin), no bias. `pad` zero-pads every side. */
export function equalConv(x: T4, w: tf.Tensor, stride: number, pad: number): T4 {
  const [kh, kw, cin] = w.shape;
  const scaled = tf.mul(w, 1 / Math.sqrt(kh * kw * cin)) as tf.Tensor4D;
  return tf.conv2d(x, scaled, stride, pad === 0 ? 'valid' : pad);
}

/**
 * leaky_relu(x + b, 0.2)·√2 (the reference's FusedLeakyReLU), b broadcast over channels.
 * Written as (0.6·v + 0.4·|v|)·√2: TF.js's LeakyRelu gradient goes through a `greater` mask
 * that has no gradient of its own, so it cannot be differentiated twice; Abs's can (its mask
 * is a `step`, whose gradient is zero). Same values, same slope 0.2 at 0 as torch.
 */
export function biasAct(x: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const v = tf.add(x, b);
  return tf.add(tf.mul(v, 0.6 * SQRT2), tf.mul(tf.abs(v), 0.4 * SQRT2));
}

/**
 * The reference's ConvLayer: [blur → stride-2 valid conv] or a same-size zero-padded conv,
 * then bias + scaled leaky ReLU when `act`. [B, H, W, Cin] → [B, H or H/2, W or W/2, Cout].
 */
export function convLayer(
  x: T4,
  params: ParamSet,
  name: string,
  k: number,
  down = false,
  act = true,
): T4 {
  const ci = down ? 1 : 0;
  const w = getParam(params, `${name}.${ci}.weight`);
  let y: T4;
  if (down) {
    const p = 2 + (k - 1); // (taps − factor) + (k − 1)
    y = equalConv(blur(x, (p + 1) >> 1, p >> 1), w, 2, 0);
  } else {
    y = equalConv(x, w, 1, k >> 1);
  }
  return act ? (biasAct(y, getParam(params, `${name}.${ci + 1}.bias`)) as T4) : y;
}

/** (conv2(conv1(x)) + skip(x)) / √2, the skip a blurred 1×1 conv when the side or width changes. */
export function resBlock(x: T4, params: ParamSet, name: string, down: boolean): T4 {
  let out = convLayer(x, params, `${name}.conv1`, 3);
  out = convLayer(out, params, `${name}.conv2`, 3, down);
  const skip = params.has(`${name}.skip.${down ? 1 : 0}.weight`)
    ? convLayer(x, params, `${name}.skip`, 1, down, false)
    : x;
  return tf.div(tf.add(out, skip), SQRT2) as T4;
}

/** Specs of the upsampling StyledConv: demodulated weight, noise strength, bias. */
export function styledUpConvSpecs(name: string, cin: number, cout: number): EqualisedSpec[] {
  return [
    { name: `${name}.conv.weight`, shape: [3, 3, cin, cout], init: 'normal' },
    { name: `${name}.noise.weight`, shape: [1], init: 'zero' },
    { name: `${name}.activate.bias`, shape: [cout], init: 'zero' },
  ];
}

/**
 * The weight scaled by 1/√fan_in with each output filter brought to unit norm,
 * rsqrt(Σ w² + 1e-8) (demodulation with the style fixed to ones). [3, 3, Cin, Cout].
 */
export function demodulate(w: tf.Tensor): tf.Tensor4D {
  const [kh, kw, cin] = w.shape;
  const ws = tf.mul(w, 1 / Math.sqrt(kh * kw * cin));
  const d = tf.rsqrt(tf.add(tf.sum(tf.square(ws), [0, 1, 2]), 1e-8)); // [Cout]
  return tf.mul(ws, d) as tf.Tensor4D;
}

/**
 * Upsampling StyledConv: the demodulated 3×3 conv transposed at stride 2 (side 2n + 1), the
 * FIR with gain 4 and pad (1, 1) (side 2n), + strength·noise, then bias + scaled leaky ReLU.
 * `noise` [B, 2H, 2W, 1] is one value per output pixel, shared by the channels.
 */
export function styledUpConv(x: T4, params: ParamSet, name: string, noise: T4 | null): T4 {
  const w = demodulate(getParam(params, `${name}.conv.weight`)); // [3, 3, Cin, Cout]
  const [b, h, wd] = x.shape;
  const cout = w.shape[3];
  const filter = tf.transpose(w, [0, 1, 3, 2]) as tf.Tensor4D; // [3, 3, Cout, Cin]
  const up = tf.conv2dTranspose(x, filter, [b, 2 * h + 1, 2 * wd + 1, cout], 2, 'valid');
  let y: tf.Tensor = blur(up, 1, 1, 4); // [B, 2H, 2W, Cout]
  if (noise) y = tf.add(y, tf.mul(getParam(params, `${name}.noise.weight`), noise));
  return biasAct(y, getParam(params, `${name}.activate.bias`)) as T4;
}
