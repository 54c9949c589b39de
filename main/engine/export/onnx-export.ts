/**
 * A style's generator as an ONNX model (opset 17, IR 8; SinCUT's StyleGAN2 generator in
 * onnx-stylegan2.ts, with a noise input): input `input` [N, 3, H, W] in
 * [−1, 1], output `output` [N, 3, H, W]; N, H and W are dynamic, H and W must be multiples
 * of 4 (reflect-pad and crop around it, as Patchwork does). Weights are the torch layouts of
 * the PyTorch export, which are ONNX's (Conv [out, in, kh, kw], ConvTranspose
 * [in, out, kh, kw]).
 *
 *   CUT:      Pad(reflect 3) Conv7 IN ReLU │ Conv3 IN ReLU Pad(reflect 1) blur-Conv/2 │ ×2
 *             blocks │ Pad(edge 1) blur-ConvTranspose/2 Slice Conv3 IN ReLU │ ×2 │ Pad Conv7 Tanh
 *   CycleGAN: Pad Conv7 IN ReLU │ Conv3/2 IN ReLU │ ×2 │ blocks │ ConvT3/2 IN ReLU │ ×2 │ … Tanh
 */
import type { NceTap } from '../../../shared/options';
import { architectureOf, type StyleGenerator } from '../model/style-generator';
import { generatorLayerNames, ResnetGenerator, tapChannels } from '../model/generator';
import { cycleganLayerNames } from '../model/cyclegan-generator';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import { Graph, ONNX_OPSET, tapOutputValues, type TapOutputs } from './onnx-graph';
import { encodeModel } from './onnx-proto';
import { exportStyleGan2Onnx } from './onnx-stylegan2';
import { torchStateDict } from './pth-export';

export { ONNX_OPSET };

/** Any generator Patchwork exports: a CUT or CycleGAN style's, or SinCUT's StyleGAN2. */
export type ExportableGenerator = StyleGenerator | StyleGan2Generator;

/** Order of CUT's taps along the encoder (input, down1, down2, res1 …). */
function cutTapDepth(tap: NceTap): number {
  if (tap === 'input') return 0;
  if (tap === 'down1') return 1;
  if (tap === 'down2') return 2;
  return 2 + Number(tap.slice(3));
}

/**
 * CUT's encoder to its deepest tap with each tap's map as a graph output (onnx-graph.ts
 * TapOutputs): the taps of ResnetGenerator.encode, on the input padded to
 * multiples of 4 (`input` is the reflect-padded image, `down1`/`down2` the convs before their
 * instance norms).
 */
export function exportCutEncoderOnnx(G: ResnetGenerator, taps: TapOutputs): Buffer {
  const entries = torchStateDict(G);
  const graph = new Graph(new Map(entries.map((e) => [e.name, e])));
  const { ngf, nBlocks } = G.config;
  const n = generatorLayerNames(nBlocks);
  const deepest = Math.max(0, ...taps.map(cutTapDepth));
  let y = graph.pad('input', 3, 'reflect'); // [N, 3, H+6, W+6]
  graph.tap(taps, 'input', y);
  if (deepest >= 1) {
    y = graph.inRelu(graph.conv(y, n.stem), ngf);
    y = graph.conv(y, n.down1, { pad: 1 }); // [N, 2ngf, H, W]
    graph.tap(taps, 'down1', y);
  }
  if (deepest >= 2) {
    y = blurDown(graph, graph.inRelu(y, 2 * ngf), 'model.7.filt', 2 * ngf);
    y = graph.conv(y, n.down2, { pad: 1 }); // [N, 4ngf, H/2, W/2]
    graph.tap(taps, 'down2', y);
  }
  if (deepest >= 3) {
    y = blurDown(graph, graph.inRelu(y, 4 * ngf), 'model.11.filt', 4 * ngf); // [N, 4ngf, H/4, W/4]
    for (let i = 0; i < nBlocks && i + 3 <= deepest; i++) {
      y = graph.resBlock(y, n.block(i), 4 * ngf);
      graph.tap(taps, `res${i + 1}`, y);
    }
  }
  return encodeModel({
    name: 'patchwork-cut-resnet-encoder',
    nodes: graph.nodes,
    initializers: graph.inits,
    inputs: [{ name: 'input', dims: ['batch', 3, 'height', 'width'] }],
    outputs: tapOutputValues(taps, (t) => tapChannels(t, ngf)),
    opset: ONNX_OPSET,
    docString: `Patchwork cut-resnet encoder (ngf ${ngf}, ${nBlocks} blocks): taps ${taps.join(', ')} as NHWC maps.`,
  });
}

/** Reflect-pad 1, depthwise 3×3 binomial filter, stride 2. */
function blurDown(graph: Graph, t: string, filt: string, c: number): string {
  return graph.op('Conv', [graph.pad(t, 1, 'reflect'), graph.param(filt)], {
    group: c,
    strides: [2, 2],
    pads: [0, 0, 0, 0],
  });
}

/** The ONNX model's bytes (SinCUT's StyleGAN2 generator: onnx-stylegan2.ts). */
export function exportOnnx(g: ExportableGenerator): Buffer {
  if (g instanceof StyleGan2Generator) return exportStyleGan2Onnx(g);
  const architecture = architectureOf(g);
  const entries = torchStateDict(g);
  const graph = new Graph(new Map(entries.map((e) => [e.name, e])));
  const { ngf, nBlocks } = g.config;
  const x = 'input';
  let y: string;
  if (architecture === 'cut-resnet') {
    const n = generatorLayerNames(nBlocks);
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
    y = blurDown(graph, y, 'model.7.filt', 2 * ngf);
    y = graph.inRelu(graph.conv(y, n.down2, { pad: 1 }), 4 * ngf);
    y = blurDown(graph, y, 'model.11.filt', 4 * ngf);
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
