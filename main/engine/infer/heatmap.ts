/**
 * Patch-correspondence heatmaps (DESIGN.md "Look inside"; the paper's Fig. 5 idea, §4 and
 * the reference's PatchSampleF): which patches of one image the encoder considers "the same
 * place" as a chosen patch of the other. For a style and an image, the input x and its
 * translation G(x) both go through the encoder (ResnetGenerator.encode, or for a SinCUT
 * style's StyleGAN2 generator StyleGan2Generator.encode, tile by tile); at every tap the
 * features of every position are projected by H exactly as in training (Linear → ReLU →
 * Linear, then x/(‖x‖+1e-7)), or only L2-normalised (`raw`). A query point on one image then
 * gives the cosine similarity of its feature with the feature of every position of the other
 * image, per tap.
 *
 * Resolution. Everything runs at a working resolution (long side 1024 by default, never
 * upscaled); points and matches are given in full-image pixel coordinates and mapped through
 * pixel centres: working = (full + ½)·w/W − ½. A tap with stride s (1 for input and down1, 2
 * for down2, 4 for the residual blocks) has one position per s working pixels, position j
 * centred on working pixel s·j (the blur-downsample's 3×3 window is centred there). The
 * `input` tap is the reflect-padded image: its 3-pixel border is left out, so its positions
 * are exactly the image's pixels. Padding to multiples of 4 (bottom and right, reflected, as
 * translateImageAsync does) is left out the same way.
 *
 * SinCUT's StyleGAN2 generator. Its taps are input (stride 1, the image itself, no border),
 * down1 and res1 … res(nBlocks/2) (stride 2: one downsampling). The working image is
 * translated tile by tile with the style's position-based noise (sincut-tiled.ts), so a
 * heatmap's output is the one conversion gives at that size; the encoder, which has no
 * normalisation either, runs on tiles of the same size with the same halo (encodeSinCut),
 * exact and bounded in memory. The ResNet variant of SinCUT is CUT's generator: as above.
 *
 * Memory. The session keeps no tensors: the two working images and, per (image, tap), the
 * unit feature rows as one Float32Array [positions, dim]. Features are computed on demand,
 * one encoder pass per image for all the taps a query needs, and projected in row chunks so
 * the tensors of one pass stay bounded. Beyond `memoryBudgetMB` the least recently used
 * features are dropped (and recomputed if asked for again); the features of the query in
 * hand are never dropped, so the budget is soft by at most one query's taps.
 *
 * Queries are a dot product per position over the cached rows (heatmap-dot.ts: a small wasm
 * SIMD kernel, plain JS where that is unavailable): O(positions · dim), no tensors, no
 * allocation beyond the result.
 *
 * ONNX Runtime. With `onnx` (heatmap-onnx.ts) the translation and the feature pass run there:
 * the encoder graph gives the taps' maps, the head graph the unit rows. That pass is
 * asynchronous, so callers `await session.load(taps)` before querying those taps; a query
 * whose features are missing still computes them, through TF.js (the same values within the
 * engines' float tolerance).
 */
import * as tf from '@tensorflow/tfjs';
import type { NceTap } from '../../../shared/options';
import { l2Normalize, type ProjectionHead } from '../model/projection-head';
import { NOISE_SEED } from '../model/positional-noise';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import { gpuBufferLimitBytes } from '../webgpu';
import { createRowStore, type RowStore } from './heatmap-dot';
import { chooseSinCutTile, encodeSinCut, translateSinCut } from './sincut-tiled';
import { onnxTapChannels, type OnnxHeatmapEngine } from './heatmap-onnx';
import { translateTiled, workingBytes } from './tiled-generator';
import {
  availableTaps,
  checkPoint,
  checkWorkingSize,
  CoordinateMap,
  encoderKind,
  tapGrid,
  unknownTap,
  type EncoderKind,
  type HeatmapGenerator,
  type HeatmapImage,
  type HeatmapStyle,
  type MatchPoint,
  type Point,
  type TapGrid,
} from './heatmap-geometry';
import { padToMultipleOf4, translateImageAsync, type RgbFloatImage } from './translate';

// The geometry is the session's vocabulary: importers of the heatmap take it from here.
export * from './heatmap-geometry';

