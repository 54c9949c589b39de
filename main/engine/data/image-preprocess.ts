/**
 * Training preprocessing (reference: data/base_dataset.py get_params/get_transform): the
 * geometry (resize, random crop, flip, multiple-of-4 sides) planned from the options and
 * executed as one sharp pipeline with its bicubic kernel.
 */
import type { PreprocessMode } from '../../../shared/options';
import type { Rng } from '../rng';
import {
  asPixelArray,
  pixelsToFloat,
  runPipeline,
  type OpenedImage,
  type PixelBuffer,
  type ReadOptions,
} from './image-decode';

export interface PreprocessParams {
  mode: PreprocessMode;
  loadSize: number;
  cropSize: number;
  flip: boolean;
  /** 'none' only: the long side is scaled down to this when larger (default 1024). */
  maxSize?: number;
}

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Geometry for one training sample, in upright (orientation-applied) coordinates. */
export interface PreprocessPlan {
  resize: { width: number; height: number };
  crop: Rect;
  flip: boolean;
}

export const DEFAULT_MAX_SIZE = 1024;

/**
 * Where to resize and crop an upright width×height image. Random draws, in order: crop x,
 * crop y (random-crop modes only), flip (when enabled). Images smaller than the crop are
 * scaled up; the dataset decides beforehand whether to accept them.
 */
export function planPreprocess(
  width: number,
  height: number,
  params: PreprocessParams,
  rng: Rng,
): PreprocessPlan {
  const resize = resizeTarget(width, height, params);
  const crop = cropFor(resize.width, resize.height, params, rng);
  return { resize, crop, flip: params.flip && rng.next() < 0.5 };
}

function resizeTarget(
  w: number,
  h: number,
  p: PreprocessParams,
): { width: number; height: number } {
  // Crop modes never resize below the crop, whatever loadSize says.
  const load = Math.max(p.loadSize, p.cropSize);
  switch (p.mode) {
    case 'resize_and_crop':
      return scaleShortSide(w, h, load);
    case 'square_resize_and_crop':
      return { width: load, height: load };
    case 'crop':
      return Math.min(w, h) < p.cropSize
        ? scaleShortSide(w, h, p.cropSize)
        : { width: w, height: h };
    case 'scale_width_and_crop':
      return { width: load, height: Math.max(Math.round((load * h) / w), p.cropSize) };
    case 'scale_width':
      // Reference __scale_width keeps the height at least cropSize, then __make_power_2 rounds
      // both sides to multiples of 4; one resize does both here.
      return {
        width: roundTo4(p.loadSize),
        height: roundTo4(Math.max((p.loadSize * h) / w, p.cropSize)),
      };
    case 'none':
      return fitInside(w, h, p.maxSize ?? DEFAULT_MAX_SIZE);
  }
}

function cropFor(w: number, h: number, p: PreprocessParams, rng: Rng): Rect {
  if (p.mode === 'scale_width') return { left: 0, top: 0, width: w, height: h };
  if (p.mode === 'none') {
    // Sides rounded down to multiples of 4 by trimming (centred) rather than resampling.
    const width = Math.floor(w / 4) * 4;
    const height = Math.floor(h / 4) * 4;
    return { left: (w - width) >> 1, top: (h - height) >> 1, width, height };
  }
  const size = p.cropSize;
  return { left: rng.int(w - size + 1), top: rng.int(h - size + 1), width: size, height: size };
}

function scaleShortSide(w: number, h: number, short: number): { width: number; height: number } {
  const s = short / Math.min(w, h);
  return { width: Math.max(short, Math.round(w * s)), height: Math.max(short, Math.round(h * s)) };
}

function fitInside(w: number, h: number, maxSide: number): { width: number; height: number } {
  // Never below 4×4, the smallest size the generator accepts.
  const s = Math.min(1, maxSide / Math.max(w, h));
  return { width: Math.max(4, Math.round(w * s)), height: Math.max(4, Math.round(h * s)) };
}

function roundTo4(x: number): number {
  return Math.max(4, Math.round(x / 4) * 4);
}

/**
 * Executes a plan in one sharp pipeline (orient, colour-convert, drop alpha, bicubic resize,
 * crop) and returns [H, W, 3] floats in [-1, 1], flipped in JS so the flip is unambiguously
 * applied after the crop, as in the reference.
 */
export async function resizeForTraining(
  image: OpenedImage,
  plan: PreprocessPlan,
  opts: ReadOptions = {},
): Promise<{ data: Float32Array; width: number; height: number }> {
  const { resize, crop } = plan;
  // Alpha is dropped without compositing, as the reference's PIL convert('RGB') does. resize()
  // is always called, even at the same size, so that extract() crops after it (sharp orders
  // extract before or after resize by whether a resize was requested).
  const { data, info } = await runPipeline(image, opts, (p) =>
    p
      .removeAlpha()
      .resize(resize.width, resize.height, { fit: 'fill', kernel: 'cubic' })
      .extract(crop),
  );
  const pixels: PixelBuffer = {
    data: asPixelArray(data, image.info.bitDepth),
    width: info.width,
    height: info.height,
    channels: 3,
  };
  const { rgb } = pixelsToFloat(pixels, image.info.bitDepth);
  if (plan.flip) flipHorizontal(rgb, info.width, info.height, 3);
  return { data: rgb, width: info.width, height: info.height };
}

/** Mirrors an HWC image left–right in place. */
export function flipHorizontal(data: Float32Array, width: number, height: number, c: number): void {
  for (let y = 0; y < height; y++) {
    const row = y * width * c;
    for (let x = 0; x < width >> 1; x++) {
      const a = row + x * c;
      const b = row + (width - 1 - x) * c;
      for (let k = 0; k < c; k++) {
        const t = data[a + k];
        data[a + k] = data[b + k];
        data[b + k] = t;
      }
    }
  }
}
