/**
 * SinCUT's StyleGAN2 generator (model/stylegan2-generator.ts) as an ONNX graph, opset 17:
 * inputs `input` [N, 3, H, W] in [−1, 1] and `noise` [N, 1, H, W] (one standard normal per
 * pixel, shared by the channels: Patchwork feeds its position-based noise,
 * positional-noise.ts; zeros give the noise-free output), output `output` [N, 3, H, W], not
 * clamped (the last layer is a scaled leaky ReLU, as in the reference; clamp to [−1, 1]).
 * N, H and W are dynamic; H and W must be even.
 *
 *   Conv1 LReLU │ res-down: Conv3 LReLU, blur Conv3/2 LReLU ‖ blur Conv1/2, (a+b)/√2 │ blocks
 *   │ ConvTranspose3/2 (demodulated) blur·4 + s·noise, LReLU │ Conv1 LReLU
 *
 * The equalised learning rate's 1/√fan_in, the demodulation and the bias-act's √2 (leaky ReLU
 * is positively homogeneous: lrelu(z)·√2 = lrelu(√2·z)) are folded into the weights, so a
 * layer is one Conv and one LeakyRelu. The [1,3,3,1] FIR blur is a depthwise 4×4 conv with
 * the zero padding as its pads. With `taps` the graph ends at the deepest tap and outputs each
 * tap's map instead (onnx-graph.ts TapOutputs).
 */
import type { NceTap } from '../../../shared/options';
import { StyleGan2Generator, styleGan2TapChannels } from '../model/stylegan2-generator';
import { Graph, ONNX_OPSET, tapOutputValues, type TapOutputs } from './onnx-graph';
import { encodeModel, type OnnxValue } from './onnx-proto';

const FIR = [1, 3, 3, 1].map((v) => v / 8);

class StyleGan2Graph extends Graph {
  constructor(private readonly G: StyleGan2Generator) {
    super();
  }

  private weight(name: string): { shape: number[]; data: Float32Array } {
    const v = this.G.params.get(name);
    if (!v) throw new Error(`the generator has no parameter ${name}`);
    return { shape: v.shape, data: v.dataSync() as Float32Array };
  }

  /** Depthwise FIR over C channels, zero padding (p0 before, p1 after), times `gain`. */
  blur(x: string, c: number, p0: number, p1: number, gain: number): string {
    const k = new Float32Array(c * 16);
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) k[ch * 16 + i * 4 + j] = FIR[i] * FIR[j] * gain;
    }
    const w = this.floats(`fir_${c}_${gain}`, k, [c, 1, 4, 4]);
    return this.op('Conv', [x, w], { group: c, pads: [p0, p0, p1, p1], strides: [1, 1] });
  }

  /** The reference's ConvLayer: [blur, stride 2] or same-size conv; bias-act when `act`. */
  convLayer(x: string, name: string, k: number, down = false, act = true): string {
    const ci = down ? 1 : 0;
    const { shape, data } = this.weight(`${name}.${ci}.weight`); // [k, k, Cin, Cout]
    const [, , cin, cout] = shape;
    const scale = (1 / Math.sqrt(k * k * cin)) * (act ? Math.SQRT2 : 1);
    const w = this.floats(`${name}.${ci}.weight`, torchKernel(data, shape, scale), [
      cout,
      cin,
      k,
      k,
    ]);
    const inputs = [w];
    if (act) {
      const b = this.weight(`${name}.${ci + 1}.bias`).data.map((v) => v * Math.SQRT2);
      inputs.push(this.floats(`${name}.${ci + 1}.bias`, b, [cout]));
    }
    let y: string;
    if (down) {
      const p = 2 + (k - 1);
      const blurred = this.blur(x, cin, (p + 1) >> 1, p >> 1, 1);
      y = this.op('Conv', [blurred, ...inputs], { strides: [2, 2], pads: [0, 0, 0, 0] });
    } else {
      const p = k >> 1;
      y = this.op('Conv', [x, ...inputs], { strides: [1, 1], pads: [p, p, p, p] });
    }
    return act ? this.op('LeakyRelu', [y], { alpha: { float: 0.2 } }) : y;
  }

  styledResBlock(x: string, name: string, down: boolean): string {
    let out = this.convLayer(x, `${name}.conv1`, 3);
    out = this.convLayer(out, `${name}.conv2`, 3, down);
    const skip = this.G.params.has(`${name}.skip.${down ? 1 : 0}.weight`)
      ? this.convLayer(x, `${name}.skip`, 1, down, false)
      : x;
    return this.op('Mul', [this.op('Add', [out, skip]), this.scalar(Math.SQRT1_2)]);
  }

  /** Demodulated transposed conv ×2, blur with gain 4, + strength·noise, bias-act. */
  styledUpConv(x: string, name: string, noise: string): string {
    const { shape, data } = this.weight(`${name}.conv.weight`); // [3, 3, Cin, Cout]
    const [kh, kw, cin, cout] = shape;
    const fan = 1 / Math.sqrt(kh * kw * cin);
    const demod = new Float64Array(cout);
    for (let i = 0; i < data.length; i++) demod[i % cout] += (data[i] * fan) ** 2;
    // ConvTranspose weight [Cin, Cout, kh, kw]
    const w = new Float32Array(data.length);
    for (let y = 0; y < kh; y++) {
      for (let xx = 0; xx < kw; xx++) {
        for (let i = 0; i < cin; i++) {
          for (let o = 0; o < cout; o++) {
            const v = data[((y * kw + xx) * cin + i) * cout + o] * fan;
            w[((i * cout + o) * kh + y) * kw + xx] = v / Math.sqrt(demod[o] + 1e-8);
          }
        }
      }
    }
    const up = this.op(
      'ConvTranspose',
      [x, this.floats(`${name}.conv.weight`, w, [cin, cout, kh, kw])],
      {
        strides: [2, 2],
        pads: [0, 0, 0, 0],
      },
    ); // [N, Cout, 2h + 1, 2w + 1]
    let y = this.blur(up, cout, 1, 1, 4 * Math.SQRT2); // [N, Cout, 2h, 2w], ×√2 of the bias-act
    const s = this.weight(`${name}.noise.weight`).data[0] * Math.SQRT2;
    y = this.op('Add', [y, this.op('Mul', [noise, this.scalar(s)])]);
    const b = this.weight(`${name}.activate.bias`).data.map((v) => v * Math.SQRT2);
    y = this.op('Add', [y, this.floats(`${name}.activate.bias`, b, [1, cout, 1, 1])]);
    return this.op('LeakyRelu', [y], { alpha: { float: 0.2 } });
  }
}

