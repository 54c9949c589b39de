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
 *   outputs  `o:<id>`  [1, h, w, C]   passOutputs(pass), each cropped to the tile, except a
 *                                        normalised target that is not stored (reducesTarget)
 *            `mean`, `m2` [1, C, 1, 1]   for a normalised target: its moments over the tile
 *                                        (momentsInGraph), so the caller never sums the map
 */
import { encodeModel, type OnnxNode, type OnnxTensor } from '../export/onnx-proto';
import { ONNX_OPSET } from '../export/onnx-export';
import type { Normaliser } from '../infer/channel-stats';
import {
  IMAGE,
  IMAGE_CHANNELS,
  indexNodes,
  passOutputs,
  type MapNode,
  type Pass,
} from '../infer/stage-plan';
import { passGeometry, sourceIds, wholeCrops, type Crop } from '../infer/tile-geometry';
import { type LocalOp, type MapSize, type Rect } from '../infer/tiling';

/** Torch-layout weights by state-dict name (export/pth-export.ts torchStateDict). */
export type TorchWeights = Map<string, { shape: number[]; data: Float32Array }>;

export const windowInput = (id: string): string => `w:${id}`;
export const meanInput = (id: string): string => `m:${id}`;
export const invStdInput = (id: string): string => `s:${id}`;
export const tileOutput = (id: string): string => `o:${id}`;
export const GEOMETRY = 'geometry';
export const TILE_MEAN = 'mean';
export const TILE_M2 = 'm2';

/**
 * The pass gathers statistics of its target: the graph reduces the target's tile to its
 * moments, on the provider's threads, instead of handing the map to a float64 sum in JavaScript.
 */
export function momentsInGraph(nodes: readonly MapNode[], pass: Pass): boolean {
  return indexNodes(nodes)(pass.target).normalised;
}

/** The pass gathers statistics of a map it does not store: only its moments come back. */
export function reducesTarget(nodes: readonly MapNode[], pass: Pass): boolean {
  return momentsInGraph(nodes, pass) && !pass.write.includes(pass.target);
}

/**
 * The `geometry` input of one tile: the pass's geometry (infer/tile-geometry.ts, the walk
 * TF.js's tile evaluator applies too) as numbers, in the order the graph below reads them —
 * per evaluated map, each source's crop [dy, dx, dy + h, dx + w], each conv's border pads in
 * ONNX order [0, 0, top, left, 0, 0, bottom, right] or each resampler's crop, then the crop
 * to the tile when the map is handed back.
 */
