/**
 * Encoding images: [-1, 1] floats or integer pixels to PNG, JPEG, WebP, TIFF or AVIF (the
 * formats shared/image-formats.ts lists) in 8 or 16 bits, alpha passed through, an ICC
 * profile embedded (image-colour.ts), EXIF/XMP copied on request (image-metadata.ts).
 */
import { promises as fs } from 'node:fs';
import type sharp from 'sharp';
import { OUTPUT_FORMATS, type OutputFormat } from '../../../shared/image-formats';
import { chooseProfile, colourManaged, writeTempProfile } from './image-colour';
import type { PixelBuffer, SourceMetadata } from './image-decode';
import { ImageWriteError } from './image-errors';
import { insertExif, resetXmpOrientation, XMP_FORMATS } from './image-metadata';

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
