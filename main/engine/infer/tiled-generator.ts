/**
 * Seamless tiled translation (issue "Seamless high-resolution translation"; DESIGN.md, "High
 * resolution without seams"). Same contract as translateImageAsync (translate.ts): reflect-pad to
 * multiples of 4, run G, crop back; and, summation order aside, the same result, because the
 * network runs stage by stage (stage-plan.ts): every instance norm normalises with statistics of
 * the whole image, gathered in float64 over the tiles of an earlier pass (channel-stats.ts), and
 * within a stage every op is local, computed per tile on a window widened by that stage's halo
 * (tiling.ts) and padded only at the true image border (tile-evaluator.ts).
 *
 * Cost. 2N + 6 sweeps over the tile grid (N residual blocks). The quarter- and
 * half-resolution maps are computed once and stored (the default policy, stage-plan.ts); the
 * full-resolution stages are recomputed in every pass that needs them: about 1.17× the
 * convolution work of one untiled forward at ngf 64 and 9 blocks ('quarter': 1.48×), plus the
 * halo overlap (a few per cent for tiles of a few hundred pixels, large for tiny tiles).
 *
 * Memory. Tensors: one tile of one pass at a time, bounded by the tile size and independent of
 * the image; without an explicit tile, the largest tile whose estimated working set
 * (passTileBytes, with the tile engine's memory model: TF.js's or ONNX Runtime's) fits half
 * the budget. Stored maps: at most 1.5 ngf floats per image pixel at once (down2 with res0
 * and the first block's conv1; 'quarter': four quarter-resolution maps, ngf), in RAM up to the
 * rest of the budget and in a temporary file beyond it (feature-store.ts). Not bounded: the
 * input and output images themselves (3 floats per pixel each), which the API passes in and
 * out whole. The resident set is watched as the passes run (ResidentWatch).
 */
import * as tf from '@tensorflow/tfjs';
import type { StyleGenerator } from '../model/style-generator';
import { gpuBufferLimitBytes } from '../webgpu';
import { ChannelMoments, type Normaliser } from './channel-stats';
import { FeatureStore } from './feature-store';
import { shrinkOnOutOfMemory } from './oom-retry';
import {
  chooseTile,
  DEFAULT_STORE_POLICY,
  fullResHalo,
  IMAGE,
  IMAGE_CHANNELS,
  indexNodes,
  minTile,
  OUTPUT,
  passOutputs,
  passWindows,
  schedulePasses,
  stagesOf,
  TFJS_TILE_MEMORY,
  tileBytes,
  type MapNode,
  type Pass,
  type StorePolicy,
  type TileMemoryModel,
} from './stage-plan';
import { reusableHeapBytes } from './heap-reuse';
import { evaluateTile, type TileJob } from './tile-evaluator';
import { roundTile, scaleRect, spanLength, tileGrid, type MapSize, type Rect } from './tiling';
import { MIN_SIDE, translateImageAsync, type RgbFloatImage } from './translate';
import { bindGenerator, type Translator } from './convert-image';

export interface TiledOptions extends BudgetOptions {
  /** Tile side in image pixels, rounded down to a multiple of 4; from the budget if absent. */
  tile?: number;
  /**
   * The process's resident memory while it translates, in MiB (default 1024): what it holds
   * already (`residentBytes`: the runtime, the model, other decoded buffers), the full-size
   * input and output images, the tensor working set of a tile, and the stage maps kept in RAM
   * (the rest spills to disk).
   */
  memoryBudgetMB?: number;
  /** Where spilled stage maps go (a private folder inside, removed afterwards). */
  tmpDir?: string;
  /** Which stage maps to store rather than recompute (default 'half'; see stage-plan.ts). */
  store?: StorePolicy;
  /** Tiles done and total over all passes; the total can change after a retry with smaller tiles. */
  onProgress?: (done: number, total: number) => void;
  /** The tile side each pass runs with (after any out-of-memory retry), pass by pass. */
  onPassTile?: (pass: number, tile: number) => void;
  signal?: AbortSignal;
}

export const DEFAULT_MEMORY_BUDGET_MB = 1024;

/**
 * The least the tiles and stage maps get (unless the budget itself is smaller) when what is
 * resident already and the images leave less: below this the halos would dominate the work.
 * The budget is then exceeded by up to this much.
 */
export const MIN_WORKING_BYTES = 64 * 2 ** 20;

