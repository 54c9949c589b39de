/**
 * One pass of exact tiled inference (infer/stage-plan.ts) as one ONNX graph, so ONNX Runtime
 * computes each tile with the arithmetic TF.js's tile evaluator (infer/tile-evaluator.ts) uses:
 * the pass's stage maps on their windows, instance norms with whole-image statistics fed in,
 * and every border pad or resampler crop given per tile.
 *
 * The graph is the same for every tile of the pass; what differs between tiles — where a
 * conv's window met the image border and how much it pads there, where a resampler's result is
 * cropped, where each map's window sits inside its source's — is one int64 input, `geometry`,
 * that stageGeometry() fills for a tile and the graph slices its numbers out of. Windows come
 * in and tiles go out as [1, h, w, C] (the feature store's layout); the graph works in NCHW.
 *
 *   inputs   `w:<id>`  [1, h, w, C]   the IMAGE window and every read map's window
 *            `m:<id>`, `s:<id>` [1, C, 1, 1]   mean and 1/std of each normalised source
 *            `geometry` [K]   integers, as float32
 *   outputs  `o:<id>`  [1, h, w, C]   passOutputs(pass), each cropped to the tile
 */
import { encodeModel, type OnnxNode, type OnnxTensor } from '../export/onnx-proto';
import { ONNX_OPSET } from '../export/onnx-export';
import type { Normaliser } from '../infer/channel-stats';
import {
  IMAGE,
  IMAGE_CHANNELS,
  indexNodes,
  passOutputs,
  sourceMaps,
  type MapNode,
  type Pass,
  type Source,
} from '../infer/stage-plan';
import {
  backChain,
  placeSpan,
  scaleRect,
  spanLength,
  type LocalOp,
  type MapSize,
  type Rect,
} from '../infer/tiling';

/** Torch-layout weights by state-dict name (export/pth-export.ts torchStateDict). */
export type TorchWeights = Map<string, { shape: number[]; data: Float32Array }>;

export const windowInput = (id: string): string => `w:${id}`;
export const meanInput = (id: string): string => `m:${id}`;
export const invStdInput = (id: string): string => `s:${id}`;
export const tileOutput = (id: string): string => `o:${id}`;
export const GEOMETRY = 'geometry';

/**
 * The per-tile numbers, in the order the graph reads them. Both the graph builder and
 * stageGeometry walk the pass with this one function, so they cannot disagree.
 */
interface Walker {
  /** A crop of `from` (its window `outer`) to `inner`: [dy, dx, dy + h, dx + w]. */
  crop(from: string, outer: Rect, inner: Rect): void;
  /** A conv's border pads, ONNX order [0, 0, top, left, 0, 0, bottom, right]. */
  pads(node: string, op: number, py: { before: number; after: number }, px: typeof py): void;
  /** Where a resampler's full result is cropped to the output window. */
  offset(node: string, op: number, oy: number, ox: number, h: number, w: number): void;
}

function walkPass(
  nodes: readonly MapNode[],
  pass: Pass,
  tile: Rect,
  windows: Map<string, Rect>,
  size: MapSize,
  w: Walker,
): void {
  const byId = indexNodes(nodes);
  const windowOf = (id: string) => {
    const r = windows.get(id);
    if (!r) throw new Error(`no window for ${id}`);
    return r;
  };
  const wanted = new Set(passOutputs(pass));
  for (const id of pass.evaluate) {
    const node = byId(id);
    const chain = backChain(node.ops, windowOf(id), node.scale, size);
    for (const dep of depsOf(node.source)) w.crop(dep, windowOf(dep), chain.rects[0]);
    node.ops.forEach((op, i) => {
      const inRect = chain.rects[i];
      const outRect = chain.rects[i + 1];
      const py = placeSpan(op, inRect.y, outRect.y);
      const px = placeSpan(op, inRect.x, outRect.x);
      if (op.kind === 'conv' || op.kind === 'convDown') w.pads(id, i, py, px);
      else if (op.kind !== 'tanh') {
        w.offset(id, i, py.offset, px.offset, spanLength(outRect.y), spanLength(outRect.x));
      }
    });
    if (wanted.has(id)) w.crop(id, windowOf(id), scaleRect(tile, node.scale));
  }
}

function depsOf(source: Source): string[] {
  return source.kind === 'image' ? [IMAGE] : sourceMaps(source);
}

