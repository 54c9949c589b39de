/**
 * A style's generator as an ONNX model (opset 17, IR 8): input `input` [N, 3, H, W] in
 * [−1, 1], output `output` [N, 3, H, W]; N, H and W are dynamic, H and W must be multiples
 * of 4 (reflect-pad and crop around it, as Patchwork does). Weights are the torch layouts of
 * the PyTorch export, which are ONNX's (Conv [out, in, kh, kw], ConvTranspose
 * [in, out, kh, kw]).
 *
 *   CUT:      Pad(reflect 3) Conv7 IN ReLU │ Conv3 IN ReLU Pad(reflect 1) blur-Conv/2 │ ×2
 *             blocks │ Pad(edge 1) blur-ConvTranspose/2 Slice Conv3 IN ReLU │ ×2 │ Pad Conv7 Tanh
 *   CycleGAN: Pad Conv7 IN ReLU │ Conv3/2 IN ReLU │ ×2 │ blocks │ ConvT3/2 IN ReLU │ ×2 │ … Tanh
 */
import { architectureOf, type StyleGenerator } from '../model/style-generator';
import { generatorLayerNames } from '../model/generator';
import { cycleganLayerNames } from '../model/cyclegan-generator';
import { encodeModel, type OnnxNode, type OnnxTensor } from './onnx-proto';
import { torchStateDict } from './pth-export';

export const ONNX_OPSET = 17;

class Graph {
  readonly nodes: OnnxNode[] = [];
  readonly inits: OnnxTensor[] = [];
  private n = 0;
  private readonly consts = new Map<string, string>();

  constructor(private readonly weights: Map<string, { shape: number[]; data: Float32Array }>) {}

  private out(): string {
    return `t${++this.n}`;
  }
  op(op: string, inputs: string[], attrs?: OnnxNode['attrs']): string {
    const y = this.out();
    this.nodes.push({ op, inputs, outputs: [y], attrs });
    return y;
  }
  /** An int64 constant, shared by name. */
  ints(values: number[]): string {
    const key = values.join(',');
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
  floats(name: string, values: Float32Array, dims: number[]): string {
    if (!this.inits.some((t) => t.name === name)) this.inits.push({ name, dims, data: values });
    return name;
  }
  /** A parameter of the state dict, as an initializer under its reference name. */
  param(name: string): string {
    const w = this.weights.get(name);
    if (!w) throw new Error(`no tensor ${name}`);
    return this.floats(name, w.data, w.shape);
  }
  pad(x: string, p: number, mode: 'reflect' | 'edge'): string {
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
}

/** The ONNX model's bytes. */
export function exportOnnx(g: StyleGenerator): Buffer {
  const architecture = architectureOf(g);
  const entries = torchStateDict(g);
  const graph = new Graph(new Map(entries.map((e) => [e.name, e])));
  const { ngf, nBlocks } = g.config;
  const x = 'input';
  let y: string;
  if (architecture === 'cut-resnet') {
    const n = generatorLayerNames(nBlocks);
    const blurDown = (t: string, filt: string, c: number) =>
      graph.op('Conv', [graph.pad(t, 1, 'reflect'), graph.param(filt)], {
        group: c,
        strides: [2, 2],
        pads: [0, 0, 0, 0],
      });
    const blurUp = (t: string, filt: string, c: number) => {
      const up = graph.op('ConvTranspose', [graph.pad(t, 1, 'edge'), graph.param(filt)], {
        group: c,
        strides: [2, 2],
        pads: [2, 2, 2, 2],
      }); // [N, C, 2H+2, 2W+2]
      return graph.op('Slice', [up, graph.ints([1, 1]), graph.ints([-1, -1]), graph.ints([2, 3])]);
    };
    y = graph.inRelu(graph.conv(graph.pad(x, 3, 'reflect'), n.stem), ngf);
    y = graph.inRelu(graph.conv(y, n.down1, { pad: 1 }), 2 * ngf);
    y = blurDown(y, 'model.7.filt', 2 * ngf);
    y = graph.inRelu(graph.conv(y, n.down2, { pad: 1 }), 4 * ngf);
    y = blurDown(y, 'model.11.filt', 4 * ngf);
    for (let i = 0; i < nBlocks; i++) y = graph.resBlock(y, n.block(i), 4 * ngf);
    y = blurUp(y, `model.${12 + nBlocks}.filt`, 4 * ngf);
    y = graph.inRelu(graph.conv(y, n.up1, { pad: 1 }), 2 * ngf);
    y = blurUp(y, `model.${16 + nBlocks}.filt`, 2 * ngf);
    y = graph.inRelu(graph.conv(y, n.up2, { pad: 1 }), ngf);
    y = graph.conv(graph.pad(y, 3, 'reflect'), n.head);
  } else {
    const n = cycleganLayerNames(nBlocks);
    const upConv = (t: string, name: string) =>
      graph.op('ConvTranspose', [t, graph.param(`${name}.weight`), graph.param(`${name}.bias`)], {
        strides: [2, 2],
        pads: [1, 1, 1, 1],
        output_padding: [1, 1],
      });
    y = graph.inRelu(graph.conv(graph.pad(x, 3, 'reflect'), n.stem), ngf);
    y = graph.inRelu(graph.conv(y, n.down1, { pad: 1, stride: 2 }), 2 * ngf);
    y = graph.inRelu(graph.conv(y, n.down2, { pad: 1, stride: 2 }), 4 * ngf);
    for (let i = 0; i < nBlocks; i++) y = graph.resBlock(y, n.block(i), 4 * ngf);
    y = graph.inRelu(upConv(y, n.up1), 2 * ngf);
    y = graph.inRelu(upConv(y, n.up2), ngf);
    y = graph.conv(graph.pad(y, 3, 'reflect'), n.head);
  }
  graph.nodes.push({ op: 'Tanh', inputs: [y], outputs: ['output'] });
  return encodeModel({
    name: `patchwork-${architecture}`,
    nodes: graph.nodes,
    initializers: graph.inits,
    inputs: [{ name: 'input', dims: ['batch', 3, 'height', 'width'] }],
    outputs: [{ name: 'output', dims: ['batch', 3, 'height', 'width'] }],
    opset: ONNX_OPSET,
    docString:
      `Patchwork ${architecture} generator (ngf ${ngf}, ${nBlocks} blocks). Input and output ` +
      'NCHW RGB in [-1, 1]; height and width must be multiples of 4.',
  });
}
