/**
 * One tile of one pass of tiled inference: the stage maps of the pass (stage-plan.ts) computed
 * on their windows (tiling.ts) with the generator's own layer code, so the arithmetic is the
 * untiled network's. Instance norms use whole-image statistics gathered by earlier passes. A
 * conv zero- or reflect-pads only the sides where its window meets the image border; the
 * resamplers run on their whole window and are cropped, which drops exactly the samples their
 * built-in border padding touched away from the image border.
 */
import * as tf from '@tensorflow/tfjs';
import { transposedConvUp } from '../model/cyclegan-generator';
import { blurDownsample, conv2d, upsample2x, type T4 } from '../model/layers';
import type { ParamSet } from '../model/params';
import type { Normaliser } from './channel-stats';
import {
  IMAGE,
  IMAGE_CHANNELS,
  indexNodes,
  passOutputs,
  sourceMaps,
  type MapNode,
  type Pass,
  type Source,
} from './stage-plan';
import {
  backChain,
  placeSpan,
  scaleRect,
  spanLength,
  type LocalOp,
  type MapSize,
  type Rect,
} from './tiling';

export interface TileJob {
  nodes: readonly MapNode[];
  pass: Pass;
  params: ParamSet;
  /** Full-resolution (padded) image size. */
  size: MapSize;
  /** Full-resolution tile rect. */
  tile: Rect;
  /** Window of every map of the pass, from passWindows. */
  windows: Map<string, Rect>;
  /** Values of the IMAGE window and of every read map's window, [h, w, C]. */
  inputs: Map<string, Float32Array>;
  /** Statistics of every normalised map finished so far. */
  norms: Map<string, Normaliser>;
}

/** The pass's outputs (passOutputs order) on the tile, [1, h, w, C] each; caller disposes. */
export function evaluateTile(job: TileJob): T4[] {
  return tf.tidy(() => {
    const byId = indexNodes(job.nodes);
    const values = new Map<string, T4>(); // map id → [1, window h, window w, C]
    for (const [id, data] of job.inputs) {
      const c = id === IMAGE ? IMAGE_CHANNELS : byId(id).channels;
      const r = windowOf(job, id);
      values.set(id, tf.tensor4d(data, [1, spanLength(r.y), spanLength(r.x), c]));
    }
    const uses = countUses(job);
    const outputs = new Map<string, T4>();
    const wanted = new Set(passOutputs(job.pass));
    for (const id of job.pass.evaluate) {
      const node = byId(id);
      values.set(id, evaluateNode(job, node, values));
      for (const dep of depsOf(node.source)) release(dep, uses, values);
      if (wanted.has(id)) {
        const tileRect = scaleRect(job.tile, node.scale);
        outputs.set(id, crop(values.get(id) as T4, windowOf(job, id), tileRect));
      }
      if ((uses.get(id) ?? 0) === 0) release(id, uses, values); // an output nobody reads
    }
    return passOutputs(job.pass).map((id) => outputs.get(id) as T4);
  });
}

/** How many evaluated maps read each value of the tile, so it can go as soon as they have. */
function countUses(job: TileJob): Map<string, number> {
  const byId = indexNodes(job.nodes);
  const uses = new Map<string, number>();
  for (const id of job.pass.evaluate) {
    for (const dep of depsOf(byId(id).source)) uses.set(dep, (uses.get(dep) ?? 0) + 1);
  }
  return uses;
}

function release(id: string, uses: Map<string, number>, values: Map<string, T4>): void {
  const left = (uses.get(id) ?? 0) - 1;
  uses.set(id, left);
  if (left <= 0) {
    values.get(id)?.dispose();
    values.delete(id);
  }
}

function depsOf(source: Source): string[] {
  return source.kind === 'image' ? [IMAGE] : sourceMaps(source);
}