export const DEFAULT_HEATMAP_BUDGET_MB = 2048;
/** Working images above this many pixels are translated tile by tile (bounded memory). */
const UNTILED_MAX_PIXELS = 512 * 512;
/** Feature rows projected per tensor chunk. */
const CHUNK_ROWS = 16384;

export type HeatmapSide = 'input' | 'output';

export interface HeatmapOptions {
  /** Long side of the working resolution (default 1024); smaller images stay as they are. */
  workingSize?: number;
  /** Raw encoder features, L2-normalised, instead of H's projection (forced without H). */
  raw?: boolean;
  /** Cache of feature rows, MiB (default 2048); a soft bound, see the module comment. */
  memoryBudgetMB?: number;
  /**
   * How the working image is translated (default: translateImageAsync, or translateTiled above
   * 512×512; the StyleGAN2 generator with translateSinCut, tiled within the memory budget); it
   * must return an image of the same size.
   */
  translate?: (G: HeatmapGenerator, image: RgbFloatImage) => RgbFloatImage | Promise<RgbFloatImage>;
  /**
   * Core tile side of the StyleGAN2 encoder's tiles; default: the tile the translation used,
   * or (with `translate` given) the largest the default memory budget allows.
   */
  encodeTile?: number;
  /** Translate and compute features on ONNX Runtime (see the module comment). */
  onnx?: OnnxHeatmapEngine | null;
}

/** One tap's answer to a query: similarity of every position of the other image. */
export interface SimilarityMap {
  tap: NceTap;
  /** [height, width] cosine similarities, row-major, at the tap's resolution. */
  data: Float32Array;
  width: number;
  height: number;
  stride: number;
  min: number;
  max: number;
  /** The query as used: snapped to its tap position, in full-image coordinates. */
  query: MatchPoint;
  /** The most similar position of the other image, in full-image coordinates. */
  best: MatchPoint & { similarity: number };
}

export interface QueryOptions {
  /** Which image the point is on (default 'output'); the map covers the other one. */
  on?: HeatmapSide;
  /** Default: every tap of the session. */
  taps?: readonly NceTap[];
}

/** Unit feature rows of one image at one tap. */
export interface TapFeatures {
  grid: TapGrid;
  dim: number;
  /** [height·width, dim], row-major, each row of unit length (or zero). */
  rows: Float32Array;
  /** Where the rows live, with the product the queries use (heatmap-dot.ts). */
  store: RowStore;
}

// ─── the session ───────────────────────────────────────────────────────────────────────────

export interface SessionInfo {
  mode: 'projected' | 'raw';
  taps: NceTap[];
  width: number;
  height: number;
  workingWidth: number;
  workingHeight: number;
}

export class HeatmapSession {
  readonly mode: 'projected' | 'raw';
  /** Every tap a query may name. */
  readonly taps: NceTap[];
  readonly coords: CoordinateMap;
  readonly kind: EncoderKind;
  private readonly cache = new Map<string, TapFeatures>();
  private readonly budgetBytes: number;
  private cachedBytes = 0;
  /** Set on webgpu, whose features are all computed up front (prepareAll) and never evicted. */
  private keepAll = false;
  private readonly onnx: OnnxHeatmapEngine | null;

  private constructor(
    private readonly style: HeatmapStyle,
    /** The input image at the working resolution. */
    readonly input: RgbFloatImage,
    /** Its translation, same size. */
    readonly output: RgbFloatImage,
    fullWidth: number,
    fullHeight: number,
    opts: HeatmapOptions,
    /** Core side of the StyleGAN2 encoder's tiles (unused for CUT's generator). */
    private readonly encodeTile: number,
  ) {
    this.kind = encoderKind(style.generator);
    const raw = opts.raw === true || style.head === null;
    this.mode = raw ? 'raw' : 'projected';
    this.taps = availableTaps(style, raw);
    this.coords = new CoordinateMap(fullWidth, fullHeight, input.width, input.height);
    this.budgetBytes = (opts.memoryBudgetMB ?? DEFAULT_HEATMAP_BUDGET_MB) * 2 ** 20;
    this.onnx = opts.onnx ?? null;
  }

