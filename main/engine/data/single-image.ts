/**
 * Single-image training data (reference: data/singleimage_dataset.py with preprocess
 * `zoom_and_patch`). Each image is decoded once. For every minibatch one zoom per axis is
 * drawn from U(zoomMin, 1) for the source and one for the target (shared by the batch, as the
 * reference does); the zoomed image (never smaller than a crop) is cut into a grid of
 * crop-size cells at a random offset, and each image of the batch takes a different cell,
 * flipped at random. Only the pixels of the chosen cells are resampled, with an antialiased
 * bilinear (triangle) filter like PIL's, so a step costs the same for any image size.
 */
import { decodeImage, openImage, resizeForTraining } from './image-io';
import type { Rng } from '../rng';

/** An image as [H, W, 3] floats in [−1, 1]. */
export interface SingleImage {
  file: string;
  rgb: Float32Array;
  width: number;
  height: number;
  /** The file's own size (the training copy may be smaller, see `maxTrainPixels`). */
  fileWidth: number;
  fileHeight: number;
  grayscale: boolean;
}

export class SingleImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SingleImageError';
  }
}

/** Images below this side cannot be learned from at all. */
export const MIN_SIDE = 16;
/** Larger images are trained on a scaled copy (decoding 100 Mpx each step is not an option). */
export const DEFAULT_MAX_TRAIN_PIXELS = 4_000_000;

export async function loadSingleImage(
  file: string,
  maxTrainPixels = DEFAULT_MAX_TRAIN_PIXELS,
): Promise<SingleImage> {
  const image = await openImage(file);
  const { width, height, channels, space } = image.info;
  const grayscale = channels <= 2 || space === 'b-w' || space === 'grey16';
  const base = { file, fileWidth: width, fileHeight: height, grayscale };
  if (width * height <= maxTrainPixels) {
    const d = await decodeImage(image);
    return { ...base, rgb: d.rgb, width: d.width, height: d.height };
  }
  const s = Math.sqrt(maxTrainPixels / (width * height));
  const w = Math.max(1, Math.round(width * s));
  const h = Math.max(1, Math.round(height * s));
  const out = await resizeForTraining(image, {
    resize: { width: w, height: h },
    crop: { left: 0, top: 0, width: w, height: h },
    flip: false,
  });
  return { ...base, rgb: out.data, width: out.width, height: out.height };
}

/**
 * What a pair of images means for training: an error for what cannot work, warnings for what
 * works differently than one might expect.
 */
export function checkSinglePair(
  a: SingleImage,
  b: SingleImage,
  cropSize: number,
  roles = { a: 'Source image', b: 'Target image' },
): string[] {
  const warnings: string[] = [];
  for (const [img, role] of [
    [a, roles.a],
    [b, roles.b],
  ] as const) {
    const min = Math.min(img.fileWidth, img.fileHeight);
    const size = `${img.fileWidth}×${img.fileHeight}`;
    if (min < MIN_SIDE) {
      throw new SingleImageError(
        `${role} ${img.file} is ${size} px: too small to learn from (at least ${MIN_SIDE} px a side).`,
      );
    }
    if (min < cropSize) {
      warnings.push(
        `${role} is ${size} px, smaller than the ${cropSize}-px training crop: it is enlarged to ` +
          `the crop (as the reference does), so training sees few distinct patches. A smaller ` +
          `--crop-size suits it better.`,
      );
    }
    const aspect = Math.max(img.fileWidth, img.fileHeight) / min;
    if (aspect > 8) {
      warnings.push(
        `${role} is ${size} px (${aspect.toFixed(0)}:1): crops come from a strip ` +
          `${min} px wide; the translation still covers the whole image.`,
      );
    }
    if (img.width !== img.fileWidth) {
      warnings.push(
        `${role} has ${((img.fileWidth * img.fileHeight) / 1e6).toFixed(1)} Mpx: training uses ` +
          `a copy scaled to ${img.width}×${img.height}; the translation uses the full image.`,
      );
    }
  }
  if (a.grayscale !== b.grayscale) {
    const [gray, colour] = a.grayscale ? [roles.a, roles.b] : [roles.b, roles.a];
    warnings.push(
      `${gray} is grayscale and ${colour.toLowerCase()} is in colour: it is read as RGB, so ` +
        `the style learns to ${a.grayscale ? 'add' : 'remove'} colour.`,
    );
  }
  return warnings;
}

export interface SingleImageBatch {
  /** [n, crop, crop, 3] each. */
  a: Float32Array;
  b: Float32Array;
  n: number;
  crop: number;
}

export interface SamplerOptions {
  batchSize: number;
  cropSize: number;
  zoomMin: number;
  flip: boolean;
}

export class SingleImageSampler {
  constructor(
    readonly a: SingleImage,
    readonly b: SingleImage,
    readonly opts: SamplerOptions,
  ) {}