/** One stage map on its window: the source on the chain's input window, then the ops. */
function evaluateNode(job: TileJob, node: MapNode, values: Map<string, T4>): T4 {
  const chain = backChain(node.ops, windowOf(job, node.id), node.scale, job.size);
  let x = tf.tidy(() => sourceOn(job, node.source, chain.rects[0], values));
  node.ops.forEach((op, i) => {
    const inRect = chain.rects[i];
    const outRect = chain.rects[i + 1];
    const y = tf.tidy(() => applyOp(op, x, inRect, outRect, job.params));
    x.dispose();
    x = y;
  });
  return x;
}

function sourceOn(job: TileJob, source: Source, rect: Rect, values: Map<string, T4>): T4 {
  const take = (id: string) => crop(values.get(id) as T4, windowOf(job, id), rect);
  switch (source.kind) {
    case 'image':
      return take(IMAGE); // [1, h, w, 3]
    case 'map':
      return take(source.of);
    case 'normRelu':
      return tf.relu(normalise(take(source.of), job.norms, source.of));
    case 'residual':
      return tf.add(take(source.skip), normalise(take(source.branch), job.norms, source.branch));
  }
}

/** Instance norm with whole-image statistics: (x − mean) · (var + eps)^−½, per channel. */
function normalise(x: T4, norms: Map<string, Normaliser>, id: string): T4 {
  const norm = norms.get(id);
  if (!norm) throw new Error(`statistics of ${id} are not ready`);
  return tf.mul(tf.sub(x, tf.tensor1d(norm.mean)), tf.tensor1d(norm.invStd));
}

function applyOp(op: LocalOp, x: T4, inRect: Rect, outRect: Rect, params: ParamSet): T4 {
  const py = placeSpan(op, inRect.y, outRect.y);
  const px = placeSpan(op, inRect.x, outRect.x);
  const h = spanLength(outRect.y);
  const w = spanLength(outRect.x);
  switch (op.kind) {
    case 'conv': {
      const pads: [number, number][] = [
        [0, 0],
        [py.before, py.after],
        [px.before, px.after],
        [0, 0],
      ];
      const bordered = pads.some(([a, b]) => a > 0 || b > 0) ? padBorder(x, pads, op.pad) : x;
      return conv2d(bordered, params, op.layer); // [1, h, w, outChannels], 'valid'
    }
    case 'convDown': {
      const pads: [number, number][] = [
        [0, 0],
        [py.before, 0],
        [px.before, 0],
        [0, 0],
      ];
      const bordered = py.before > 0 || px.before > 0 ? tf.pad(x, pads) : x;
      return conv2d(bordered, params, op.layer, 0, 2); // [1, h, w, outChannels]
    }
    case 'convUp':
      return tf.slice(
        transposedConvUp(x, params, op.layer),
        [0, py.offset, px.offset, 0],
        [1, h, w, -1],
      );
    case 'blurDown':
      return tf.slice(blurDownsample(x), [0, py.offset, px.offset, 0], [1, h, w, -1]);
    case 'upsample':
      return tf.slice(upsample2x(x), [0, py.offset, px.offset, 0], [1, h, w, -1]);
    case 'tanh':
      return tf.tanh(x);
  }
}

function padBorder(x: T4, pads: [number, number][], mode: 'reflect' | 'zero'): T4 {
  return mode === 'zero' ? tf.pad(x, pads) : tf.mirrorPad(x, pads, 'reflect');
}

/** `inner` cut out of a tensor that covers `outer`; a fresh tensor either way. */
function crop(x: T4, outer: Rect, inner: Rect): T4 {
  const dy = inner.y.start - outer.y.start;
  const dx = inner.x.start - outer.x.start;
  const h = spanLength(inner.y);
  const w = spanLength(inner.x);
  if (dy < 0 || dx < 0 || inner.y.end > outer.y.end || inner.x.end > outer.x.end) {
    throw new Error('tile window does not cover what its consumer needs');
  }
  if (dy === 0 && dx === 0 && h === spanLength(outer.y) && w === spanLength(outer.x)) {
    return tf.clone(x);
  }
  return tf.slice(x, [0, dy, dx, 0], [1, h, w, -1]);
}

function windowOf(job: TileJob, id: string): Rect {
  const r = job.windows.get(id);
  if (!r) throw new Error(`no window for ${id}`);
  return r;
}