  /**
   * Translates the working image (tiled above 512×512, so memory stays bounded). A
   * HeatmapImage (readHeatmapImage) carries the full image's size, in which points and
   * matches are then given; a plain image is analysed as it is and is its own full size.
   */
  static async create(
    style: HeatmapStyle,
    image: HeatmapImage | RgbFloatImage,
    opts: HeatmapOptions = {},
  ): Promise<HeatmapSession> {
    const { working, width, height } =
      'working' in image ? image : { working: image, width: image.width, height: image.height };
    checkWorkingSize(working, width, height);
    let translated: number | undefined; // the translation's tile, after any retry
    const noiseSeed = style.noiseSeed ?? NOISE_SEED;
    const onTileSize = (t: number) => (translated = t);
    const onnx = opts.onnx;
    const translate =
      opts.translate ??
      (async (G: HeatmapGenerator, x: RgbFloatImage) =>
        (onnx && (await onnx.translate(G, x, { noiseSeed, onTileSize }))) ??
        defaultTranslate(G, x, noiseSeed, onTileSize));
    const output = await translate(style.generator, working);
    if (output.width !== working.width || output.height !== working.height) {
      throw new RangeError(
        `the translation is ${output.width}×${output.height}, the image ${working.width}×${working.height}`,
      );
    }
    const G = style.generator;
    const tile =
      opts.encodeTile ??
      translated ??
      (G instanceof StyleGan2Generator
        ? chooseSinCutTile(G.config, working, workingBytes(working), gpuBufferLimitBytes())
        : 0);
    const session = new HeatmapSession(style, working, output, width, height, opts, tile);
    // webgpu has no synchronous read in Node: every tap's features are computed now, and kept
    // (the memory budget is soft there, since nothing could be recomputed during a query).
    if (tf.getBackend() === 'webgpu' && !session.onnx) await session.prepareAll();
    return session;
  }

  /** Which engine computes this session's features. */
  get engine(): 'onnx' | 'tfjs' {
    return this.onnx ? 'onnx' : 'tfjs';
  }

  /**
   * Makes both images' features at `taps` resident, before queries on them: on ONNX Runtime
   * one encoder pass per image for the taps missing (asynchronous), otherwise prepare().
   */
  async load(taps: readonly NceTap[] = this.taps): Promise<void> {
    taps.forEach((t) => this.checkTap(t));
    const onnx = this.onnx;
    if (!onnx || this.keepAll) return this.prepare(taps);
    const pinned = new Set(taps.flatMap((t) => [key('input', t), key('output', t)]));
    for (const side of ['input', 'output'] as const) {
      const missing = [...new Set(taps.filter((t) => !this.cache.has(key(side, t))))];
      if (!missing.length) continue;
      const G = this.style.generator;
      const maps = await onnx.encode(G, side === 'input' ? this.input : this.output, missing);
      for (const [i, tap] of missing.entries()) {
        const grid = tapGrid(tap, this.input.width, this.input.height, this.kind);
        const offset = tap === 'input' && this.kind === 'resnet' ? 3 : 0;
        const c = onnxTapChannels(G, tap);
        const { data, width } = maps[i];
        maps[i].data = new Float32Array(0); // let the map go once its rows are cut
        const rows = new Float32Array(grid.width * grid.height * c);
        for (let y = 0; y < grid.height; y++) {
          const from = ((y + offset) * width + offset) * c;
          rows.set(data.subarray(from, from + grid.width * c), y * grid.width * c);
        }
        const head = this.mode === 'projected' ? (this.style.head as ProjectionHead) : null;
        const dim = head ? head.dim : c;
        const store = createRowStore(grid.width * grid.height, dim);
        const at = head ? { head, index: this.style.headTaps.indexOf(tap) } : null;
        await onnx.project(G, at, tap, rows, c, store.rows);
        this.store(key(side, tap), { grid, dim, rows: store.rows, store });
      }
      this.evict(pinned);
    }
  }

  get info(): SessionInfo {
    return {
      mode: this.mode,
      taps: [...this.taps],
      width: this.coords.fullWidth,
      height: this.coords.fullHeight,
      workingWidth: this.input.width,
      workingHeight: this.input.height,
    };
  }

  grid(tap: NceTap): TapGrid {
    return tapGrid(this.checkTap(tap), this.input.width, this.input.height, this.kind);
  }

