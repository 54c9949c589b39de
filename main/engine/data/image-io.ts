/**
 * Images in and out (DESIGN.md "Images in and out"), on sharp/libvips and plain typed arrays:
 * - decode JPEG, PNG, WebP, TIFF, AVIF (and GIF) to sRGB with EXIF orientation applied, colour
 *   converted from the embedded ICC profile (CMYK, grey, palette, 16-bit included), as HWC
 *   floats in [-1, 1] the way the reference's ToTensor + Normalize(0.5, 0.5) produces them;
 * - the preprocessing geometry of the reference's `data/base_dataset.py` (resize, random crop,
 *   flip, multiple-of-4 sides), executed as one sharp pipeline with its bicubic kernel;
 * - encode back to PNG, JPEG, WebP, TIFF or AVIF in 8 or 16 bits, alpha passed through, an
 *   ICC profile embedded, EXIF/XMP copied on request, written atomically (temporary file in
 *   the same folder, then rename), never over an input.
 *
 * What sharp does not make practical, and so is not done here: EXIF is copied into JPEG and
 * PNG only (sharp can set EXIF fields but not a raw EXIF block; those two containers are
 * patched directly), XMP into JPEG/PNG/WebP/TIFF, not AVIF; IPTC is never copied; a source
 * profile that is not an RGB profile (CMYK, grey) cannot describe RGB output, so sRGB is
 * embedded instead; stale EXIF size tags are left as the source had them.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { PreprocessMode } from '../../../shared/options';
import { writeFileAtomic as writeBytesAtomic } from '../../files/atomic-file';
import type { Rng } from '../rng';

// ─── errors ────────────────────────────────────────────────────────────────────────────────

export type ImageReadReason =
  'not-found' | 'unreadable' | 'corrupt' | 'unsupported' | 'too-large' | 'empty';

const READ_REASON_TEXT: Record<ImageReadReason, string> = {
  'not-found': 'file not found',
  unreadable: 'cannot be read',
  corrupt: 'the image data is corrupt or truncated',
  unsupported: 'not an image format Patchwork reads',
  'too-large': 'the image has too many pixels',
  empty: 'the file is empty',
};

/** Why an image could not be read; never a crash, always with the file name in the message. */
export class ImageReadError extends Error {
  constructor(
    readonly reason: ImageReadReason,
    readonly file: string,
    detail?: string,
  ) {
    super(`${file}: ${READ_REASON_TEXT[reason]}${detail ? ` (${detail})` : ''}`);
    this.name = 'ImageReadError';
  }
}

export type ImageWriteReason =
  'same-as-input' | 'unsupported' | 'invalid-pixels' | 'encode-failed' | 'io';

export class ImageWriteError extends Error {
  constructor(
    readonly reason: ImageWriteReason,
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'ImageWriteError';
  }
}