  /** One minibatch of crops from each image; all randomness from `rng`. */
  next(rng: Rng): SingleImageBatch {
    const { batchSize: n, cropSize: crop } = this.opts;
    return { a: this.crops(this.a, rng), b: this.crops(this.b, rng), n, crop };
  }

  private crops(img: SingleImage, rng: Rng): Float32Array {
    const { batchSize: n, cropSize: crop, zoomMin, flip } = this.opts;
    const zx = rng.uniform(zoomMin, 1);
    const zy = rng.uniform(zoomMin, 1);
    // The zoomed size, never below a crop (the reference's max(crop, side·zoom)).
    const zw = Math.max(crop, Math.round(img.width * zx));
    const zh = Math.max(crop, Math.round(img.height * zy));
    const nx = Math.floor(zw / crop);
    const ny = Math.floor(zh / crop);
    const cells = rng.sampleWithoutReplacement(nx * ny, Math.min(n, nx * ny));
    const out = new Float32Array(n * crop * crop * 3);
    for (let i = 0; i < n; i++) {
      const cell = cells[i % cells.length];
      const left = rng.int(zw - nx * crop + 1) + Math.floor(cell / ny) * crop;
      const top = rng.int(zh - ny * crop + 1) + (cell % ny) * crop;
      const flipped = flip && rng.next() < 0.5;
      const patch = resampleRegion(img, zw, zh, left, top, crop, flipped);
      out.set(patch, i * crop * crop * 3);
    }
    return out;
  }
}

interface AxisFilter {
  start: Int32Array;
  count: Int32Array;
  /** `taps` weights per output position. */
  weights: Float32Array;
  taps: number;
}

/**
 * Antialiased bilinear weights for output positions [from, from + len) of an axis scaled from
 * `inSize` to `outSize`: a triangle of half-width max(1, inSize/outSize) around each output
 * pixel's centre in input coordinates, normalised (PIL's BILINEAR resampling).
 */
function axisFilter(from: number, len: number, inSize: number, outSize: number): AxisFilter {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const taps = Math.ceil(support) * 2 + 2;
  const start = new Int32Array(len);
  const count = new Int32Array(len);
  const weights = new Float32Array(len * taps);
  for (let i = 0; i < len; i++) {
    const centre = (from + i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize, Math.ceil(centre + support));
    let sum = 0;
    const k = Math.min(taps, hi - lo);
    for (let j = 0; j < k; j++) {
      const w = Math.max(0, 1 - Math.abs((lo + j + 0.5 - centre) / support));
      weights[i * taps + j] = w;
      sum += w;
    }
    for (let j = 0; j < k; j++) weights[i * taps + j] /= sum || 1;
    start[i] = lo;
    count[i] = k;
  }
  return { start, count, weights, taps };
}

/** The crop×crop window at (left, top) of `img` zoomed to zw×zh: [crop, crop, 3]. */
export function resampleRegion(
  img: SingleImage,
  zw: number,
  zh: number,
  left: number,
  top: number,
  crop: number,
  flipped: boolean,
): Float32Array {
  const fx = axisFilter(left, crop, img.width, zw);
  const fy = axisFilter(top, crop, img.height, zh);
  const r0 = fy.start[0];
  const r1 = fy.start[crop - 1] + fy.count[crop - 1];
  const rows = r1 - r0;
  // Horizontal pass over the source rows the window needs: [rows, crop, 3].
  const tmp = new Float32Array(rows * crop * 3);
  const src = img.rgb;
  const w = img.width;
  for (let r = 0; r < rows; r++) {
    const rowBase = (r0 + r) * w * 3;
    for (let x = 0; x < crop; x++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      const base = x * fx.taps;
      for (let k = 0; k < fx.count[x]; k++) {
        const wt = fx.weights[base + k];
        const p = rowBase + (fx.start[x] + k) * 3;
        s0 += wt * src[p];
        s1 += wt * src[p + 1];
        s2 += wt * src[p + 2];
      }
      const q = (r * crop + x) * 3;
      tmp[q] = s0;
      tmp[q + 1] = s1;
      tmp[q + 2] = s2;
    }
  }
  // Vertical pass, flipping columns on the way out when asked.
  const out = new Float32Array(crop * crop * 3);
  for (let y = 0; y < crop; y++) {
    const base = y * fy.taps;
    for (let x = 0; x < crop; x++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      for (let k = 0; k < fy.count[y]; k++) {
        const wt = fy.weights[base + k];
        const q = ((fy.start[y] + k - r0) * crop + x) * 3;
        s0 += wt * tmp[q];
        s1 += wt * tmp[q + 1];
        s2 += wt * tmp[q + 2];
      }
      const o = (y * crop + (flipped ? crop - 1 - x : x)) * 3;
      out[o] = s0;
      out[o + 1] = s1;
      out[o + 2] = s2;
    }
  }
  return out;
}
