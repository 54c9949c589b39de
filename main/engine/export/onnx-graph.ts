/**
 * A small builder for the ONNX graphs the exporters write (onnx-export.ts for CUT and
 * CycleGAN, onnx-stylegan2.ts for SinCUT's StyleGAN2 generator): nodes with generated value
 * names, initializers (named weights, shared int64 and float constants), and the pieces every
 * graph uses — padding, convolution with a bias, instance norm — plus the projection head and
 * L2 normalisation that the heatmap graphs end their taps with.
 */
import type { NceTap } from '../../../shared/options';
import { encodeModel, type OnnxNode, type OnnxTensor, type OnnxValue } from './onnx-proto';

export const ONNX_OPSET = 17;

/** A weight in torch layout (conv [out, in, kh, kw], linear as the engine keeps it). */
export interface GraphWeight {
  shape: number[];
  data: Float32Array;
}

/** The projection head's MLP of one tap, engine layouts (linear weights [in, out]). */
export interface TapMlp {
  w0: GraphWeight;
  b0: GraphWeight;
  w2: GraphWeight;
  b2: GraphWeight;
}

/**
 * Encoder taps as graph outputs (for heatmaps): each tap named `tap_<name>`, NHWC
 * [batch, h, w, C], the raw map the TF.js encoder returns; the graph then ends at the deepest
 * tap. Rows of a map go through the head graph (exportHeadOnnx) to become unit features.
 */
export type TapOutputs = readonly NceTap[];

export function tapOutputName(tap: NceTap): string {
  return `tap_${tap}`;
}

/** Graph outputs for the taps: [batch, h, w, C] with symbolic h and w. */
export function tapOutputValues(taps: TapOutputs, channels: (tap: NceTap) => number): OnnxValue[] {
  return taps.map((tap) => ({
    name: tapOutputName(tap),
    dims: ['batch', `${tap}_height`, `${tap}_width`, channels(tap)],
  }));
}

/**
 * The heatmap's head: feature rows `rows` [n, C] → unit rows `unit` [n, dim], through the
 * projection head's MLP for one tap (Linear → ReLU → Linear) when given, then
 * x / (√(Σx² + 1e-14) + 1e-7) per row, as projection-head.ts computes them in training.
 */
export function exportHeadOnnx(channels: number, mlp: TapMlp | null): Buffer {
  const g = new Graph();
  const h = mlp ? g.mlp('rows', 'mlp', mlp) : 'rows';
  g.l2NormalizeLast(h, 'unit');
  const dim = mlp ? mlp.w2.shape[1] : channels;
  return encodeModel({
    name: 'patchwork-heatmap-head',
    nodes: g.nodes,
    initializers: g.inits,
    inputs: [{ name: 'rows', dims: ['n', channels] }],
    outputs: [{ name: 'unit', dims: ['n', dim] }],
    opset: ONNX_OPSET,
  });
}

export class Graph {
  readonly nodes: OnnxNode[] = [];
  readonly inits: OnnxTensor[] = [];
  private n = 0;
  private readonly consts = new Map<string, string>();
  private readonly names = new Set<string>();

  constructor(private readonly weights: Map<string, GraphWeight> = new Map()) {}