/**
 * Images up to this many pixels are translated untiled by conversion: faster than tiling and
 * their memory is modest (a megapixel at ngf 64 holds well under 1 GiB).
 */
export const UNTILED_MAX_PIXELS = 1024 * 1024;

/**
 * How conversion translates with a style's generator (CUT's or CycleGAN's): tiled above
 * UNTILED_MAX_PIXELS, or always when the caller set a tile or a budget; untiled otherwise.
 */
export function conversionTranslator(generator: StyleGenerator, alwaysTiled = false): Translator {
  return bindGenerator(generator, (G, image, opts) =>
    alwaysTiled || image.width * image.height > UNTILED_MAX_PIXELS
      ? translateTiled(G, image, opts)
      : translateImageAsync(G, image),
  );
}

const MIB = 1024 * 1024;

/** How a tiled translator is told its memory budget (translateTiled's and translateSinCut's). */
export interface BudgetOptions {
  /** The process's resident memory while it translates, in MiB (default 1024). */
  memoryBudgetMB?: number;
  /**
   * What the process holds besides the input image, paid out of the budget first. Default: the
   * resident set size now less the input image and what of it is free for reuse (`reusable`).
   * 0: the budget covers the translation only.
   */
  residentBytes?: number;
  /**
   * Resident bytes that tensors can take again without the process growing: the free part of
   * the wasm heap (heap-reuse.ts), measured when absent. Not counted as held.
   */
  reusableBytes?: number;
  /**
   * Told when the budget leaves less than the smallest tile worth running (one whose core is
   * at least its halo): that tile is used, over the budget, and this says so.
   */
  onOverBudget?: (message: string) => void;
}

/**
 * What a translation may spend on tiles (and, for translateTiled, stored maps): the budget less
 * what is resident already and the input and output images (float32, full size), but at least
 * MIN_WORKING_BYTES (or the whole budget when that is smaller). What is resident already does
 * not include the free part of the wasm heap, which the tiles take again (heap-reuse.ts).
 */
export function workingBytes(
  image: { width: number; height: number },
  opts: BudgetOptions = {},
): number {
  const budget = (opts.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB) * MIB;
  const imageBytes = image.width * image.height * IMAGE_CHANNELS * 4; // each of input, output
  const resident = opts.residentBytes ?? heldBytes(imageBytes, opts.reusableBytes);
  const floor = Math.min(budget, MIN_WORKING_BYTES);
  return Math.max(floor, budget - resident - 2 * imageBytes);
}

/**
 * What computes the tiles: TF.js's layer code (tfjsTiles, the default) or ONNX Runtime's
 * per-pass graphs (onnx/ort-tiles.ts). Either returns the pass's outputs (passOutputs order),
 * [h, w, C] each, for one tile; the passes, statistics and stored maps are shared.
 */
export interface TileEngine {
  /**
   * The pass's outputs (passOutputs order), [h, w, C] each; null for a target that is not
   * stored when the engine reduced it to `targetMoments` itself.
   */
  evaluate(job: TileJob): Promise<TileOutputs>;
  /** The largest single tensor it can hold, in bytes (a GPU's buffer limit), or Infinity. */
  maxTensorBytes(): number;
  /** What it holds per step of a tile (stage-plan.ts TileMemoryModel): tiles are sized by it. */
  memory: TileMemoryModel;
  /**
   * Sets up what the passes will need (ONNX Runtime: a session per pass graph) before the
   * budget is measured, so that what this holds counts as resident rather than surprising the
   * tiles: the paper G's 24 sessions hold about 180 MiB.
   */
  prepare?(nodes: readonly MapNode[], passes: readonly Pass[]): Promise<void>;
}

export interface TileOutputs {
  maps: (Float32Array | null)[];
  /** The target's moments over the tile: pixel count, per-channel mean and Σ (x − mean)². */
  targetMoments?: { count: number; mean: Float32Array; m2: Float32Array };
}

/** TF.js on the current backend. */
export const tfjsTiles: TileEngine = {
  async evaluate(job) {
    const outs = evaluateTile(job);
    try {
      return { maps: await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array)) };
    } finally {
      tf.dispose(outs);
    }
  },
  maxTensorBytes: gpuBufferLimitBytes,
  memory: TFJS_TILE_MEMORY,
};

/** The resident set less the input image and the heap's free part (heap-reuse.ts). */
function heldBytes(imageBytes: number, reusable?: number): number {
  const rss = process.memoryUsage().rss;
  return Math.max(0, rss - imageBytes - (reusable ?? reusableHeapBytes(undefined, rss)));
}