// ─── reading ───────────────────────────────────────────────────────────────────────────────

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
async function runPipeline(
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

/** Whether an ICC profile describes itself as sRGB (its 'desc' tag, v2 text or v4 mluc). */
export function isSrgbProfile(icc: Buffer): boolean {
  if (icc.length < 132 || icc.toString('latin1', 16, 20) !== 'RGB ') return false;
  const count = icc.readUInt32BE(128);
  for (let i = 0; i < count && 132 + i * 12 + 12 <= icc.length; i++) {
    const entry = 132 + i * 12;
    if (icc.toString('latin1', entry, entry + 4) !== 'desc') continue;
    const at = icc.readUInt32BE(entry + 4);
    const text = profileText(icc, at);
    // "Linear sRGB" and the like share the primaries but not the curve.
    return /\bsRGB\b/.test(text) && !/linear/i.test(text);
  }
  return false;
}

function profileText(icc: Buffer, at: number): string {
  if (at + 16 > icc.length) return '';
  const type = icc.toString('latin1', at, at + 4);
  if (type === 'desc') {
    const n = icc.readUInt32BE(at + 8);
    return icc.toString('latin1', at + 12, Math.min(icc.length, at + 12 + n));
  }
  if (type !== 'mluc' || at + 28 > icc.length) return '';
  // First record: language, country, byte length, offset from the tag start; UTF-16BE text.
  const length = icc.readUInt32BE(at + 20);
  const start = at + icc.readUInt32BE(at + 24);
  const bytes = Math.max(0, Math.min(length, icc.length - start)) & ~1; // swap16 needs even
  const text = Buffer.from(icc.subarray(start, start + bytes));
  return text.swap16().toString('utf16le');
}

function asPixelArray(data: Buffer, bitDepth: 8 | 16): Uint8Array | Uint16Array {
  if (bitDepth === 8) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  // A Uint16Array view needs an even byte offset; copy in the (unusual) other case.
  const aligned = data.byteOffset % 2 === 0 ? data : Buffer.from(data);
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
}

// ─── training preprocessing (reference: data/base_dataset.py get_params/get_transform) ────

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

// ─── encoding ──────────────────────────────────────────────────────────────────────────────

export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp', 'tiff', 'avif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface EncodeOptions {
  format: OutputFormat;
  /** 1–100 for jpeg (default 92), webp (90), avif (60); TIFF is always lossless (deflate). */
  quality?: number;
  /** webp/avif lossless mode. */
  lossless?: boolean;
  /** 16 only for png and tiff. Default 8. */
  bitDepth?: 8 | 16;
  /** [H, W] in [0, 1], written as the alpha channel (dropped for JPEG, with a note). */
  alpha?: Float32Array | null;
  /** 'srgb' (default) embeds sRGB; 'source' converts to and embeds the source's RGB profile
   * (an untagged source stays untagged); 'none' writes untagged sRGB values. */
  icc?: 'srgb' | 'source' | 'none';
  /** 'copy' carries the source's EXIF (orientation reset to 1) and XMP over; default 'strip'. */
  metadata?: 'strip' | 'copy';
  /** The source image's metadata (decodeImage(...).metadata), for icc 'source' and copying. */
  source?: SourceMetadata;
}

export interface EncodedImage {
  data: Buffer;
  format: OutputFormat;
  bitDepth: 8 | 16;
  icc: 'srgb' | 'source' | 'none';
  copied: { exif: boolean; xmp: boolean };
  /** What was asked for and could not be done, in words. */
  notes: string[];
}

const DEFAULT_QUALITY: Record<OutputFormat, number> = {
  png: 100,
  jpeg: 92,
  webp: 90,
  tiff: 100,
  avif: 60,
};

/** Encodes [H, W, 3] floats in [-1, 1] (values outside are clamped). */
export async function encodeImage(
  rgb: Float32Array,
  width: number,
  height: number,
  opts: EncodeOptions,
): Promise<EncodedImage> {
  const bitDepth = opts.bitDepth ?? 8;
  return encodePixels(floatToPixels(rgb, opts.alpha ?? null, width, height, bitDepth), opts);
}

/** Quantises [-1, 1] colour and [0, 1] alpha to 8- or 16-bit interleaved pixels. */
export function floatToPixels(
  rgb: Float32Array,
  alpha: Float32Array | null,
  width: number,
  height: number,
  bitDepth: 8 | 16,
): PixelBuffer {
  const n = width * height;
  if (!(n > 0) || rgb.length !== n * 3 || (alpha && alpha.length !== n)) {
    const got = `rgb ${rgb.length}${alpha ? `, alpha ${alpha.length}` : ''}`;
    throw new ImageWriteError(
      'invalid-pixels',
      '<pixels>',
      `${width}×${height} needs ${n * 3} values (${got})`,
    );
  }
  const channels = alpha ? 4 : 3;
  const max = bitDepth === 16 ? 65535 : 255;
  const data = bitDepth === 16 ? new Uint16Array(n * channels) : new Uint8Array(n * channels);
  const quant = (v: number) => (v > 0 ? (v < 1 ? Math.round(v * max) : max) : 0);
  for (let i = 0; i < n; i++) {
    const d = i * channels;
    data[d] = quant((rgb[i * 3] + 1) * 0.5);
    data[d + 1] = quant((rgb[i * 3 + 1] + 1) * 0.5);
    data[d + 2] = quant((rgb[i * 3 + 2] + 1) * 0.5);
    if (alpha) data[d + 3] = quant(alpha[i]);
  }
  return { data, width, height, channels };
}

/** Encodes integer sRGB pixels (e.g. a 16-bit source's, untouched) to a file format. */
export async function encodePixels(
  pixels: PixelBuffer,
  opts: EncodeOptions,
): Promise<EncodedImage> {
  const bitDepth = pixels.data instanceof Uint16Array ? 16 : 8;
  checkEncodable(pixels, opts, bitDepth);
  const notes: string[] = [];
  let input = pixels;
  if (opts.format === 'jpeg' && pixels.channels === 4) {
    input = dropAlpha(pixels);
    notes.push('JPEG has no alpha channel: alpha dropped');
  }
  const icc = chooseProfile(opts, notes);
  const copy = opts.metadata === 'copy' ? opts.source : undefined;
  const iccFile = icc.kind === 'source' ? await writeTempProfile(icc.profile) : null;
  try {
    let p = await colourManaged(input, icc.kind, iccFile, bitDepth);
    const xmp = copy?.xmp && XMP_FORMATS.has(opts.format) ? resetXmpOrientation(copy.xmp) : null;
    if (xmp) p = p.withXmp(xmp);
    let data = await withFormat(p, opts)
      .toBuffer()
      .catch((err: Error) => {
        throw new ImageWriteError('encode-failed', '<output>', err.message);
      });
    const exif = copy?.exif ? insertExif(data, opts.format, copy.exif, notes) : null;
    if (exif) data = exif;
    if (copy?.xmp && !xmp) notes.push(`XMP is not copied into ${opts.format}`);
    const copied = { exif: exif !== null, xmp: xmp !== null };
    return { data, format: opts.format, bitDepth, icc: icc.kind, copied, notes };
  } finally {
    if (iccFile) await fs.rm(iccFile, { force: true });
  }
}

/** Largest side each container can hold (WebP's 14-bit size fields, JPEG's 16-bit ones). */
const MAX_SIDE: Partial<Record<OutputFormat, number>> = { webp: 16383, jpeg: 65535 };

function checkEncodable(pixels: PixelBuffer, opts: EncodeOptions, bitDepth: 8 | 16): void {
  const unsupported = (detail: string) => new ImageWriteError('unsupported', '<output>', detail);
  if (!(OUTPUT_FORMATS as readonly string[]).includes(opts.format)) {
    throw unsupported(`unknown output format "${opts.format}"`);
  }
  if (bitDepth === 16 && opts.format !== 'png' && opts.format !== 'tiff') {
    throw unsupported(`16-bit output needs png or tiff, not ${opts.format}`);
  }
  const maxSide = MAX_SIDE[opts.format];
  if (maxSide && Math.max(pixels.width, pixels.height) > maxSide) {
    throw unsupported(
      `${opts.format} holds at most ${maxSide} px a side; the image is ${pixels.width}×${pixels.height}`,
    );
  }
}

function dropAlpha(pixels: PixelBuffer): PixelBuffer {
  const n = pixels.width * pixels.height;
  const data = pixels.data instanceof Uint16Array ? new Uint16Array(n * 3) : new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[i * 3] = pixels.data[i * 4];
    data[i * 3 + 1] = pixels.data[i * 4 + 1];
    data[i * 3 + 2] = pixels.data[i * 4 + 2];
  }
  return { ...pixels, data, channels: 3 };
}