/** TF.js [k, k, Cin, Cout] → ONNX/torch [Cout, Cin, k, k], times `scale`. */
function torchKernel(data: Float32Array, shape: number[], scale: number): Float32Array {
  const [kh, kw, cin, cout] = shape;
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) {
          out[((o * cin + i) * kh + y) * kw + x] =
            data[((y * kw + x) * cin + i) * cout + o] * scale;
        }
      }
    }
  }
  return out;
}

/** The taps' depth along the encoder: input, down1, res1 … */
function depth(tap: NceTap): number {
  if (tap === 'input') return 0;
  if (tap === 'down1') return 1;
  return 1 + Number(tap.slice(3));
}

/**
 * The model's bytes: the whole generator, or with `taps` the encoder to the deepest tap with
 * each tap's map as an output (no `noise` input then).
 */
export function exportStyleGan2Onnx(G: StyleGan2Generator, taps?: TapOutputs): Buffer {
  const g = new StyleGan2Graph(G);
  const n = G.names;
  const { c0, c1, nBlocks } = G.config;
  const deepest = taps ? Math.max(0, ...taps.map(depth)) : Infinity;
  const inputs: OnnxValue[] = [{ name: 'input', dims: ['batch', 3, 'height', 'width'] }];
  let outputs: OnnxValue[];
  g.tap(taps, 'input', 'input');
  if (deepest > 0) {
    let h = g.convLayer('input', n.stem, 1); // [N, c0, H, W]
    h = g.styledResBlock(h, n.down, true); // [N, c1, H/2, W/2]
    g.tap(taps, 'down1', h);
    for (let i = 0; i < n.half && i + 2 <= deepest; i++) {
      h = g.styledResBlock(h, n.encoderBlock(i), false);
      g.tap(taps, `res${i + 1}`, h);
    }
    if (!taps) {
      for (let i = 0; i < n.half; i++) h = g.styledResBlock(h, n.decoderBlock(i), false);
      inputs.push({ name: 'noise', dims: ['batch', 1, 'height', 'width'] });
      h = g.styledUpConv(h, n.up, 'noise'); // [N, c0, H, W]
      const rgb = g.convLayer(h, n.rgb, 1); // [N, 3, H, W]
      g.nodes.push({ op: 'Identity', inputs: [rgb], outputs: ['output'] });
    }
  }
  if (taps) outputs = tapOutputValues(taps, (t) => styleGan2TapChannels(t, { c1 }));
  else outputs = [{ name: 'output', dims: ['batch', 3, 'height', 'width'] }];
  return encodeModel({
    name: taps ? 'patchwork-stylegan2-encoder' : 'patchwork-stylegan2',
    nodes: g.nodes,
    initializers: g.inits,
    inputs,
    outputs,
    opset: ONNX_OPSET,
    docString:
      `Patchwork SinCUT StyleGAN2 generator (widths ${c0}/${c1}, ${nBlocks} blocks). ` +
      (taps
        ? `Encoder taps ${taps.join(', ')} as NHWC maps.`
        : 'Input NCHW RGB in [-1, 1] and noise [N, 1, H, W] (standard normal, zeros for none); ' +
          'output NCHW RGB, clamp to [-1, 1]; height and width must be even.'),
  });
}
