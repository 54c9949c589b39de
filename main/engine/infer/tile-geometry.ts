/**
 * Where everything of one tile of one pass sits (DESIGN.md, "High resolution without seams"):
 * for each map the pass evaluates, the crop of each source map's window to what its chain
 * needs, each op's border pads or resampler crop, and the crop of its window to the tile when
 * the pass hands it back. The one walk of a pass's geometry: TF.js's tile evaluator
 * (tile-evaluator.ts) applies it with the layer code, ONNX Runtime's pass graphs
 * (onnx/stage-graph.ts) are fed it as numbers, so the two engines cannot place a tile apart.
 */
import { IMAGE, indexNodes, passOutputs, sourceMaps, type MapNode, type Pass } from './stage-plan';
import {
  backChain,
  placeSpan,
  scaleRect,
  spanLength,
  type LocalOp,
  type MapSize,
  type Rect,
} from './tiling';

/** A window cut out of a larger one: offset inside it and size. */
export interface Crop {
  dy: number;
  dx: number;
  h: number;
  w: number;
  /** The crop is the whole window. */
  whole: boolean;
}

/** Border pads of a conv (non-zero only at the image border), rows and columns. */
export interface Pads {
  y: { before: number; after: number };
  x: { before: number; after: number };
}

export type OpPlacement =
  /** conv / convDown: pad the sides where the window met the image border, then 'valid'. */
  | { kind: 'pad'; pads: Pads }
  /** Resamplers: their whole result, cropped to the output window. */
  | { kind: 'crop'; crop: Crop }
  /** Pointwise (tanh). */
  | { kind: 'none' };

export interface NodeGeometry {
  node: MapNode;
  /** Each source map (or IMAGE), cropped from its window to the chain's input window. */
  sources: { id: string; crop: Crop }[];
  /** One per op of node.ops. */
  ops: OpPlacement[];
  /** The node's window cropped to the tile, when the pass hands it back; else null. */
  tile: Crop | null;
}

/** `inner` inside `outer`; throws when it is not inside. */
export function cropOf(outer: Rect, inner: Rect): Crop {
  const dy = inner.y.start - outer.y.start;
  const dx = inner.x.start - outer.x.start;
  const h = spanLength(inner.y);
  const w = spanLength(inner.x);
  if (dy < 0 || dx < 0 || inner.y.end > outer.y.end || inner.x.end > outer.x.end) {
    throw new Error('tile window does not cover what its consumer needs');
  }
  const whole = dy === 0 && dx === 0 && h === spanLength(outer.y) && w === spanLength(outer.x);
  return { dy, dx, h, w, whole };
}

function placeOp(op: LocalOp, inRect: Rect, outRect: Rect): OpPlacement {
  const py = placeSpan(op, inRect.y, outRect.y);
  const px = placeSpan(op, inRect.x, outRect.x);
  switch (op.kind) {
    case 'conv':
    case 'convDown':
      return {
        kind: 'pad',
        pads: {
          y: { before: py.before, after: py.after },
          x: { before: px.before, after: px.after },
        },
      };
    case 'tanh':
      return { kind: 'none' };
    default: {
      const h = spanLength(outRect.y);
      const w = spanLength(outRect.x);
      return { kind: 'crop', crop: { dy: py.offset, dx: px.offset, h, w, whole: false } };
    }
  }
}

/** The maps a stage's source reads, the image included. */
export function sourceIds(node: MapNode): string[] {
  return node.source.kind === 'image' ? [IMAGE] : sourceMaps(node.source);
}

/** The geometry of every map the pass evaluates, in evaluation order. */
export function passGeometry(
  nodes: readonly MapNode[],
  pass: Pass,
  tile: Rect,
  windows: Map<string, Rect>,
  size: MapSize,
): NodeGeometry[] {
  const byId = indexNodes(nodes);
  const windowOf = (id: string) => {
    const r = windows.get(id);
    if (!r) throw new Error(`no window for ${id}`);
    return r;
  };
  const wanted = new Set(passOutputs(pass));
  return pass.evaluate.map((id) => {
    const node = byId(id);
    const chain = backChain(node.ops, windowOf(id), node.scale, size);
    const sources = sourceIds(node).map((dep) => ({
      id: dep,
      crop: cropOf(windowOf(dep), chain.rects[0]),
    }));
    const ops = node.ops.map((op, i) => placeOp(op, chain.rects[i], chain.rects[i + 1]));
    const tileCrop = wanted.has(id) ? cropOf(windowOf(id), scaleRect(tile, node.scale)) : null;
    return { node, sources, ops, tile: tileCrop };
  });
}

/**
 * The crops of a pass that are whole for every tile, so an engine may skip them (a crop is a
 * copy on ONNX Runtime even when it cuts nothing):
 * - `source(dep)`: a source read by exactly one map of the pass and not handed back. Its window
 *   is the union of what its readers need (stage-plan.ts passWindows), so with one reader it is
 *   exactly that reader's input window.
 * - `tile(id)`: the crop to the tile of a handed-back map that no map of the pass reads. Its
 *   window is then the tile itself.
 */
export function wholeCrops(
  nodes: readonly MapNode[],
  pass: Pass,
): { source(dep: string): boolean; tile(id: string): boolean } {
  const byId = indexNodes(nodes);
  const readers = new Map<string, number>();
  for (const id of pass.evaluate) {
    for (const dep of sourceIds(byId(id))) readers.set(dep, (readers.get(dep) ?? 0) + 1);
  }
  const handedBack = new Set(passOutputs(pass));
  return {
    source: (dep) => readers.get(dep) === 1 && !handedBack.has(dep),
    tile: (id) => handedBack.has(id) && !readers.has(id),
  };
}