  private out(): string {
    return `t${++this.n}`;
  }
  op(op: string, inputs: string[], attrs?: OnnxNode['attrs']): string {
    const y = this.out();
    this.nodes.push({ op, inputs, outputs: [y], attrs });
    return y;
  }
  /** An op whose output is a named graph value (a graph output). */
  named(name: string, op: string, inputs: string[], attrs?: OnnxNode['attrs']): string {
    this.nodes.push({ op, inputs, outputs: [name], attrs });
    return name;
  }
  /** An int64 constant, shared by value. */
  ints(values: number[]): string {
    const key = `i${values.join(',')}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `const_${this.consts.size}`;
      this.inits.push({
        name,
        dims: [values.length],
        data: BigInt64Array.from(values.map(BigInt)),
      });
      this.consts.set(key, name);
    }
    return name;
  }
  /** A float scalar constant (shape [1], broadcasts), shared by value. */
  scalar(value: number): string {
    const key = `f${value}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `const_${this.consts.size}`;
      this.inits.push({ name, dims: [1], data: Float32Array.of(value) });
      this.consts.set(key, name);
    }
    return name;
  }
  floats(name: string, values: Float32Array, dims: number[]): string {
    if (!this.names.has(name)) {
      this.names.add(name);
      this.inits.push({ name, dims, data: values });
    }
    return name;
  }
  /** A parameter of the state dict, as an initializer under its reference name. */
  param(name: string): string {
    const w = this.weights.get(name);
    if (!w) throw new Error(`no tensor ${name}`);
    return this.floats(name, w.data, w.shape);
  }
  pad(x: string, p: number, mode: 'reflect' | 'edge' | 'constant'): string {
    return this.op('Pad', [x, this.ints([0, 0, p, p, 0, 0, p, p])], { mode });
  }
  conv(x: string, name: string, opts: { pad?: number; stride?: number } = {}): string {
    const p = opts.pad ?? 0;
    return this.op('Conv', [x, this.param(`${name}.weight`), this.param(`${name}.bias`)], {
      pads: [p, p, p, p],
      strides: [opts.stride ?? 1, opts.stride ?? 1],
    });
  }
  inorm(x: string, c: number): string {
    const scale = this.floats(`in_scale_${c}`, new Float32Array(c).fill(1), [c]);
    const bias = this.floats(`in_bias_${c}`, new Float32Array(c), [c]);
    return this.op('InstanceNormalization', [x, scale, bias], { epsilon: { float: 1e-5 } });
  }
  inRelu(x: string, c: number): string {
    return this.op('Relu', [this.inorm(x, c)]);
  }
  resBlock(x: string, name: string, c: number): string {
    let h = this.inRelu(this.conv(this.pad(x, 1, 'reflect'), `${name}.1`), c);
    h = this.inorm(this.conv(this.pad(h, 1, 'reflect'), `${name}.5`), c);
    return this.op('Add', [x, h]);
  }
  /**
   * x / (√(Σx² + 1e-14) + 1e-7) along the last axis: the engine's l2Normalize
   * (projection-head.ts), so unit rows match the TF.js path.
   */
  l2NormalizeLast(x: string, output: string): string {
    const ss = this.op('ReduceSumSquare', [x], { axes: [-1], keepdims: 1 });
    const norm = this.op('Sqrt', [this.op('Add', [ss, this.scalar(1e-14)])]);
    return this.named(output, 'Div', [x, this.op('Add', [norm, this.scalar(1e-7)])]);
  }
  /** Emits a tap's map as the NHWC graph output `tap_<name>`, when `taps` has it. */
  tap(taps: TapOutputs | undefined, tap: NceTap, x: string): void {
    if (taps?.includes(tap))
      this.named(tapOutputName(tap), 'Transpose', [x], { perm: [0, 2, 3, 1] });
  }
  /**
   * The projection head's MLP for one tap over rows (Linear → ReLU → Linear): [n, C] →
   * [n, dim]. Weights in the engine's linear layout [in, out].
   */
  mlp(x: string, prefix: string, { w0, b0, w2, b2 }: TapMlp): string {
    let h = this.op('MatMul', [x, this.floats(`${prefix}.0.weight`, w0.data, w0.shape)]);
    h = this.op('Relu', [this.op('Add', [h, this.floats(`${prefix}.0.bias`, b0.data, b0.shape)])]);
    h = this.op('MatMul', [h, this.floats(`${prefix}.2.weight`, w2.data, w2.shape)]);
    return this.op('Add', [h, this.floats(`${prefix}.2.bias`, b2.data, b2.shape)]);
  }
}