/** The `geometry` input of one tile. */
export function stageGeometry(
  nodes: readonly MapNode[],
  pass: Pass,
  tile: Rect,
  windows: Map<string, Rect>,
  size: MapSize,
): Float32Array {
  const out: number[] = [];
  walkPass(nodes, pass, tile, windows, size, {
    crop(_from, outer, inner) {
      const dy = inner.y.start - outer.y.start;
      const dx = inner.x.start - outer.x.start;
      if (dy < 0 || dx < 0 || inner.y.end > outer.y.end || inner.x.end > outer.x.end) {
        throw new Error('tile window does not cover what its consumer needs');
      }
      out.push(dy, dx, dy + spanLength(inner.y), dx + spanLength(inner.x));
    },
    pads(_node, _op, py, px) {
      out.push(0, 0, py.before, px.before, 0, 0, py.after, px.after);
    },
    offset(_node, _op, oy, ox, h, w) {
      out.push(oy, ox, oy + h, ox + w);
    },
  });
  return Float32Array.from(out);
}

/** Graph-building helpers over the exporter's protobuf writer. */
class Builder {
  readonly nodes: OnnxNode[] = [];
  readonly inits: OnnxTensor[] = [];
  private n = 0;
  private readonly consts = new Map<string, string>();
  /** Position in `geometry` of the next number the graph reads. */
  geometryAt = 0;

  constructor(private readonly weights: TorchWeights) {}

  op(op: string, inputs: string[], attrs?: OnnxNode['attrs'], output?: string): string {
    const y = output ?? `t${++this.n}`;
    this.nodes.push({ op, inputs, outputs: [y], attrs });
    return y;
  }
  ints(values: number[]): string {
    const key = values.join(',');
    let name = this.consts.get(key);
    if (!name) {
      name = `c${this.consts.size}`;
      this.inits.push({ name, dims: [values.length], data: BigInt64Array.from(values, BigInt) });
      this.consts.set(key, name);
    }
    return name;
  }
  param(name: string): string {
    if (!this.inits.some((t) => t.name === name)) {
      const w = this.weights.get(name);
      if (!w) throw new Error(`the generator has no tensor ${name}`);
      this.inits.push({ name, dims: w.shape, data: w.data });
    }
    return name;
  }
  private geometryInts: string | null = null;
  /** The next `n` numbers of `geometry`, as an int64 [n] value. */
  geometry(n: number): string {
    const at = this.geometryAt;
    this.geometryAt += n;
    // Fed as float32 (exact for integers below 2^24) and cast once: every input is float.
    this.geometryInts ??= this.op('Cast', [GEOMETRY], { to: 7 });
    return this.op('Slice', [
      this.geometryInts,
      this.ints([at]),
      this.ints([at + n]),
      this.ints([0]),
    ]);
  }
  /** x[:, :, y0:y1, x0:x1] with the four bounds read from `geometry`. */
  crop(x: string): string {
    const starts = this.geometry(2);
    const ends = this.geometry(2);
    return this.op('Slice', [x, starts, ends, this.ints([2, 3])]);
  }
}

/** Depthwise binomial filters of the CUT generator, found by their shape [C, 1, k, k]. */
function blurFilter(weights: TorchWeights, channels: number, k: 3 | 4): string {
  for (const [name, w] of weights) {
    if (name.endsWith('.filt') && w.shape[0] === channels && w.shape[2] === k) return name;
  }
  throw new Error(`the generator has no ${k}×${k} blur filter for ${channels} channels`);
}

/**
 * The pass as an ONNX model. `weights` from torchStateDict: conv weights [out, in, kh, kw],
 * transposed-conv weights [in, out, kh, kw], the CUT blur filters [C, 1, k, k].
 */
