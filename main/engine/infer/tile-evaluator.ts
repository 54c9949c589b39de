/**
 * One tile of one pass of tiled inference: the stage maps of the pass (stage-plan.ts) computed
 * on their windows (tiling.ts) with the generator's own layer code, so the arithmetic is the
 * untiled network's. Instance norms use whole-image statistics gathered by earlier passes. A
 * conv zero- or reflect-pads only the sides where its window meets the image border; the
 * resamplers run on their whole window and are cropped, which drops exactly the samples their
 * built-in border padding touched away from the image border. Where each crop and pad falls is
 * tile-geometry.ts's, which ONNX Runtime's pass graphs read too.
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
  type MapNode,
  type Pass,
  type Source,
} from './stage-plan';
import {
  passGeometry,
  sourceIds,
  type Crop,
  type NodeGeometry,
  type OpPlacement,
  type Pads,
} from './tile-geometry';
import { spanLength, type LocalOp, type MapSize, type Rect } from './tiling';

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
    for (const g of passGeometry(job.nodes, job.pass, job.tile, job.windows, job.size)) {
      const id = g.node.id;
      values.set(id, evaluateNode(job, g, values));
      for (const dep of sourceIds(g.node)) release(dep, uses, values);
      if (g.tile) outputs.set(id, crop(values.get(id) as T4, g.tile));
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
    for (const dep of sourceIds(byId(id))) uses.set(dep, (uses.get(dep) ?? 0) + 1);
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

/** One stage map on its window: the source on the chain's input window, then the ops. */
function evaluateNode(job: TileJob, g: NodeGeometry, values: Map<string, T4>): T4 {
  const crops = new Map(g.sources.map((s) => [s.id, s.crop]));
  const take = (id: string) => crop(values.get(id) as T4, crops.get(id) as Crop);
  let x = tf.tidy(() => sourceOn(job, g.node.source, take));
  g.node.ops.forEach((op, i) => {
    const y = tf.tidy(() => applyOp(op, g.ops[i], x, job.params));
    x.dispose();
    x = y;
  });
  return x;
}

function sourceOn(job: TileJob, source: Source, take: (id: string) => T4): T4 {
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

function applyOp(op: LocalOp, at: OpPlacement, x: T4, params: ParamSet): T4 {
  const pads = at.kind === 'pad' ? at.pads : null;
  const cropTo = (y: T4) => (at.kind === 'crop' ? crop(y, at.crop) : y);
  switch (op.kind) {
    case 'conv': {
      const p = pads as Pads;
      const all: [number, number][] = [
        [0, 0],
        [p.y.before, p.y.after],
        [p.x.before, p.x.after],
        [0, 0],
      ];
      const bordered = all.some(([a, b]) => a > 0 || b > 0) ? padBorder(x, all, op.pad) : x;
      return conv2d(bordered, params, op.layer); // [1, h, w, outChannels], 'valid'
    }
    case 'convDown': {
      const p = pads as Pads;
      const all: [number, number][] = [
        [0, 0],
        [p.y.before, 0],
        [p.x.before, 0],
        [0, 0],
      ];
      const bordered = p.y.before > 0 || p.x.before > 0 ? tf.pad(x, all) : x;
      return conv2d(bordered, params, op.layer, 0, 2); // [1, h, w, outChannels]
    }
    case 'convUp':
      return cropTo(transposedConvUp(x, params, op.layer));
    case 'blurDown':
      return cropTo(blurDownsample(x));
    case 'upsample':
      return cropTo(upsample2x(x));
    case 'tanh':
      return tf.tanh(x);
  }
}

function padBorder(x: T4, pads: [number, number][], mode: 'reflect' | 'zero'): T4 {
  return mode === 'zero' ? tf.pad(x, pads) : tf.mirrorPad(x, pads, 'reflect');
}

/** A crop of a tensor (tile-geometry.ts); a fresh tensor either way. */
function crop(x: T4, c: Crop): T4 {
  if (c.whole) return tf.clone(x);
  return tf.slice(x, [0, c.dy, c.dx, 0], [1, c.h, c.w, -1]);
}

function windowOf(job: TileJob, id: string): Rect {
  const r = job.windows.get(id);
  if (!r) throw new Error(`no window for ${id}`);
  return r;
}