type ProfileChoice = { kind: 'srgb' } | { kind: 'none' } | { kind: 'source'; profile: Buffer };

function chooseProfile(opts: EncodeOptions, notes: string[]): ProfileChoice {
  const want = opts.icc ?? 'srgb';
  if (want !== 'source') return { kind: want };
  const profile = opts.source?.icc;
  if (!profile) return { kind: 'none' };
  // Bytes 16–19 of an ICC header name its colour space; only an RGB profile can describe
  // the three-channel output.
  const space = profile.subarray(16, 20).toString('latin1');
  if (space === 'RGB ') return { kind: 'source', profile };
  notes.push(`the source profile is ${space.trim()}, not RGB: sRGB embedded instead`);
  return { kind: 'srgb' };
}

async function writeTempProfile(profile: Buffer): Promise<string> {
  // sharp's withIccProfile takes a file path, not bytes.
  const file = path.join(os.tmpdir(), `patchwork-${randomUUID()}.icc`);
  await fs.writeFile(file, profile);
  return file;
}

/**
 * A sharp pipeline over the pixels with the chosen profile applied. 8-bit: sharp transforms
 * sRGB → profile directly. 16-bit: sharp would treat the values as Display P3 (see
 * runPipeline), so they first go through a PNG carrying an sRGB profile chunk; from there
 * sharp knows what they are and either keeps that profile or converts to the source's.
 */