/**
 * The warning for a tile that the budget could not afford: the smallest worth running (its core
 * at least its halo) is used instead, and the process may exceed the budget by the difference.
 */
export function overBudgetMessage(tile: number, halo: number, needBytes: number, working: number) {
  const mib = (n: number) => Math.ceil(n / MIB);
  return (
    `the memory budget leaves ${mib(working)} MiB for tiles, less than the ${mib(needBytes)} MiB ` +
    `of the smallest tile worth running (${tile} px, its halo ${halo} px): using it, over the ` +
    `budget; raise the memory budget to stay within it`
  );
}

/** Everything one tiled translation shares across its passes. */
interface TiledRun {
  engine: TileEngine;
  G: StyleGenerator;
  image: RgbFloatImage;
  /** Padded (multiple-of-4) full-resolution size. */
  size: MapSize;
  nodes: MapNode[];
  passes: Pass[];
  store: FeatureStore;
  norms: Map<string, Normaliser>;
  output: Float32Array;
  opts: TiledOptions;
  done: number;
  /** Null when the budget is not the process's, or the tile was given. */
  watch: ResidentWatch | null;
}

/**
 * The resident set against the budget, sampled after every tile. The tile estimates count a
 * pass's tensors; what the allocator keeps of them after they are freed is not in them, and
 * it differs by tile size and platform (glibc: 0.8–1.4× the budget in repeated runs of the
 * same conversion). So when a pass lifts the process's high-water mark above the limit (the
 * budget, or the plan's own peak where the budget could not hold even the least working set),
 * the passes after it get tiles of 0.85× the side (0.72× the area), down to a least side
 * (translateTiled: half the planned side, and never below the smallest worth running); a pass
 * that stays below the mark reached, however high, changes nothing, so memory the allocator
 * merely kept does not shrink the tiles again and again.
 */
export class ResidentWatch {
  /** Highest resident set seen before the current pass. */
  private high: number;
  /** Highest resident set seen in the current pass. */
  private passHigh = 0;

  constructor(private readonly limitBytes: number) {
    this.high = process.memoryUsage().rss;
  }

  sample(): void {
    this.passHigh = Math.max(this.passHigh, process.memoryUsage().rss);
  }

  /** The tile for the next pass, after the current one ended, never below `least`. */
  nextTile(tile: number, least: number): number {
    this.sample();
    const raised = this.passHigh > this.high && this.passHigh > this.limitBytes;
    this.high = Math.max(this.high, this.passHigh);
    this.passHigh = 0;
    if (!raised || tile <= least) return tile;
    return Math.max(least, roundTile(0.85 * tile));
  }
}