  /** The unit feature rows of one image at the given taps (computed once, then cached). */
  features(side: HeatmapSide, taps: readonly NceTap[]): TapFeatures[] {
    taps.forEach((t) => this.checkTap(t));
    const out = this.ensure(side, taps);
    this.evict(new Set(taps.map((t) => key(side, t))));
    return out;
  }

  /** Computes the features both images need for these taps now (the one-time pass). */
  prepare(taps: readonly NceTap[] = this.taps): void {
    taps.forEach((t) => this.checkTap(t));
    for (const side of ['input', 'output'] as const) this.ensure(side, taps);
    this.evict(new Set(taps.flatMap((t) => [key('input', t), key('output', t)])));
  }

  /** Both images' features at every tap, read asynchronously; never evicted afterwards. */
  private async prepareAll(): Promise<void> {
    this.keepAll = true;
    for (const side of ['input', 'output'] as const) {
      const image = side === 'input' ? this.input : this.output;
      const feats = this.encode(image, this.taps);
      try {
        for (const [i, tap] of this.taps.entries()) {
          const plan = this.rowPlan(tap, feats[i]);
          try {
            for (let start = 0; start < plan.n; start += CHUNK_ROWS) {
              const unit = plan.chunk(start);
              plan.features.rows.set(
                (await unit.data()) as Float32Array,
                start * plan.features.dim,
              );
              unit.dispose();
            }
          } finally {
            plan.flat.dispose();
          }
          this.store(key(side, tap), plan.features);
        }
      } finally {
        tf.dispose(feats);
      }
    }
  }

  /** Cached or computed now (one encoder pass for all that are missing); evicts nothing. */
  private ensure(side: HeatmapSide, taps: readonly NceTap[]): TapFeatures[] {
    const missing = [...new Set(taps.filter((t) => !this.cache.has(key(side, t))))];
    if (missing.length) {
      const computed = this.compute(side, missing);
      for (const [i, t] of missing.entries()) this.store(key(side, t), computed[i]);
    }
    return taps.map((t) => this.touch(key(side, t)));
  }