export function stageGraph(
  nodes: readonly MapNode[],
  pass: Pass,
  weights: TorchWeights,
): Uint8Array {
  const byId = indexNodes(nodes);
  const g = new Builder(weights);
  const channelsOf = (id: string) => (id === IMAGE ? IMAGE_CHANNELS : byId(id).channels);
  const values = new Map<string, string>(); // map id → NCHW value of its whole window
  const inputs: { name: string; dims: (number | string)[] }[] = [];
  const normalised = new Set<string>();

  const sources = new Set<string>();
  for (const id of pass.evaluate) depsOf(byId(id).source).forEach((d) => sources.add(d));
  for (const id of [IMAGE, ...pass.read]) {
    if (!sources.has(id)) continue;
    const name = windowInput(id);
    inputs.push({ name, dims: [1, `${name}.h`, `${name}.w`, channelsOf(id)] });
    values.set(id, g.op('Transpose', [name], { perm: [0, 3, 1, 2] }));
  }
  const norm = (x: string, id: string): string => {
    if (!normalised.has(id)) {
      normalised.add(id);
      const c = channelsOf(id);
      inputs.push({ name: meanInput(id), dims: [1, c, 1, 1] });
      inputs.push({ name: invStdInput(id), dims: [1, c, 1, 1] });
    }
    return g.op('Mul', [g.op('Sub', [x, meanInput(id)]), invStdInput(id)]);
  };

  const outputs: string[] = [];
  const wanted = new Set(passOutputs(pass));
  // The walk below mirrors walkPass: the same numbers in the same order.
  for (const id of pass.evaluate) {
    const node = byId(id);
    const take = (dep: string) => {
      const v = values.get(dep);
      if (!v) throw new Error(`stage map ${dep} is not available in this pass`);
      return g.crop(v);
    };
    const src = node.source;
    let x: string;
    switch (src.kind) {
      case 'image':
        x = take(IMAGE);
        break;
      case 'map':
        x = take(src.of);
        break;
      case 'normRelu':
        x = g.op('Relu', [norm(take(src.of), src.of)]);
        break;
      case 'residual': {
        const skip = take(src.skip);
        x = g.op('Add', [skip, norm(take(src.branch), src.branch)]);
        break;
      }
    }
    let channels = src.kind === 'image' ? IMAGE_CHANNELS : channelsOf(depsOf(src)[0]);
    for (const op of node.ops) {
      x = applyOp(g, op, x, channels, weights);
      if ('outChannels' in op) channels = op.outChannels;
    }
    values.set(id, x);
    if (wanted.has(id)) {
      const out = tileOutput(id);
      g.op('Transpose', [g.crop(x)], { perm: [0, 2, 3, 1] }, out);
      outputs.push(id);
    }
  }
  inputs.push({ name: GEOMETRY, dims: [g.geometryAt] });
  const order = passOutputs(pass);
  return encodeModel({
    name: `patchwork-pass-${pass.target}`,
    nodes: g.nodes,
    initializers: g.inits,
    inputs,
    outputs: order.map((id) => ({
      name: tileOutput(id),
      dims: [1, `${id}.h`, `${id}.w`, channelsOf(id)],
    })),
    opset: ONNX_OPSET,
  });
}

function applyOp(
  g: Builder,
  op: LocalOp,
  x: string,
  channels: number,
  weights: TorchWeights,
): string {
  switch (op.kind) {
    case 'conv': {
      const padded = g.op('Pad', [x, g.geometry(8)], {
        mode: op.pad === 'zero' ? 'constant' : 'reflect',
      });
      return g.op('Conv', [padded, g.param(`${op.layer}.weight`), g.param(`${op.layer}.bias`)], {
        pads: [0, 0, 0, 0],
        strides: [1, 1],
      });
    }
    case 'convDown': {
      const padded = g.op('Pad', [x, g.geometry(8)], { mode: 'constant' });
      return g.op('Conv', [padded, g.param(`${op.layer}.weight`), g.param(`${op.layer}.bias`)], {
        pads: [0, 0, 0, 0],
        strides: [2, 2],
      });
    }
    case 'convUp': {
      const full = g.op(
        'ConvTranspose',
        [x, g.param(`${op.layer}.weight`), g.param(`${op.layer}.bias`)],
        { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] },
      ); // [1, C, 2h, 2w]
      return g.crop(full);
    }
    case 'blurDown': {
      const padded = g.op('Pad', [x, g.ints([0, 0, 1, 1, 0, 0, 1, 1])], { mode: 'reflect' });
      const down = g.op('Conv', [padded, g.param(blurFilter(weights, channels, 3))], {
        group: channels,
        strides: [2, 2],
        pads: [0, 0, 0, 0],
      });
      return g.crop(down);
    }
    case 'upsample': {
      const padded = g.op('Pad', [x, g.ints([0, 0, 1, 1, 0, 0, 1, 1])], { mode: 'edge' });
      const up = g.op('ConvTranspose', [padded, g.param(blurFilter(weights, channels, 4))], {
        group: channels,
        strides: [2, 2],
        pads: [2, 2, 2, 2],
      }); // [1, C, 2h + 2, 2w + 2]: the layer's result sits at offset 1
      const inner = g.op('Slice', [up, g.ints([1, 1]), g.ints([-1, -1]), g.ints([2, 3])]);
      return g.crop(inner);
    }
    case 'tanh':
      return g.op('Tanh', [x]);
  }
}

/** The statistics inputs of a pass: mean and 1/std of every normalised source. */
export function normFeeds(
  pass: Pass,
  nodes: readonly MapNode[],
  norms: Map<string, Normaliser>,
): Map<string, Float32Array> {
  const byId = indexNodes(nodes);
  const out = new Map<string, Float32Array>();
  for (const id of pass.evaluate) {
    const src = byId(id).source;
    const ids = src.kind === 'normRelu' ? [src.of] : src.kind === 'residual' ? [src.branch] : [];
    for (const n of ids) {
      const norm = norms.get(n);
      if (!norm) throw new Error(`statistics of ${n} are not ready`);
      out.set(meanInput(n), norm.mean);
      out.set(invStdInput(n), norm.invStd);
    }
  }
  return out;
}