export async function translateTiled(
  G: StyleGenerator,
  image: RgbFloatImage,
  opts: TiledOptions = {},
  engine: TileEngine = tfjsTiles,
): Promise<RgbFloatImage> {
  checkInput(G, image);
  opts.signal?.throwIfAborted();
  const size = { height: ceil4(image.height), width: ceil4(image.width) };
  const nodes = stagesOf(G);
  const passes = schedulePasses(nodes, opts.store ?? DEFAULT_STORE_POLICY);
  await engine.prepare?.(nodes, passes);
  // Of the working bytes, half bounds a tile's tensors and what the tile leaves holds stage
  // maps in RAM. The rest of the stage maps spills to disk. The wasm heap's free part counts
  // for the tiles only: the stage maps are JavaScript arrays, outside the heap.
  const reusable =
    opts.reusableBytes ?? (opts.residentBytes === undefined ? reusableHeapBytes() : 0);
  const working = workingBytes(image, { ...opts, reusableBytes: reusable });
  // On webgpu every tensor is one buffer, within the adapter's limits: tiles stay below them.
  const gpuLimit = engine.maxTensorBytes();
  // A tile's core is never smaller than its halo, unless one was asked for (--tile).
  const floor = { tile: minTile(nodes, passes, size), halo: fullResHalo(nodes, passes) };
  const model = engine.memory;
  let tile =
    opts.tile !== undefined
      ? Math.min(roundTile(opts.tile), chooseTile(nodes, passes, size, Infinity, gpuLimit, model))
      : chooseTile(nodes, passes, size, working / 2, gpuLimit, model);
  const need = tileBytes(nodes, passes, tile, size, model);
  if (opts.tile === undefined && need > working / 2) {
    opts.onOverBudget?.(overBudgetMessage(tile, floor.halo, need, working / 2));
  }
  const ramBytes = Math.max(0, working - need - reusable);
  const store = new FeatureStore({ ramBytes, tmpDir: opts.tmpDir });
  const output = new Float32Array(image.width * image.height * IMAGE_CHANNELS);
  // The budget is the process's (not told what it holds) and the tile is the budget's. What
  // the plan expects to reach: the budget, or more where even the least working set (the
  // MIN_WORKING_BYTES floor) does not fit in it — growth up to that is the plan, not a surprise.
  const watch =
    opts.tile === undefined && opts.residentBytes === undefined
      ? new ResidentWatch(
          Math.max(
            (opts.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB) * MIB,
            process.memoryUsage().rss + output.byteLength + working - reusable,
          ),
        )
      : null;
  // The watch never takes a tile below half the planned side (a quarter of its area).
  const least = Math.max(floor.tile, roundTile(tile / 2));
  const run: TiledRun = {
    engine,
    G,
    image,
    size,
    nodes,
    passes,
    store,
    norms: new Map(),
    output,
    opts,
    done: 0,
    watch,
  };
  try {
    for (const [i, pass] of passes.entries()) {
      const start = run.done;
      tile = await shrinkOnOutOfMemory(
        tile,
        (t) => {
          run.done = start; // a retried pass counts its tiles again
          return runPass(run, i, t);
        },
        floor,
      );
      opts.onPassTile?.(i, tile);
      for (const id of pass.free) await store.free(id);
      if (watch) tile = watch.nextTile(tile, least);
    }
  } catch (err) {
    await store.close().catch(() => undefined); // the first failure is the one to report
    throw err;
  }
  await store.close();
  return { data: output, width: image.width, height: image.height };
}

/**
 * One sweep over the tile grid: write the pass's stored maps, gather its target's moments.
 *
 * Disk traffic overlaps the compute: the next tile's windows are read, and this tile's stored
 * maps written, while the engine computes (the feature store's file I/O runs on libuv's
 * threads; ONNX Runtime holds the main thread while it runs). At most one tile's reads and
 * one tile's writes are in flight, and all of them have settled when the pass returns or
 * throws. A pass never reads a map it writes, so the order cannot matter.
 */
async function runPass(run: TiledRun, index: number, tile: number): Promise<void> {
  const pass = run.passes[index];
  const byId = indexNodes(run.nodes);
  for (const id of pass.write) {
    const n = byId(id);
    await run.store.create(id, run.size.height / n.scale, run.size.width / n.scale, n.channels);
  }
  const target = byId(pass.target);
  const moments = target.normalised ? new ChannelMoments(target.channels) : null;
  const grid = tileGrid(run.size, tile);
  const total = run.done + (run.passes.length - index) * grid.length;
  let reading: Promise<TileInputs> | null = null;
  let writing: Promise<void> = Promise.resolve();
  const read = (rect: Rect) => {
    const p = readTile(run, pass, rect);
    p.catch(() => undefined); // awaited below, or abandoned with the pass's first error
    return p;
  };
  try {
    for (const [i, rect] of grid.entries()) {
      run.opts.signal?.throwIfAborted();
      const inputs = await (reading ?? read(rect));
      reading = i + 1 < grid.length ? read(grid[i + 1]) : null;
      const outs = await computeTile(run, pass, rect, inputs, moments);
      await writing; // the previous tile's writes, done while this one computed
      writing = writeTile(run, pass, rect, outs);
      run.watch?.sample();
      run.done += 1;
      run.opts.onProgress?.(run.done, total);
    }
    await writing;
  } finally {
    // Nothing of this pass may still touch the store once it returns or fails (a retry with
    // smaller tiles rewrites the same maps; close() removes the files).
    await Promise.allSettled([writing, reading ?? Promise.resolve()]);
  }
  if (moments) run.norms.set(target.id, moments.normaliser());
}

interface TileInputs {
  windows: Map<string, Rect>;
  inputs: Map<string, Float32Array>;
}

async function readTile(run: TiledRun, pass: Pass, tile: Rect): Promise<TileInputs> {
  const windows = passWindows(run.nodes, pass, tile, run.size);
  const inputs = new Map<string, Float32Array>();
  const reads = pass.read.map((id) => run.store.read(id, windows.get(id) as Rect));
  for (const [k, data] of (await Promise.all(reads)).entries()) inputs.set(pass.read[k], data);
  const imageWindow = windows.get(IMAGE);
  if (imageWindow) inputs.set(IMAGE, readImage(run.image, imageWindow));
  return { windows, inputs };
}

