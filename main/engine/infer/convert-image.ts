/**
 * One image through a style (DESIGN.md "Images in and out"): decode with the EXIF
 * orientation applied once and the embedded ICC profile converted to sRGB, translate the RGB
 * channels, carry alpha over untouched, encode with the chosen format, bit depth, ICC and
 * metadata, write atomically, never over the input.
 *
 * The translator is injected: translateImageAsync (untiled) or translateTiled (seamless, memory
 * bounded by a tile and a budget); both take the same [H, W, 3] image in [−1, 1] and return
 * one of the same size.
 * The three stages are exposed separately so a queue can overlap them across files (the
 * services' ConvertEngine interface); convertFile runs them back to back.
 */
import {
  decodeImage,
  formatForPath,
  ImageReadError,
  ImageWriteError,
  openImage,
  writeImageAtomic,
  type OutputFormat,
  type SourceMetadata,
  type WriteResult,
} from '../data/image-io';
import type { RgbFloatImage } from './translate';

/** Passed through to the translator: tiled-generator.ts reads both, translateImageAsync neither. */
export interface TranslateOptions {
  /** Memory one translation may use, in MiB. */
  memoryBudgetMB?: number;
  /** Tile side in pixels. */
  tile?: number;
  /** Tiles done and in all so far, after each tile (tiled translators only; the total may grow). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Told when the image's tile plan had to use the smallest tile worth running although it is
   * over the budget (tiled-generator.ts overBudgetMessage); the translation goes on.
   */
  onOverBudget?: (message: string) => void;
}

export type Translator = (
  image: RgbFloatImage,
  opts: TranslateOptions,
) => RgbFloatImage | Promise<RgbFloatImage>;

/** A translator bound to a generator, e.g. bindGenerator(style.generator, translateImageAsync). */
export function bindGenerator<G>(
  generator: G,
  translate: (
    generator: G,
    image: RgbFloatImage,
    opts: TranslateOptions,
  ) => RgbFloatImage | Promise<RgbFloatImage>,
): Translator {
  return (image, opts) => translate(generator, image, opts);
}

export type ConvertFailureReason =
  | 'not-found'
  | 'permission-denied'
  | 'unreadable'
  | 'empty'
  | 'corrupt'
  | 'unsupported'
  | 'too-large'
  | 'too-small'
  | 'translate-failed'
  | 'unsupported-output'
  | 'same-as-input'
  | 'write-failed';

/** Why a file could not be converted; `reason` is what the conversion queue reports. */
export class ConvertFileError extends Error {
  constructor(
    readonly reason: ConvertFailureReason,
    readonly stage: 'decode' | 'translate' | 'encode',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConvertFileError';
  }
}

export interface ConvertImageOptions {
  translate: Translator;
  translateOptions?: TranslateOptions;
  /** Default: the format the output's extension names. */
  format?: OutputFormat;
  quality?: number;
  bitDepth?: 8 | 16;
  icc?: 'srgb' | 'source' | 'none';
  metadata?: 'strip' | 'copy';
  /** Decompression-bomb limit (image-io's default when absent). */
  maxPixels?: number;
}

/** An input decoded for the network; the integer pixels are not kept. */
export interface DecodedInput {
  width: number;
  height: number;
  /** [H, W, 3] in [−1, 1]. */
  rgb: Float32Array;
  /** [H, W] in [0, 1], or null. */
  alpha: Float32Array | null;
  metadata: SourceMetadata;
}

export interface TranslatedImage extends DecodedInput {
  /** What the translation had to say (over the memory budget); reported with the file's notes. */
  notes?: string[];
}

export interface ImageConverter {
  decode(input: string): Promise<DecodedInput>;
  /** `onProgress`: tiles done and in all, where the translation goes tile by tile. */
  translate(
    decoded: DecodedInput,
    onProgress?: (done: number, total: number) => void,
  ): Promise<TranslatedImage>;
  encode(
    translated: TranslatedImage,
    output: string,
    input: string,
    hooks?: EncodeHooks,
  ): Promise<WriteResult>;
}

/** What the caller does while an output is written. */
export interface EncodeHooks {
  /** With the finished temporary, just before it takes the output's name. */
  beforeRename?: (temp: string) => Promise<void>;
}