export function stageGeometry(
  nodes: readonly MapNode[],
  pass: Pass,
  tile: Rect,
  windows: Map<string, Rect>,
  size: MapSize,
): Float32Array {
  const out: number[] = [];
  const crop = (c: Crop) => out.push(c.dy, c.dx, c.dy + c.h, c.dx + c.w);
  for (const g of passGeometry(nodes, pass, tile, windows, size)) {
    g.sources.forEach((s) => crop(s.crop));
    for (const op of g.ops) {
      if (op.kind === 'pad') {
        const { y, x } = op.pads;
        out.push(0, 0, y.before, x.before, 0, 0, y.after, x.after);
      } else if (op.kind === 'crop') crop(op.crop);
    }
    if (g.tile) crop(g.tile);
  }
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
  floats(values: number[]): string {
    const key = `f:${values.join(',')}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `c${this.consts.size}`;
      this.inits.push({ name, dims: [values.length], data: Float32Array.from(values) });
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
  /** Passes over the next `n` numbers of `geometry` (a crop the graph knows to be whole). */
  skip(n: number): void {
    this.geometryAt += n;
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
  for (const id of pass.evaluate) sourceIds(byId(id)).forEach((d) => sources.add(d));
  for (const id of [IMAGE, ...pass.read]) {
    if (!sources.has(id)) continue;
    const name = windowInput(id);
    inputs.push({ name, dims: [1, `${name}.h`, `${name}.w`, channelsOf(id)] });
    values.set(id, g.op('Transpose', [name], { perm: [0, 3, 1, 2] }));
  }
  /** The statistics inputs of a normalised map, declared on first use. */
  const stats = (id: string): Fold => {
    if (!normalised.has(id)) {
      normalised.add(id);
      const c = channelsOf(id);
      inputs.push({ name: meanInput(id), dims: [1, c, 1, 1] });
      inputs.push({ name: invStdInput(id), dims: [1, c, 1, 1] });
    }
    return { mean: meanInput(id), invStd: invStdInput(id) };
  };
  const norm = (x: string, id: string): string => {
    const { mean, invStd } = stats(id);
    return g.op('Mul', [g.op('Sub', [x, mean]), invStd]);
  };

  const reduced = reducesTarget(nodes, pass);
  const moments = momentsInGraph(nodes, pass);
  const wanted = new Set(passOutputs(pass));
  const folded = foldedMaps(nodes, pass, wanted);
  // Crops that cut nothing on any tile are left out; their numbers stay in `geometry`.
  const whole = wholeCrops(nodes, pass);
  const cropUnless = (isWhole: boolean, x: string): string => {
    if (!isWhole) return g.crop(x);
    g.skip(4);
    return x;
  };
  // The walk below reads `geometry` in stageGeometry's order: the same numbers, same places.
  for (const id of pass.evaluate) {
    const node = byId(id);
    const take = (dep: string) => {
      const v = values.get(dep);
      if (!v) throw new Error(`stage map ${dep} is not available in this pass`);
      return cropUnless(whole.source(dep), v);
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
        // A folded map comes normalised and rectified already (foldedMaps).
        x = folded.has(src.of) ? take(src.of) : g.op('Relu', [norm(take(src.of), src.of)]);
        break;
      case 'residual': {
        const skip = take(src.skip);
        x = g.op('Add', [skip, norm(take(src.branch), src.branch)]);
        break;
      }
    }
    let channels = channelsOf(sourceIds(node)[0]);
    node.ops.forEach((op, i) => {
      const fold = folded.has(id) && i === node.ops.length - 1 ? stats(id) : undefined;
      x = applyOp(g, op, x, channels, weights, fold);
      if ('outChannels' in op) channels = op.outChannels;
    });
    values.set(id, x);
    if (wanted.has(id)) {
      const tile = cropUnless(whole.tile(id), x); // [1, C, h, w]
      if (id === pass.target && moments) {
        // Two-pass moments in float32 over one tile; tiles merge in float64 (channel-stats.ts).
        const mean = g.op('ReduceMean', [tile], { axes: [2, 3], keepdims: 1 }, TILE_MEAN);
        const d = g.op('Sub', [tile, mean]);
        g.op('ReduceSum', [g.op('Mul', [d, d]), g.ints([2, 3])], { keepdims: 1 }, TILE_M2);
      }
      if (!(id === pass.target && reduced)) {
        g.op('Transpose', [tile], { perm: [0, 2, 3, 1] }, tileOutput(id));
      }
    }
  }
  inputs.push({ name: GEOMETRY, dims: [g.geometryAt] });
  const maps = passOutputs(pass).filter((id) => !(reduced && id === pass.target));
  const momentOutputs = moments
    ? [TILE_MEAN, TILE_M2].map((name) => ({ name, dims: [1, channelsOf(pass.target), 1, 1] }))
    : [];
  return encodeModel({
    name: `patchwork-pass-${pass.target}`,
    nodes: g.nodes,
    initializers: g.inits,
    inputs,
    outputs: [
      ...maps.map((id) => ({
        name: tileOutput(id),
        dims: [1, `${id}.h`, `${id}.w`, channelsOf(id)],
      })),
      ...momentOutputs,
    ],
    opset: ONNX_OPSET,
  });
}

function applyOp(
  g: Builder,
  op: LocalOp,
  x: string,
  channels: number,
  weights: TorchWeights,
  fold?: Fold,
): string {
  switch (op.kind) {
    case 'conv': {
      const padded = g.op('Pad', [x, g.geometry(8)], {
        mode: op.pad === 'zero' ? 'constant' : 'reflect',
      });
      let w = g.param(`${op.layer}.weight`); // [out, in, k, k]
      let b = g.param(`${op.layer}.bias`); // [out]
      if (fold) {
        // ReLU((conv(x) + b − mean) · invStd) = ReLU(conv_{w · invStd}(x) + (b − mean) · invStd)
        const invStd = g.op('Reshape', [fold.invStd, g.ints([-1])]);
        w = g.op('Mul', [w, g.op('Reshape', [fold.invStd, g.ints([-1, 1, 1, 1])])]);
        b = g.op('Mul', [g.op('Sub', [b, g.op('Reshape', [fold.mean, g.ints([-1])])]), invStd]);
      }
      const y = g.op('Conv', [padded, w, b], { pads: [0, 0, 0, 0], strides: [1, 1] });
      return fold ? g.op('Relu', [y]) : y;
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
      // The layer is bilinear ×2 with half-pixel centres and replicated borders (DESIGN.md):
      // Resize computes exactly that on the window, 2–3× faster on the CPU provider than the
      // whole graph's depthwise ConvTranspose over an edge-padded copy (same values to ~1e-7).
      const up = g.op('Resize', [x, '', g.floats([1, 1, 2, 2])], {
        mode: 'linear',
        coordinate_transformation_mode: 'half_pixel',
      }); // [1, C, 2h, 2w]
      return g.crop(up);
    }
    case 'tanh':
      return g.op('Tanh', [x]);
  }
}

/** A normalisation folded into the conv that makes the map: its statistics inputs. */
interface Fold {
  mean: string;
  invStd: string;
}

/**
 * Maps the pass computes only to normalise and rectify (every reader takes ReLU(IN(map)), none
 * hands it back), made by a conv: the norm folds into that conv's weights and bias and the
 * ReLU follows it, instead of a subtract, multiply and ReLU over each reader's window. These
 * are the recomputed full- and half-resolution encoder and decoder maps, the costliest.
 */
function foldedMaps(nodes: readonly MapNode[], pass: Pass, wanted: Set<string>): Set<string> {
  const byId = indexNodes(nodes);
  const uses = new Map<string, string[]>();
  const use = (id: string, how: string) => uses.set(id, [...(uses.get(id) ?? []), how]);
  for (const id of pass.evaluate) {
    const src = byId(id).source;
    if (src.kind === 'map') use(src.of, 'raw');
    else if (src.kind === 'normRelu') use(src.of, 'normRelu');
    else if (src.kind === 'residual') {
      use(src.skip, 'raw');
      use(src.branch, 'norm');
    }
  }
  return new Set(
    pass.evaluate.filter((id) => {
      const how = uses.get(id) ?? [];
      return (
        byId(id).ops.at(-1)?.kind === 'conv' &&
        !wanted.has(id) &&
        how.length > 0 &&
        how.every((h) => h === 'normRelu')
      );
    }),
  );
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