async function computeTile(
  run: TiledRun,
  pass: Pass,
  tile: Rect,
  { windows, inputs }: TileInputs,
  moments: ChannelMoments | null,
): Promise<TileOutputs> {
  const outs = await run.engine.evaluate({
    nodes: run.nodes,
    pass,
    params: run.G.params,
    size: run.size,
    tile,
    windows,
    inputs,
    norms: run.norms,
  });
  if (outs.targetMoments && moments) {
    const { count, mean, m2 } = outs.targetMoments;
    moments.merge(count, mean, m2);
  }
  const ids = passOutputs(pass);
  const byId = indexNodes(run.nodes);
  for (const [k, data] of outs.maps.entries()) {
    const id = ids[k];
    if (!data) continue; // reduced to targetMoments by the engine
    if (id === pass.target && moments && !outs.targetMoments) moments.add(data);
    if (id === OUTPUT) writeOutput(run, scaleRect(tile, byId(id).scale), data);
  }
  return outs;
}

/** The tile's stored maps into the feature store ([h, w, C] of the tile each). */
async function writeTile(run: TiledRun, pass: Pass, tile: Rect, outs: TileOutputs) {
  const ids = passOutputs(pass);
  const byId = indexNodes(run.nodes);
  const writes: Promise<void>[] = [];
  for (const [k, data] of outs.maps.entries()) {
    const id = ids[k];
    if (data && pass.write.includes(id)) {
      writes.push(run.store.write(id, scaleRect(tile, byId(id).scale), data));
    }
  }
  await Promise.all(writes);
}

/** A window of the reflect-padded image (translateImageAsync pads bottom and right, reflecting). */
export function readImage(image: RgbFloatImage, rect: Rect): Float32Array {
  const { width, height, data } = image;
  const C = IMAGE_CHANNELS;
  const w = spanLength(rect.x);
  const out = new Float32Array(spanLength(rect.y) * w * C);
  const reflect = (i: number, n: number) => (i < n ? i : 2 * (n - 1) - i);
  const inside = Math.max(0, Math.min(rect.x.end, width) - rect.x.start);
  for (let y = rect.y.start; y < rect.y.end; y++) {
    const row = reflect(y, height) * width;
    const at = (y - rect.y.start) * w * C;
    out.set(data.subarray((row + rect.x.start) * C, (row + rect.x.start + inside) * C), at);
    for (let x = rect.x.start + inside; x < rect.x.end; x++) {
      const from = (row + reflect(x, width)) * C; // the last (< 4) padded columns
      out.set(data.subarray(from, from + C), at + (x - rect.x.start) * C);
    }
  }
  return out;
}

/** The part of an output tile inside the unpadded image. */
function writeOutput(run: TiledRun, rect: Rect, data: Float32Array): void {
  const { width, height } = run.image;
  const w = spanLength(rect.x);
  const keepW = Math.min(rect.x.end, width) - rect.x.start;
  for (let y = rect.y.start; y < Math.min(rect.y.end, height); y++) {
    const from = (y - rect.y.start) * w * IMAGE_CHANNELS;
    const row = data.subarray(from, from + keepW * IMAGE_CHANNELS);
    run.output.set(row, (y * width + rect.x.start) * IMAGE_CHANNELS);
  }
}

function checkInput(G: StyleGenerator, image: RgbFloatImage): void {
  const { width, height, data } = image;
  const channels = [
    G.config.inputChannels ?? IMAGE_CHANNELS,
    G.config.outputChannels ?? IMAGE_CHANNELS,
  ];
  if (channels.some((c) => c !== IMAGE_CHANNELS)) {
    throw new RangeError(
      `tiled translation is RGB to RGB; this generator is ${channels.join('→')}`,
    );
  }
  if (width < MIN_SIDE || height < MIN_SIDE) {
    throw new RangeError(`image is ${width}×${height}; at least ${MIN_SIDE}×${MIN_SIDE} is needed`);
  }
  if (data.length !== width * height * IMAGE_CHANNELS) {
    throw new RangeError(
      `expected ${width * height * 3} values for ${width}×${height} RGB, got ${data.length}`,
    );
  }
}

function ceil4(n: number): number {
  return Math.ceil(n / 4) * 4;
}
