/**
 * Reading images (DESIGN.md "Images in and out"), on sharp/libvips: decode JPEG, PNG, WebP,
 * TIFF, AVIF (and GIF) to sRGB with EXIF orientation applied, colour converted from the
 * embedded ICC profile (CMYK, grey, palette, 16-bit included), as HWC floats in [-1, 1] the
 * way the reference's ToTensor + Normalize(0.5, 0.5) produces them. The one sharp pipeline
 * here (runPipeline) also serves the training preprocessing (image-preprocess.ts).
 */
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { isSrgbProfile } from './image-colour';
import { ImageReadError } from './image-errors';

export type ImageInput = string | Buffer;

/** sharp's own `limitInputPixels` default, 0x3FFF² ≈ 268 Mpx. */
export const DEFAULT_MAX_PIXELS = 0x3fff * 0x3fff;

export interface ReadOptions {
  /** Refuse images with more pixels than this before decoding them (decompression bombs). */
  maxPixels?: number;
  /** Name used in error messages when the input is a Buffer. */
  name?: string;
  /** sharp's `failOn`: 'warning' (default) rejects truncated data; 'none' decodes what is there. */
  failOn?: 'none' | 'truncated' | 'error' | 'warning';
}

export interface ImageInfo {
  /** Size as displayed, i.e. after the EXIF orientation is applied. */
  width: number;
  height: number;
  /** Size as stored in the file. */
  storedWidth: number;
  storedHeight: number;
  format: string;
  channels: number;
  hasAlpha: boolean;
  bitDepth: 8 | 16;
  hasIcc: boolean;
  /** EXIF orientation 1–8 (1 when absent). */
  orientation: number;
  /** libvips' interpretation of the stored pixels: srgb, cmyk, b-w, rgb16, grey16, … */
  space: string;
}

/** The colour and metadata blocks of a source image, for re-embedding on output. */
export interface SourceMetadata {
  icc: Buffer | null;
  exif: Buffer | null;
  xmp: Buffer | null;
}

/** A file read into memory with its header parsed and checked: decode it without re-reading. */
export interface OpenedImage {
  name: string;
  buffer: Buffer;
  info: ImageInfo;
  metadata: SourceMetadata;
}

/** sRGB pixels as sharp returns them: interleaved HWC, 3 (RGB) or 4 (RGBA) channels. */
export interface PixelBuffer {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Upright sRGB pixels at the source's precision (16-bit where it has more than 8 bits). */
export interface DecodedPixels extends PixelBuffer {
  bitDepth: 8 | 16;
  format: string;
  hasIcc: boolean;
  orientation: number;
  metadata: SourceMetadata;
}

export interface DecodedImage extends DecodedPixels {
  /** [H, W, 3] in [-1, 1]. */
  rgb: Float32Array;
  /** [H, W] in [0, 1], or null when the image has no alpha channel. */
  alpha: Float32Array | null;
}

const READABLE_FORMATS = new Set(['jpeg', 'png', 'webp', 'tiff', 'heif', 'gif']);

/** Cheap header read for folder scans: sizes, format, channels; the pixels are not decoded. */
export async function readImageInfo(input: ImageInput, opts: ReadOptions = {}): Promise<ImageInfo> {
  const name = typeof input === 'string' ? input : (opts.name ?? '<buffer>');
  if (typeof input === 'string') await checkFile(input);
  else if (input.length === 0) throw new ImageReadError('empty', name);
  return toInfo(await readMetadata(input, name), name, opts);
}

/** Reads a file once and checks its header (format, pixel limit) before anything decodes it. */
export async function openImage(input: ImageInput, opts: ReadOptions = {}): Promise<OpenedImage> {
  const { buffer, name } = await readInput(input, opts.name);
  const meta = await readMetadata(buffer, name);
  return {
    name,
    buffer,
    info: toInfo(meta, name, opts),
    metadata: { icc: meta.icc ?? null, exif: meta.exif ?? null, xmp: meta.xmp ?? null },
  };
}

/** Decodes to integer sRGB pixels, without the float copy (large images for tiling). */
export async function decodeImagePixels(
  input: ImageInput | OpenedImage,
  opts: ReadOptions = {},
): Promise<DecodedPixels> {
  const image = isOpened(input) ? input : await openImage(input, opts);
  const { data, info } = await runPipeline(image, opts, (p) => p);
  const bitDepth = image.info.bitDepth;
  return {
    data: asPixelArray(data, bitDepth),
    width: info.width,
    height: info.height,
    channels: info.channels === 4 ? 4 : 3,
    bitDepth,
    format: image.info.format,
    hasIcc: image.info.hasIcc,
    orientation: image.info.orientation,
    metadata: image.metadata,
  };
}

/** Decodes to HWC floats in [-1, 1] plus alpha, keeping the integer sRGB pixels as well. */
export async function decodeImage(
  input: ImageInput | OpenedImage,
  opts: ReadOptions = {},
): Promise<DecodedImage> {
  const pixels = await decodeImagePixels(input, opts);
  return { ...pixels, ...pixelsToFloat(pixels, pixels.bitDepth) };
}

/** [-1, 1] floats from integer pixels: v / max · 2 − 1, alpha v / max. */
export function pixelsToFloat(
  pixels: PixelBuffer,
  bitDepth: 8 | 16,
): { rgb: Float32Array; alpha: Float32Array | null } {
  const max = bitDepth === 16 ? 65535 : 255;
  const { data, channels } = pixels;
  const n = pixels.width * pixels.height;
  const rgb = new Float32Array(n * 3);
  const alpha = channels === 4 ? new Float32Array(n) : null;
  const scale = 2 / max;
  for (let i = 0; i < n; i++) {
    const s = i * channels;
    rgb[i * 3] = data[s] * scale - 1;
    rgb[i * 3 + 1] = data[s + 1] * scale - 1;
    rgb[i * 3 + 2] = data[s + 2] * scale - 1;
    if (alpha) alpha[i] = data[s + 3] / max;
  }
  return { rgb, alpha };
}

function isOpened(input: ImageInput | OpenedImage): input is OpenedImage {
  return typeof input === 'object' && !Buffer.isBuffer(input);
}

async function checkFile(file: string): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (err) {
    throw fsReadError(err, file);
  }
  if (stat.isDirectory()) throw new ImageReadError('unreadable', file, 'it is a folder');
  if (stat.size === 0) throw new ImageReadError('empty', file);
}

