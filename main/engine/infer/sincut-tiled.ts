/**
 * Full-resolution translation with SinCUT's StyleGAN2 generator, tile by tile. The generator
 * has no normalisation layer, so an output pixel depends only on the input within its
 * receptive field: a tile computed with a halo at least that wide, and cropped back to its
 * core, equals the untiled result there. Tiles at the image's edge reach it, so the
 * zero padding of every conv falls where the untiled pass has it too. Noise comes from
 * absolute positions (positional-noise.ts), so tiles agree. Memory is bounded by the tile.
 */
import * as tf from '@tensorflow/tfjs';
import { NOISE_SEED, positionalNoise } from '../model/positional-noise';
import type { StyleGan2Generator } from '../model/stylegan2-generator';
import type { RgbFloatImage } from './translate';

/**
 * Input pixels either side that reach an output pixel, rounded up to even: 1×1 stem, the
 * downsampling block (~5), two 3×3 convs per residual block at half resolution (4 full-res
 * pixels each), the upsampling conv and its blur (~4).
 */
export function styleGan2Halo(nBlocks: number): number {
  return 16 + 4 * nBlocks;
}

export interface SinCutTileOptions {
  /** Core side of a tile in pixels (even); default 256 (a 512 tile at widths 80/160 peaks at 3.7 GB). */
  tile?: number;
  noiseSeed?: number;
  /** Called after each tile with (done, total). */
  onTile?: (done: number, total: number) => void;
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
  const tile = Math.max(2, (opts.tile ?? 256) & ~1);
  const halo = styleGan2Halo(G.config.nBlocks);
  const seed = opts.noiseSeed ?? NOISE_SEED;
  const out = new Float32Array(width * height * 3);
  const rows = Math.ceil(H / tile);
  const cols = Math.ceil(W / tile);
  let done = 0;
  for (let ty = 0; ty < rows; ty++) {
    for (let tx = 0; tx < cols; tx++) {
      const core = { top: ty * tile, left: tx * tile };
      const coreH = Math.min(tile, H - core.top);
      const coreW = Math.min(tile, W - core.left);
      const top = Math.max(0, core.top - halo);
      const left = Math.max(0, core.left - halo);
      const bottom = Math.min(H, core.top + coreH + halo);
      const right = Math.min(W, core.left + coreW + halo);
      const region = cropRegion(src, W, top, left, bottom - top, right - left);
      const noise = positionalNoise(seed, top, left, bottom - top, right - left);
      const y = tf.tidy(() => {
        const x = tf.tensor4d(region, [1, bottom - top, right - left, 3]);
        const n = tf.tensor4d(noise, [1, bottom - top, right - left, 1]);
        const g = G.forward(x, n);
        const c = tf.slice(g, [0, core.top - top, core.left - left, 0], [1, coreH, coreW, 3]);
        return tf.clipByValue(c, -1, 1);
      });
      const data = await y.data();
      y.dispose();
      for (let r = 0; r < coreH; r++) {
        const oy = core.top + r;
        if (oy >= height) break;
        const n = Math.min(coreW, width - core.left);
        if (n <= 0) break;
        out.set(data.subarray(r * coreW * 3, (r * coreW + n) * 3), (oy * width + core.left) * 3);
      }
      done += 1;
      opts.onTile?.(done, rows * cols);
    }
  }
  return { data: out, width, height };
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
