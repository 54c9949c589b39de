/**
 * Full-resolution translation with SinCUT's StyleGAN2 generator, tile by tile. The generator
 * has no normalisation layer, so an output pixel depends only on the input within its
 * receptive field: a tile computed with a halo at least that wide, and cropped back to its
 * core, equals the untiled result there. Tiles at the image's edge reach it, so the
 * zero padding of every conv falls where the untiled pass has it too. Noise comes from
 * absolute positions (positional-noise.ts), so tiles agree.
 *
 * Memory is bounded by the tile, sized from the process's memory budget as CUT's tiled
 * translation does (tiled-generator.ts: the same budget, resident set and image accounting,
 * the same tile search and webgpu buffer limit): the largest tile whose estimated forward pass
 * (styleGan2TileBytes) fits what the budget leaves. A tile that still runs out of memory is
 * redone in smaller tiles (oom-retry.ts), and the rest of the image keeps the smaller size.
 */
import * as tf from '@tensorflow/tfjs';
import { NOISE_SEED, positionalNoise } from '../model/positional-noise';
import type { StyleGan2Generator, StyleGan2GeneratorConfig } from '../model/stylegan2-generator';
import { gpuBufferLimitBytes } from '../webgpu';
import { shrinkOnOutOfMemory } from './oom-retry';
import type { NceTap } from '../../../shared/options';
import { overBudgetMessage, readImage, workingBytes, type BudgetOptions } from './tiled-generator';
import { haloFloorTile, largestTile, roundTile } from './tiling';
import type { RgbFloatImage } from './translate';

/**
 * Input pixels either side that reach an output pixel, rounded up to even: 1×1 stem, the
 * downsampling block (~5), two 3×3 convs per residual block at half resolution (4 full-res
 * pixels each), the upsampling conv and its blur (~4).
 */
export function styleGan2Halo(nBlocks: number): number {
  return 16 + 4 * nBlocks;
}

/**
 * Bytes of tensors alive at the peak of one forward pass, per input pixel and channel, at full
 * resolution (c0) and half resolution (c1, counted per full-resolution pixel). Calibrated with
 * tf.profile on wasm (peak bytes of G.forward on square inputs of side 64–192, widths 8/16,
 * 16/8, 32/64, 80/160 and 64/64): the peak is 27.1·c0 + 1.75·c1 floats per pixel, within 2%
 * (the upsampling conv's transposed output, its padded copy and the blur's four shifted
 * products at full resolution), plus the weights. Rounded up here. Checked against process
 * RSS: widths 80/160 with 256-px tiles (336-px windows) estimate 1.10 GiB, measured 1.4 GB in
 * all with the runtime; 512-px tiles estimate 3.4 GiB, measured 3.7 GB. With tiles from the
 * budget (fresh process on wasm, widths 80/160, crops of the Étretat painting): 768 MiB gave
 * 160-px tiles on 320×256 and a peak RSS of 630 MiB; 1024 MiB, 196-px tiles on 800×600, peak
 * 1016 MiB; 1280 MiB, the whole 320×256 image in one tile, peak 1054 MiB.
 */
const FLOATS_PER_C0 = 28;
const FLOATS_PER_C1 = 2;

/** Estimated peak tensor bytes of G.forward on an h×w window (the weights not included). */
export function styleGan2TileBytes(cfg: StyleGan2GeneratorConfig, h: number, w: number): number {
  return 4 * h * w * (FLOATS_PER_C0 * cfg.c0 + FLOATS_PER_C1 * cfg.c1);
}

/**
 * The largest single tensor of G.forward on an h×w window, in bytes (what one GPU buffer must
 * hold on webgpu): the transposed conv's (2·h/2 + 1)² output and its padded copy at c0, the
 * half-resolution maps at c1, or the input.
 */