async function readInput(
  input: ImageInput,
  name?: string,
): Promise<{ buffer: Buffer; name: string }> {
  if (typeof input !== 'string') {
    const label = name ?? '<buffer>';
    if (input.length === 0) throw new ImageReadError('empty', label);
    return { buffer: input, name: label };
  }
  let buffer: Buffer;
  try {
    buffer = await fs.readFile(input);
  } catch (err) {
    throw fsReadError(err, input);
  }
  if (buffer.length === 0) throw new ImageReadError('empty', input);
  return { buffer, name: input };
}

function fsReadError(err: unknown, file: string): ImageReadError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ImageReadError('not-found', file);
  if (code === 'EISDIR') return new ImageReadError('unreadable', file, 'it is a folder');
  return new ImageReadError('unreadable', file, code ?? String(err));
}

async function readMetadata(input: ImageInput, name: string): Promise<sharp.Metadata> {
  try {
    // The pixel limit is checked by toInfo with a message naming the size; sharp's own check
    // would only say "exceeds pixel limit".
    return await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw sharpReadError(err, name);
  }
}

function sharpReadError(err: unknown, file: string): ImageReadError {
  const message = err instanceof Error ? err.message : String(err);
  if (/exceeds pixel limit/i.test(message)) return new ImageReadError('too-large', file, message);
  if (/unsupported/i.test(message)) return new ImageReadError('unsupported', file, message);
  return new ImageReadError('corrupt', file, message);
}

function toInfo(meta: sharp.Metadata, name: string, opts: ReadOptions): ImageInfo {
  const format = meta.format ?? 'unknown';
  if (!READABLE_FORMATS.has(format)) {
    throw new ImageReadError('unsupported', name, `format "${format}"`);
  }
  if (format === 'heif' && meta.compression === 'hevc') {
    throw new ImageReadError('unsupported', name, 'HEIC (HEVC) images are not supported; AVIF is');
  }
  const { width, height } = meta;
  if (!width || !height) throw new ImageReadError('corrupt', name, 'no image size in the header');
  checkPixelLimit(width, height, opts.maxPixels ?? DEFAULT_MAX_PIXELS, name);
  const orientation = meta.orientation ?? 1;
  const swap = orientation >= 5;
  return {
    width: swap ? height : width,
    height: swap ? width : height,
    storedWidth: width,
    storedHeight: height,
    format,
    channels: meta.channels ?? 3,
    hasAlpha: meta.hasAlpha ?? false,
    bitDepth: meta.depth === 'uchar' || meta.depth === 'char' ? 8 : 16,
    hasIcc: meta.hasProfile ?? false,
    orientation,
    space: meta.space ?? 'unknown',
  };
}

function checkPixelLimit(width: number, height: number, maxPixels: number, name: string): void {
  if (width * height <= maxPixels) return;
  const mpx = (n: number) => `${(n / 1e6).toFixed(1)} Mpx`;
  throw new ImageReadError(
    'too-large',
    name,
    `${width}×${height} is ${mpx(width * height)}, over the limit of ${mpx(maxPixels)} (maxPixels)`,
  );
}

/**
 * One sharp pipeline from an opened image to upright sRGB raw pixels; `shape` adds the
 * geometric steps (resize, crop) between colour conversion and output.
 */
export async function runPipeline(
  image: OpenedImage,
  opts: ReadOptions,
  shape: (p: sharp.Sharp) => sharp.Sharp,
): Promise<{ data: Buffer; info: sharp.OutputInfo }> {
  const sixteen = image.info.bitDepth === 16;
  // An sRGB profile needs no transform: ignoring it keeps the values exact (lcms' round trip
  // is not: 16-bit values near black move by up to a few percent) and saves the work.
  const srgbTagged = image.metadata.icc !== null && isSrgbProfile(image.metadata.icc);
  let p = sharp(image.buffer, {
    limitInputPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
    failOn: opts.failOn ?? 'warning',
    autoOrient: true,
    ignoreIcc: srgbTagged,
  });
  // sharp converts a 16-bit image's embedded profile to Display P3, not sRGB (its pipeline's
  // "processingProfile"), so such images need an explicit second transform to sRGB. Without a
  // profile this must not be done: sharp would then read the sRGB values as P3.
  if (sixteen && image.info.hasIcc && !srgbTagged) p = p.withIccProfile('srgb');
  p = shape(p.toColourspace(sixteen ? 'rgb16' : 'srgb'));
  try {
    return await p
      .raw({ depth: sixteen ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw sharpReadError(err, image.name);
  }
}

export function asPixelArray(data: Buffer, bitDepth: 8 | 16): Uint8Array | Uint16Array {
  if (bitDepth === 8) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  // A Uint16Array view needs an even byte offset; copy in the (unusual) other case.
  const aligned = data.byteOffset % 2 === 0 ? data : Buffer.from(data);
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
}
