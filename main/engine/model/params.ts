/**
 * Named parameters. Every weight is keyed by the reference's state-dict name
 * (`model.1.weight`, `model.12.conv_block.5.bias`, `mlp_0.2.weight`), so importing a
 * reference checkpoint and exporting one back are pure layout changes. Layouts are TF.js's:
 * conv kernels [kh, kw, Cin, Cout], linear weights [in, out], biases [C].
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng';

export type ParamSet = Map<string, tf.Variable>;

export interface ParamSpec {
  name: string;
  shape: number[];
  kind: 'conv-weight' | 'linear-weight' | 'bias';
}

/** Xavier-normal std for a conv/linear weight in TF layout, as torch computes fan in/out. */
export function xavierStd(shape: number[], gain: number): number {
  let fanIn: number;
  let fanOut: number;
  if (shape.length === 4) {
    const receptive = shape[0] * shape[1];
    fanIn = shape[2] * receptive;
    fanOut = shape[3] * receptive;
  } else {
    fanIn = shape[0];
    fanOut = shape[1];
  }
  return gain * Math.sqrt(2 / (fanIn + fanOut));
}

/**
 * The reference's `init_weights(init_type='xavier', init_gain)`: weights ~ N(0, std²) with the
 * xavier std, biases zero. Drawn from the seeded Rng so a run is reproducible.
 */
export function initParams(specs: ParamSpec[], gain: number, rng: Rng): ParamSet {
  const params: ParamSet = new Map();
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (spec.kind !== 'bias') {
      const std = xavierStd(spec.shape, gain);
      for (let i = 0; i < size; i++) values[i] = rng.normal() * std;
    }
    const name = uniqueName(spec.name);
    params.set(
      spec.name,
      tf.tidy(() => tf.variable(tf.tensor(values, spec.shape), true, name)),
    );
  }
  return params;
}

let counter = 0;
function uniqueName(name: string): string {
  // TF.js variable names are global to the engine; two models may share reference names.
  counter += 1;
  return `${name}#${counter}`;
}

export function getParam(params: ParamSet, name: string): tf.Variable {
  const p = params.get(name);
  if (!p) throw new Error(`missing parameter ${name}`);
  return p;
}

export function disposeParams(params: ParamSet): void {
  for (const v of params.values()) v.dispose();
  params.clear();
}

/** Copy values into existing variables (shapes must match exactly). */
export function assignParams(params: ParamSet, values: Map<string, tf.Tensor>): void {
  for (const [name, v] of params) {
    const src = values.get(name);
    if (!src) throw new Error(`no value for parameter ${name}`);
    if (!tf.util.arraysEqual(src.shape, v.shape)) {
      throw new Error(`parameter ${name}: expected shape [${v.shape}], got [${src.shape}]`);
    }
    v.assign(src);
  }
}

export function conv(name: string, k: number, cin: number, cout: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [k, k, cin, cout], kind: 'conv-weight' },
    { name: `${name}.bias`, shape: [cout], kind: 'bias' },
  ];
}

export function linear(name: string, cin: number, cout: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [cin, cout], kind: 'linear-weight' },
    { name: `${name}.bias`, shape: [cout], kind: 'bias' },
  ];
}
