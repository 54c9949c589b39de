/**
 * A small builder for the ONNX graphs the exporters write (onnx-export.ts for CUT and
 * CycleGAN, onnx-stylegan2.ts for SinCUT's StyleGAN2 generator): nodes with generated value
 * names, initializers (named weights, shared int64 and float constants), and the pieces every
 * graph uses — padding, convolution with a bias, instance norm — plus the projection head and
 * L2 normalisation that the heatmap graphs end their taps with.
 */
import type { NceTap } from '../../../shared/options';
import type { OnnxNode, OnnxTensor, OnnxValue } from './onnx-proto';

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
 * Encoder taps as graph outputs (for heatmaps): each tap named `tap_<name>`, NHWC, every
 * position's feature projected by the tap's MLP (when `mlp` gives one) and brought to unit
 * length — the rows a heatmap compares. The graph then ends at the deepest tap.
 */
export interface TapOutputs {
  taps: readonly NceTap[];
  /** The tap's MLP, or null for raw features (only L2-normalised). */
  mlp: (tap: NceTap) => TapMlp | null;
}

export function tapOutputName(tap: NceTap): string {
  return `tap_${tap}`;
}

/** Graph outputs for the taps: [batch, h, w, dim] with symbolic h and w. */
export function tapOutputValues(spec: TapOutputs, channels: (tap: NceTap) => number): OnnxValue[] {
  return spec.taps.map((tap) => ({
    name: tapOutputName(tap),
    dims: ['batch', `${tap}_height`, `${tap}_width`, spec.mlp(tap)?.w2.shape[1] ?? channels(tap)],
  }));
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
  /** NCHW → NHWC. */
  toNhwc(x: string): string {
    return this.op('Transpose', [x], { perm: [0, 2, 3, 1] });
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
  /** Emits a tap's unit rows (see TapOutputs) from its NCHW map, when the spec asks for it. */
  tap(spec: TapOutputs | undefined, tap: NceTap, x: string): void {
    if (!spec?.taps.includes(tap)) return;
    let h = this.toNhwc(x); // [1, H, W, C]
    const m = spec.mlp(tap);
    if (m) h = this.mlp(h, `mlp_${tap}`, m); // [1, H, W, dim]
    this.l2NormalizeLast(h, tapOutputName(tap));
  }
  /**
   * The projection head's MLP for one tap over every position of an NHWC map (Linear → ReLU →
   * Linear; MatMul broadcasts over [1, H, W]): [1, H, W, C] → [1, H, W, dim]. Weights in the
   * engine's linear layout [in, out].
   */
  mlp(x: string, prefix: string, { w0, b0, w2, b2 }: TapMlp): string {
    let h = this.op('MatMul', [x, this.floats(`${prefix}.0.weight`, w0.data, w0.shape)]);
    h = this.op('Relu', [this.op('Add', [h, this.floats(`${prefix}.0.bias`, b0.data, b0.shape)])]);
    h = this.op('MatMul', [h, this.floats(`${prefix}.2.weight`, w2.data, w2.shape)]);
    return this.op('Add', [h, this.floats(`${prefix}.2.bias`, b2.data, b2.shape)]);
  }
}