async function colourManaged(
  pixels: PixelBuffer,
  kind: ProfileChoice['kind'],
  iccFile: string | null,
  bitDepth: 8 | 16,
): Promise<sharp.Sharp> {
  const raw = { width: pixels.width, height: pixels.height, channels: pixels.channels };
  if (bitDepth === 8) {
    const p = sharp(pixels.data, { raw }).toColourspace('srgb');
    return kind === 'none' ? p : p.withIccProfile(iccFile ?? 'srgb');
  }
  const p = sharp(pixels.data, { raw }).toColourspace('rgb16');
  if (kind === 'none') return p;
  const png = await p.png({ compressionLevel: 0 }).toBuffer();
  const tagged = sharp(insertPngChunk(png, 'iCCP', iccpChunk(await srgbProfile())));
  return (iccFile ? tagged.withIccProfile(iccFile) : tagged.keepIccProfile()).toColourspace(
    'rgb16',
  );
}

let srgbProfileBytes: Promise<Buffer> | null = null;

/** The sRGB profile libvips embeds, taken from a 1×1 image once. */
function srgbProfile(): Promise<Buffer> {
  srgbProfileBytes ??= sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
    .withIccProfile('srgb')
    .png()
    .toBuffer()
    .then((png) => sharp(png).metadata())
    .then((meta) => {
      if (!meta.icc) throw new Error('libvips embedded no sRGB profile');
      return meta.icc;
    });
  return srgbProfileBytes;
}

function withFormat(p: sharp.Sharp, opts: EncodeOptions): sharp.Sharp {
  const quality = opts.quality ?? DEFAULT_QUALITY[opts.format];
  switch (opts.format) {
    case 'png':
      return p.png({ compressionLevel: 6 });
    case 'jpeg':
      // Chroma subsampling blurs colour edges; at high quality it is not worth the bytes.
      return p.jpeg({ quality, chromaSubsampling: quality >= 90 ? '4:4:4' : '4:2:0' });
    case 'webp':
      return p.webp({ quality, lossless: opts.lossless ?? false });
    case 'tiff':
      return p.tiff({ compression: 'deflate', predictor: 'horizontal' });
    case 'avif':
      return p.avif({ quality, lossless: opts.lossless ?? false });
  }
}

// ─── metadata blocks (EXIF into JPEG/PNG by hand, XMP and ICC chunks) ─────────────────────

const XMP_FORMATS = new Set<OutputFormat>(['png', 'jpeg', 'webp', 'tiff']);

/** The output is upright, so a copied orientation other than 1 would rotate it twice. */
function resetXmpOrientation(xmp: Buffer): string {
  return xmp
    .toString('utf8')
    .replace(/tiff:Orientation="\d"/g, 'tiff:Orientation="1"')
    .replace(/<tiff:Orientation>\d<\/tiff:Orientation>/g, '<tiff:Orientation>1</tiff:Orientation>');
}

const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');

function insertExif(
  data: Buffer,
  format: OutputFormat,
  exif: Buffer,
  notes: string[],
): Buffer | null {
  // sharp returns EXIF with the JPEG "Exif\0\0" prefix for some sources and without for others.
  const tiff = resetExifOrientation(
    exif.subarray(0, 6).equals(EXIF_HEADER) ? exif.subarray(6) : exif,
  );
  if (!tiff) {
    notes.push('the source EXIF block is not valid TIFF data: not copied');
    return null;
  }
  if (format === 'png') return insertPngChunk(data, 'eXIf', tiff);
  if (format === 'jpeg') {
    const segment = jpegApp1(tiff);
    if (segment) return insertJpegSegment(data, segment);
    notes.push('the source EXIF block is larger than one JPEG segment: not copied');
    return null;
  }
  notes.push(`EXIF is not copied into ${format}`);
  return null;
}

/** A copy of a TIFF-structured EXIF block with IFD0's Orientation set to 1; null if invalid. */
function resetExifOrientation(src: Buffer): Buffer | null {
  if (src.length < 8) return null;
  const tiff = Buffer.from(src);
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return null;
  const le = order === 'II';
  const u16 = (o: number) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const u32 = (o: number) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
  if (u16(2) !== 42) return null;
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return null;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return null;
    if (u16(entry) === 0x0112 && u16(entry + 2) === 3) {
      if (le) tiff.writeUInt16LE(1, entry + 8);
      else tiff.writeUInt16BE(1, entry + 8);
    }
  }
  return tiff;
}

