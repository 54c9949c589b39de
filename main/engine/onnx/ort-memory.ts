/**
 * What ONNX Runtime's CPU provider holds while it translates, measured, so that its tiles and
 * its choice between the whole graph and tiles are sized by its own memory rather than by
 * TF.js's (whose layer code keeps every temporary of a layer until it returns, 3–4× more).
 *
 * How it was measured (onnxruntime-node 1.31.1, CPU provider, 2 threads, Linux x64, Node 20):
 * random-init CUT generators (1 block; the quarter-resolution passes are all alike), one fresh
 * process per configuration, glibc told to return freed memory at once
 * (MALLOC_MMAP_THRESHOLD_=131072, MALLOC_TRIM_THRESHOLD_=0) so that a run's growth shows. The
 * peak resident set of one run (VmHWM, reset through /proc/self/clear_refs before it) less the
 * resident set just before it:
 * - Tiles (stage-graph.ts, arenas off): every pass of a mid-image tile of side T on a 3T × 3T
 *   image, T = 128, 256 and 512 at ngf 16, 32 and 64. The largest pass (the first residual
 *   pass, which recomputes the encoder from the image) grew by 8.2, 29.6 and 111 MiB at ngf 16,
 *   16.8, 59.5 and 207 MiB at ngf 32, 33.7, 119 and 415 MiB at ngf 64: linear in the window's
 *   area and in ngf. passTileBytes with ORT_TILE_MEMORY (each step holds its input and output,
 *   the resamplers' padded full result twice) estimates every pass above its measured growth
 *   (measured / estimate 0.66–0.99 for passes above 4 MiB; 0.71–0.77 for the largest pass,
 *   which sizes the tile): an upper estimate with about a quarter to spare. (Measured with the
 *   upsample as a depthwise ConvTranspose over a padded copy; its Resize since holds less.) TF.js's model
 *   (TFJS_TILE_MEMORY) gives 3.1–4.4× these growths, so ORT's tiles are about 1.8× wider.
 * - Whole graph (export/onnx-export.ts, arena on as conversion runs it), 256², 512² and 1024²:
 *   45, 177 and 703 MiB at ngf 16, 73, 343 and 1362 MiB at ngf 32, 171 MiB at 256² and ngf 64:
 *   9.1–11.3 floats per pixel per ngf (the arena grows in doubling chunks).
 */
import type { TileMemoryModel } from '../infer/stage-plan';

/**
 * Per step of a tile: its input plus this many times its larger side (stage-plan.ts).
 * CycleGAN's strided and transposed convs (convDown, convUp) are rated like CUT's resamplers,
 * not measured.
 */
export const ORT_TILE_MEMORY: TileMemoryModel = {
  ops: { conv: 1, convDown: 1, convUp: 2, blurDown: 1, upsample: 2, tanh: 1 },
  source: 1,
};

/**
 * Floats per padded image pixel, per ngf, that the whole generator's graph adds to the resident
 * set at its peak (arena on): the largest measured (11.3, see the module comment), rounded up.
 */
export const UNTILED_FLOATS_PER_PIXEL_PER_NGF = 12;