export function styleGan2LargestTensorBytes(
  cfg: StyleGan2GeneratorConfig,
  h: number,
  w: number,
): number {
  const full = (h + 3) * (w + 3) * Math.max(cfg.c0, 3);
  const half = (h / 2 + 2) * (w / 2 + 2) * cfg.c1;
  return 4 * Math.max(full, half);
}

/**
 * The largest core tile (a multiple of 4) whose window — the tile and its halo, clipped to the
 * image — fits `bytes` and whose largest tensor fits `maxTensorBytes`; if none does, the
 * smallest worth running (sinCutMinTile: its core at least the halo).
 */
export function chooseSinCutTile(
  cfg: StyleGan2GeneratorConfig,
  size: { width: number; height: number },
  bytes: number,
  maxTensorBytes = Infinity,
): number {
  const halo = styleGan2Halo(cfg.nBlocks);
  const fits = (tile: number) => {
    const h = Math.min(size.height, tile + 2 * halo);
    const w = Math.min(size.width, tile + 2 * halo);
    return (
      styleGan2TileBytes(cfg, h, w) <= bytes &&
      (maxTensorBytes === Infinity || styleGan2LargestTensorBytes(cfg, h, w) <= maxTensorBytes)
    );
  };
  return largestTile(Math.max(size.width, size.height), fits, sinCutMinTile(cfg, size));
}

/** The smallest tile worth running (tiling.ts haloFloorTile): 52 px at 9 blocks. */
export function sinCutMinTile(
  cfg: StyleGan2GeneratorConfig,
  size: { width: number; height: number },
): number {
  return haloFloorTile(styleGan2Halo(cfg.nBlocks), Math.max(size.width, size.height));
}

/** Estimated bytes of one tile's forward pass on an image of `size`, its window clipped to it. */
function sinCutWindowBytes(
  cfg: StyleGan2GeneratorConfig,
  size: { width: number; height: number },
  tile: number,
): number {
  const halo = styleGan2Halo(cfg.nBlocks);
  const h = Math.min(size.height, tile + 2 * halo);
  const w = Math.min(size.width, tile + 2 * halo);
  return styleGan2TileBytes(cfg, h, w);
}

export interface SinCutTileOptions extends BudgetOptions {
  /**
   * Core side of a tile in pixels, rounded down to a multiple of 4 (and kept within a GPU's
   * buffer limit); default: the largest that the memory budget allows.
   */
  tile?: number;
  noiseSeed?: number;
  /** Called after each tile with (done, total); the total grows after an out-of-memory retry. */
  onTile?: (done: number, total: number) => void;
  /** The core tile side in use: once at the start, and again after each out-of-memory retry. */
  onTileSize?: (tile: number) => void;
  /**
   * Runs the generator on one window instead of G.forward (ONNX Runtime: sincut-onnx.ts):
   * `input` [h, w, 3] and `noise` [h, w] → the unclamped output [h, w, 3], all HWC.
   */
  forward?: WindowForward;
}

/** The generator on an h×w window (even sides): HWC input and noise → HWC output. */
export type WindowForward = (
  input: Float32Array,
  noise: Float32Array,
  h: number,
  w: number,
) => Promise<Float32Array>;