  /** Similarity of the point's feature with every position of the other image, per tap. */
  query(point: Point, opts: QueryOptions = {}): SimilarityMap[] {
    const on = opts.on ?? 'output';
    const other: HeatmapSide = on === 'output' ? 'input' : 'output';
    const taps = opts.taps ?? this.taps;
    this.checkPoint(point);
    taps.forEach((t) => this.checkTap(t));
    const pinned = new Set(taps.flatMap((t) => [key('input', t), key('output', t)]));
    const maps: SimilarityMap[] = [];
    for (const tap of taps) {
      const [q] = this.ensure(on, [tap]);
      const [f] = this.ensure(other, [tap]);
      const { tapX, tapY } = this.coords.toTap(point, q.grid);
      const at = (tapY * q.grid.width + tapX) * q.dim;
      const vector = q.rows.subarray(at, at + q.dim);
      const data = new Float32Array(f.grid.width * f.grid.height);
      f.store.dot(vector, data);
      let best = 0;
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (v > max) {
          max = v;
          best = i;
        }
        if (v < min) min = v;
      }
      const bx = best % f.grid.width;
      const by = (best - bx) / f.grid.width;
      maps.push({
        tap,
        data,
        width: f.grid.width,
        height: f.grid.height,
        stride: f.grid.stride,
        min,
        max,
        query: this.coords.fromTap(tapX, tapY, q.grid),
        best: { ...this.coords.fromTap(bx, by, f.grid), similarity: max },
      });
    }
    this.evict(pinned);
    return maps;
  }

  /** Bytes of feature rows held now. */
  get cacheBytes(): number {
    return this.cachedBytes;
  }

  /** Drops every cached feature (the session stays usable). */
  clear(): void {
    this.cache.clear();
    this.cachedBytes = 0;
  }

  checkPoint(p: Point): void {
    checkPoint(p, this.coords.fullWidth, this.coords.fullHeight);
  }

  private checkTap(tap: NceTap): NceTap {
    if (!this.taps.includes(tap)) throw unknownTap(tap, this.taps, this.mode);
    return tap;
  }

  /** One encoder pass over one image, to the deepest of `taps`; rows for each tap. */
  private compute(side: HeatmapSide, taps: NceTap[]): TapFeatures[] {
    const feats = this.encode(side === 'input' ? this.input : this.output, taps);
    try {
      return taps.map((tap, i) => this.rows(tap, feats[i]));
    } finally {
      tf.dispose(feats);
    }
  }

  /** The encoder's maps at `taps` for the image padded to multiples of 4; caller disposes. */
  private encode(image: RgbFloatImage, taps: readonly NceTap[]): tf.Tensor4D[] {
    const G = this.style.generator;
    if (G instanceof StyleGan2Generator) return encodeSinCut(G, image, taps, this.encodeTile);
    // [1, H', W', 3], sides multiples of 4
    return tf.tidy(() => G.encode(padToMultipleOf4(image), taps));
  }

  /** Crops a tap's map to the image's positions and turns it into unit rows. */
  private rows(tap: NceTap, feat: tf.Tensor4D): TapFeatures {
    const plan = this.rowPlan(tap, feat);
    try {
      for (let start = 0; start < plan.n; start += CHUNK_ROWS) {
        const unit = plan.chunk(start);
        plan.features.rows.set(unit.dataSync() as Float32Array, start * plan.features.dim);
        unit.dispose();
      }
    } finally {
      plan.flat.dispose();
    }
    return plan.features;
  }

  /** The rows to fill, the cropped map as [n, C] and the unit rows of each chunk of it. */
  private rowPlan(tap: NceTap, feat: tf.Tensor4D) {
    const grid = tapGrid(tap, this.input.width, this.input.height, this.kind);
    // CUT's input tap is the image reflect-padded for its first conv; StyleGAN2's is the image.
    const offset = tap === 'input' && this.kind === 'resnet' ? 3 : 0;
    const c = feat.shape[3];
    const n = grid.width * grid.height;
    const head = this.mode === 'projected' ? (this.style.head as ProjectionHead) : null;
    const headIndex = head ? this.style.headTaps.indexOf(tap) : -1;
    const dim = head ? head.dim : c;
    const store = createRowStore(n, dim);
    const flat = tf.tidy(
      () =>
        tf.reshape(tf.slice(feat, [0, offset, offset, 0], [1, grid.height, grid.width, c]), [
          n,
          c,
        ]) as tf.Tensor2D,
    ); // [n, C]
    const chunk = (start: number): tf.Tensor2D => {
      const size = Math.min(CHUNK_ROWS, n - start);
      return tf.tidy(() => {
        const rows = tf.reshape(tf.slice(flat, [start, 0], [size, c]), [1, size, 1, c]);
        // The training path itself: H.project gathers, runs the MLP and normalises.
        return head
          ? head.project(headIndex, rows as tf.Tensor4D, iota(size))
          : l2Normalize(tf.reshape(rows, [size, c]));
      }); // [size, dim]
    };
    const features: TapFeatures = { grid, dim, rows: store.rows, store };
    return { n, flat, chunk, features };
  }

  private store(k: string, f: TapFeatures): void {
    const old = this.cache.get(k);
    if (old) this.cachedBytes -= old.rows.byteLength;
    this.cache.set(k, f);
    this.cachedBytes += f.rows.byteLength;
  }

  /** The entry, moved to most recently used. */
  private touch(k: string): TapFeatures {
    const f = this.cache.get(k) as TapFeatures;
    this.cache.delete(k);
    this.cache.set(k, f);
    return f;
  }

  /** Drops least recently used entries until under budget, never the pinned ones. */
  private evict(pinned: Set<string>): void {
    if (this.keepAll) return;
    for (const [k, f] of this.cache) {
      if (this.cachedBytes <= this.budgetBytes) return;
      if (pinned.has(k)) continue;
      this.cache.delete(k);
      this.cachedBytes -= f.rows.byteLength;
    }
  }
}

function defaultTranslate(
  G: HeatmapGenerator,
  image: RgbFloatImage,
  noiseSeed: number,
  onTileSize: (tile: number) => void,
): Promise<RgbFloatImage> {
  if (G instanceof StyleGan2Generator) return translateSinCut(G, image, { noiseSeed, onTileSize });
  return image.width * image.height > UNTILED_MAX_PIXELS
    ? translateTiled(G, image)
    : translateImageAsync(G, image);
}

function key(side: HeatmapSide, tap: NceTap): string {
  return `${side}/${tap}`;
}

function iota(n: number): Int32Array {
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  return ids;
}