export function createImageConverter(opts: ConvertImageOptions): ImageConverter {
  return {
    decode: (input) => decodeInput(input, opts),
    translate: (decoded, onProgress) =>
      translateInput(
        decoded,
        onProgress ? { ...opts, translateOptions: { ...opts.translateOptions, onProgress } } : opts,
      ),
    encode: (translated, output, input, hooks) =>
      encodeOutput(translated, output, input, opts, hooks),
  };
}

/** Decode, translate, encode one file. */
export async function convertFile(
  inputPath: string,
  outputPath: string,
  opts: ConvertImageOptions,
): Promise<WriteResult> {
  const c = createImageConverter(opts);
  return c.encode(await c.translate(await c.decode(inputPath)), outputPath, inputPath);
}

async function decodeInput(input: string, opts: ConvertImageOptions): Promise<DecodedInput> {
  try {
    const read = opts.maxPixels === undefined ? {} : { maxPixels: opts.maxPixels };
    const image = await decodeImage(await openImage(input, read), read);
    const { width, height, rgb, alpha, metadata } = image;
    return { width, height, rgb, alpha, metadata };
  } catch (err) {
    throw readFailure(err, input);
  }
}

async function translateInput(
  decoded: DecodedInput,
  opts: ConvertImageOptions,
): Promise<TranslatedImage> {
  const { width, height } = decoded;
  const notes: string[] = [];
  const onOverBudget = (message: string) => {
    if (!notes.includes(message)) notes.push(message);
  };
  let out: RgbFloatImage;
  try {
    out = await opts.translate(
      { data: decoded.rgb, width, height },
      { ...opts.translateOptions, onOverBudget },
    );
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // translateImageAsync says "at least N×N is needed" for images below the network's minimum.
    const reason = err instanceof RangeError && /at least/.test(message) ? 'too-small' : undefined;
    throw new ConvertFileError(reason ?? 'translate-failed', 'translate', message, { cause: err });
  }
  if (out.width !== width || out.height !== height || out.data.length !== width * height * 3) {
    throw new ConvertFileError(
      'translate-failed',
      'translate',
      `the translator returned ${out.width}×${out.height} (${out.data.length} values) for a ${width}×${height} image`,
    );
  }
  return { ...decoded, rgb: out.data, notes };
}

async function encodeOutput(
  t: TranslatedImage,
  output: string,
  input: string,
  opts: ConvertImageOptions,
  hooks: EncodeHooks = {},
): Promise<WriteResult> {
  let written: WriteResult;
  try {
    written = await writeImageAtomic(output, t.rgb, t.width, t.height, {
      beforeRename: hooks.beforeRename,
      format: opts.format ?? formatForPath(output) ?? undefined,
      quality: opts.quality,
      bitDepth: opts.bitDepth ?? 8,
      alpha: t.alpha,
      icc: opts.icc ?? 'srgb',
      metadata: opts.metadata ?? 'strip',
      source: t.metadata,
      inputPath: input,
    });
  } catch (err) {
    throw writeFailure(err);
  }
  // The translation's notes first: the queue reports them with the done file (CLI and studio).
  return t.notes?.length ? { ...written, notes: [...t.notes, ...written.notes] } : written;
}

function readFailure(err: unknown, input: string): ConvertFileError {
  if (!(err instanceof ImageReadError)) {
    const message = err instanceof Error ? err.message : String(err);
    return new ConvertFileError('corrupt', 'decode', `${input}: ${message}`, { cause: err });
  }
  // image-io reports EACCES as 'unreadable' with the code in its message.
  const denied = err.reason === 'unreadable' && /\b(EACCES|EPERM)\b/.test(err.message);
  return new ConvertFileError(denied ? 'permission-denied' : err.reason, 'decode', err.message, {
    cause: err,
  });
}

function writeFailure(err: unknown): ConvertFileError {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof ImageWriteError)) {
    return new ConvertFileError('write-failed', 'encode', message, { cause: err });
  }
  const reason: ConvertFailureReason =
    err.reason === 'same-as-input'
      ? 'same-as-input'
      : err.reason === 'unsupported'
        ? 'unsupported-output'
        : /\b(EACCES|EPERM)\b/.test(err.detail)
          ? 'permission-denied'
          : 'write-failed';
  return new ConvertFileError(reason, 'encode', message, { cause: err });
}