interface Cell {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** [H, W, 3] in [−1, 1] → the same size, clamped to [−1, 1]. Leaves no tensor behind. */
export async function translateSinCut(
  G: StyleGan2Generator,
  image: RgbFloatImage,
  opts: SinCutTileOptions = {},
): Promise<RgbFloatImage> {
  const { width, height } = image;
  // Even sides for the network: replicate the last row / column, cropped away at the end.
  const W = width + (width % 2);
  const H = height + (height % 2);
  const src = W === width && H === height ? image.data : padToEven(image, W, H);
  const size = { width: W, height: H };
  const gpuLimit = gpuBufferLimitBytes();
  const working = opts.tile === undefined ? workingBytes(image, opts) : Infinity;
  let tile =
    opts.tile !== undefined
      ? Math.min(roundTile(opts.tile), chooseSinCutTile(G.config, size, Infinity, gpuLimit))
      : chooseSinCutTile(G.config, size, working, gpuLimit);
  const halo = styleGan2Halo(G.config.nBlocks);
  const need = sinCutWindowBytes(G.config, size, tile);
  if (need > working) opts.onOverBudget?.(overBudgetMessage(tile, halo, need, working));
  opts.onTileSize?.(tile);
  // A tile's core is never smaller than its halo, unless one was asked for.
  const floor = { tile: sinCutMinTile(G.config, size), halo };
  const seed = opts.noiseSeed ?? NOISE_SEED;
  const out = new Float32Array(width * height * 3);

  const runTile = async (core: Cell): Promise<void> => {
    const top = Math.max(0, core.top - halo);
    const left = Math.max(0, core.left - halo);
    const bottom = Math.min(H, core.top + core.height + halo);
    const right = Math.min(W, core.left + core.width + halo);
    const region = cropRegion(src, W, top, left, bottom - top, right - left);
    const noise = positionalNoise(seed, top, left, bottom - top, right - left);
    const data = opts.forward
      ? cropWindow(
          await opts.forward(region, noise, bottom - top, right - left),
          right - left,
          core.top - top,
          core.left - left,
          core,
        )
      : await forwardTf(G, region, noise, bottom - top, right - left, {
          top: core.top - top,
          left: core.left - left,
          height: core.height,
          width: core.width,
        });
    const n = Math.min(core.width, width - core.left);
    for (let r = 0; r < core.height && n > 0; r++) {
      const oy = core.top + r;
      if (oy >= height) break;
      const from = r * core.width * 3;
      out.set(data.subarray(from, from + n * 3), (oy * width + core.left) * 3);
    }
  };

  // The grid is laid at the first tile size; after an out-of-memory failure a cell is covered
  // by smaller tiles, and so is every later one (a tile written twice gets the same values).
  const cells = grid({ top: 0, left: 0, height: H, width: W }, tile);
  let done = 0;
  for (const [i, cell] of cells.entries()) {
    const before = done;
    const shrunk = await shrinkOnOutOfMemory(
      tile,
      async (t) => {
        done = before; // a retried cell counts its tiles again
        const parts = grid(cell, t);
        const total = before + parts.length + countTiles(cells, i + 1, t);
        for (const part of parts) {
          await runTile(part);
          done += 1;
          opts.onTile?.(done, total);
        }
      },
      floor,
    );
    if (shrunk !== tile) {
      tile = shrunk;
      opts.onTileSize?.(tile);
    }
  }
  return { data: out, width, height };
}

/**
 * The encoder's maps at `taps` for the image reflect-padded to multiples of 4 (as
 * padToMultipleOf4 pads it), computed tile by tile with the translation's halo and joined:
 * equal to G.encode on the whole padded image, with the tensors of one tile at a time besides
 * the joined maps. [1, H', W', 3] for `input`, [1, H'/2, W'/2, c1] for the others; the caller
 * disposes them. `tile` (rounded down to a multiple of 4) is the core side, e.g. the one the
 * translation chose: the encoder is a part of the forward pass, so it fits where that did.
 */
export function encodeSinCut(
  G: StyleGan2Generator,
  image: RgbFloatImage,
  taps: readonly NceTap[],
  tile: number,
): tf.Tensor4D[] {
  const H = Math.ceil(image.height / 4) * 4;
  const W = Math.ceil(image.width / 4) * 4;
  const t = roundTile(tile);
  const halo = styleGan2Halo(G.config.nBlocks);
  const scale = (tap: NceTap) => (tap === 'input' ? 1 : 2);
  const rows: tf.Tensor4D[][] = taps.map(() => []);
  try {
    for (let top = 0; top < H; top += t) {
      const parts: tf.Tensor4D[][] = taps.map(() => []);
      try {
        for (let left = 0; left < W; left += t) {
          const core = { top, left, height: Math.min(t, H - top), width: Math.min(t, W - left) };
          const y = { start: Math.max(0, top - halo), end: Math.min(H, top + core.height + halo) };
          const x = { start: Math.max(0, left - halo), end: Math.min(W, left + core.width + halo) };
          const region = readImage(image, { y, x });
          const feats = tf.tidy(() => {
            const input = tf.tensor4d(region, [1, y.end - y.start, x.end - x.start, 3]);
            return G.encode(input, taps).map((f, i) => {
              const s = scale(taps[i]);
              return tf.slice(
                f,
                [0, (top - y.start) / s, (left - x.start) / s, 0],
                [1, core.height / s, core.width / s, -1],
              );
            });
          });
          feats.forEach((f, i) => parts[i].push(f));
        }
        parts.forEach((p, i) => rows[i].push(tf.concat(p, 2)));
      } finally {
        parts.forEach((p) => tf.dispose(p));
      }
    }
    return rows.map((r) => tf.concat(r, 1));
  } finally {
    rows.forEach((r) => tf.dispose(r));
  }
}

/** G.forward on a window, cropped to `core` (relative to the window) and clamped. */
async function forwardTf(
  G: StyleGan2Generator,
  region: Float32Array,
  noise: Float32Array,
  h: number,
  w: number,
  core: Cell,
): Promise<Float32Array> {
  const y = tf.tidy(() => {
    const x = tf.tensor4d(region, [1, h, w, 3]);
    const n = tf.tensor4d(noise, [1, h, w, 1]);
    const g = G.forward(x, n);
    const c = tf.slice(g, [0, core.top, core.left, 0], [1, core.height, core.width, 3]);
    return tf.clipByValue(c, -1, 1);
  });
  try {
    return (await y.data()) as Float32Array;
  } finally {
    y.dispose();
  }
}

/** The core of a window's HWC output (window width `w`), clamped to [−1, 1]. */
function cropWindow(out: Float32Array, w: number, top: number, left: number, core: Cell) {
  const data = new Float32Array(core.height * core.width * 3);
  for (let r = 0; r < core.height; r++) {
    const from = ((top + r) * w + left) * 3;
    const row = out.subarray(from, from + core.width * 3);
    for (let i = 0; i < row.length; i++) {
      data[r * core.width * 3 + i] = Math.max(-1, Math.min(1, row[i]));
    }
  }
  return data;
}

/** Tiles of side `tile` that cells[from…] take. */
function countTiles(cells: readonly Cell[], from: number, tile: number): number {
  let n = 0;
  for (let i = from; i < cells.length; i++) {
    n += Math.ceil(cells[i].height / tile) * Math.ceil(cells[i].width / tile);
  }
  return n;
}

/** Row-major tiles of side `tile` covering a cell (the last row and column may be narrower). */
function grid(cell: Cell, tile: number): Cell[] {
  const out: Cell[] = [];
  for (let y = cell.top; y < cell.top + cell.height; y += tile) {
    for (let x = cell.left; x < cell.left + cell.width; x += tile) {
      out.push({
        top: y,
        left: x,
        height: Math.min(tile, cell.top + cell.height - y),
        width: Math.min(tile, cell.left + cell.width - x),
      });
    }
  }
  return out;
}

function padToEven(image: RgbFloatImage, W: number, H: number): Float32Array {
  const { width, height, data } = image;
  const out = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(y, height - 1);
    out.set(data.subarray(sy * width * 3, (sy + 1) * width * 3), y * W * 3);
    if (W > width)
      out.set(
        data.subarray((sy * width + width - 1) * 3, (sy + 1) * width * 3),
        (y * W + width) * 3,
      );
  }
  return out;
}

function cropRegion(
  src: Float32Array,
  W: number,
  top: number,
  left: number,
  h: number,
  w: number,
): Float32Array {
  const out = new Float32Array(h * w * 3);
  for (let r = 0; r < h; r++) {
    const s = ((top + r) * W + left) * 3;
    out.set(src.subarray(s, s + w * 3), r * w * 3);
  }
  return out;
}