function jpegApp1(tiff: Buffer): Buffer | null {
  const length = 2 + EXIF_HEADER.length + tiff.length;
  if (length > 0xffff) return null;
  const head = Buffer.from([0xff, 0xe1, length >> 8, length & 0xff]);
  return Buffer.concat([head, EXIF_HEADER, tiff]);
}

/** After SOI, and after a JFIF APP0 if one comes first (JFIF wants to be first). */
function insertJpegSegment(jpeg: Buffer, segment: Buffer): Buffer {
  let at = 2;
  if (jpeg[2] === 0xff && jpeg[3] === 0xe0) at = 4 + jpeg.readUInt16BE(4);
  return Buffer.concat([jpeg.subarray(0, at), segment, jpeg.subarray(at)]);
}

function iccpChunk(profile: Buffer): Buffer {
  // Profile name, NUL, compression method 0 (zlib), compressed profile.
  return Buffer.concat([Buffer.from('sRGB\0\0', 'latin1'), deflateSync(profile)]);
}

/** Inserts a chunk right after IHDR (8-byte signature + 25-byte IHDR), before any IDAT. */
function insertPngChunk(png: Buffer, type: string, body: Buffer): Buffer {
  const at = 8 + 25;
  const typeAndBody = Buffer.concat([Buffer.from(type, 'latin1'), body]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndBody));
  return Buffer.concat([png.subarray(0, at), length, typeAndBody, crc, png.subarray(at)]);
}

// ─── atomic writes ─────────────────────────────────────────────────────────────────────────

const EXTENSION_FORMATS: Record<string, OutputFormat> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.webp': 'webp',
  '.tif': 'tiff',
  '.tiff': 'tiff',
  '.avif': 'avif',
};

export function formatForPath(file: string): OutputFormat | null {
  return EXTENSION_FORMATS[path.extname(file).toLowerCase()] ?? null;
}

export interface WriteOptions extends Omit<EncodeOptions, 'format'> {
  /** Defaults to the format the file extension names. */
  format?: OutputFormat;
  /** Input file(s) this output was made from: writing over them is refused. */
  inputPath?: string | string[];
}

export interface WriteResult extends Omit<EncodedImage, 'data'> {
  path: string;
  bytes: number;
}

/** Encodes and writes atomically; refuses to write over any input. */
export async function writeImageAtomic(
  file: string,
  rgb: Float32Array,
  width: number,
  height: number,
  opts: WriteOptions = {},
): Promise<WriteResult> {
  const format = opts.format ?? formatForPath(file);
  if (!format) {
    throw new ImageWriteError('unsupported', file, `no output format for "${path.extname(file)}"`);
  }
  const protect = opts.inputPath === undefined ? [] : [opts.inputPath].flat();
  // Checked before encoding as well as before renaming: a refusal should cost nothing.
  await refuseInputs(file, protect);
  const { data, ...encoded } = await encodeImage(rgb, width, height, { ...opts, format }).catch(
    (err: unknown) => {
      // Name the file the caller is writing rather than the encoder's placeholder.
      if (err instanceof ImageWriteError) throw new ImageWriteError(err.reason, file, err.detail);
      throw err;
    },
  );
  await writeFileAtomic(file, data, { protect });
  return { ...encoded, path: file, bytes: data.length };
}

/**
 * files/atomic-file's write (a hidden temporary beside the target, synced, renamed over it),
 * refusing to replace any of `protect` (the inputs) and naming the file in its error.
 */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array,
  opts: { protect?: string[] } = {},
): Promise<void> {
  await refuseInputs(file, opts.protect ?? []);
  try {
    await writeBytesAtomic(file, data);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ImageWriteError('io', file, `could not write: ${reason}`);
  }
}

/** Same path, or the same file under another name (link, case-insensitive file system). */
async function refuseInputs(file: string, inputs: string[]): Promise<void> {
  const target = path.resolve(file);
  const targetStat = await fs.stat(target).catch(() => null);
  for (const input of inputs) {
    let same = path.resolve(input) === target;
    if (!same && targetStat) {
      const s = await fs.stat(input).catch(() => null);
      same = s !== null && s.dev === targetStat.dev && s.ino === targetStat.ino;
    }
    if (same) {
      throw new ImageWriteError('same-as-input', file, `refusing to overwrite the input ${input}`);
    }
  }
}
