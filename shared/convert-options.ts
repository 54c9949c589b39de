/**
 * What a conversion can be asked for besides its style and folders: the output format, its
 * quality, bit depth, colour profile, metadata and tile size. One zod schema, read by the
 * studio's convert request (shared/ipc.ts), the engine process's job spec
 * (shared/ipc-worker.ts) and the CLI's flags (main/cli/convert.ts), so the three offer the
 * same choices with the same defaults.
 */
import { z } from 'zod';
import { FORMAT_CHOICES } from './image-formats';

/** Convert's format choices: 'same' or an output format (shared/image-formats.ts owns the list). */
export const CONVERT_FORMAT_CHOICES = FORMAT_CHOICES;
/** Bits per channel of the output; 16 only for PNG and TIFF. */
export const BIT_DEPTH_CHOICES = [8, 16] as const;
/** srgb: embed sRGB; source: the input's profile; none: no profile. */
export const ICC_CHOICES = ['srgb', 'source', 'none'] as const;
/** copy: EXIF and XMP from each input (orientation reset). */
export const METADATA_CHOICES = ['strip', 'copy'] as const;

/**
 * Which inference engine translates: ONNX Runtime (native threads, GPU providers), TF.js (the
 * training engine, and the fallback), or auto: ONNX Runtime where it loads and runs the style.
 */
export const ENGINE_CHOICES = ['auto', 'onnx', 'tfjs'] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];

/** Today's studio conversion, and the CLI's defaults. */
export const DEFAULT_ENCODING = { bitDepth: 8, icc: 'srgb', metadata: 'strip' } as const;

/** The formats that hold 16 bits per channel. */
export function holdsSixteenBits(format: (typeof CONVERT_FORMAT_CHOICES)[number]): boolean {
  return format === 'png' || format === 'tiff';
}

/** The encoding options (each optional: absent is DEFAULT_ENCODING's, or the tiler's own tile). */
export const convertEncodingSchema = z.object({
  format: z.enum(CONVERT_FORMAT_CHOICES).optional(),
  quality: z.number().int().min(1).max(100).optional(),
  bitDepth: z.union([z.literal(8), z.literal(16)]).optional(),
  icc: z.enum(ICC_CHOICES).optional(),
  metadata: z.enum(METADATA_CHOICES).optional(),
  /** Tile side in pixels; images are then always translated tile by tile. */
  tile: z.number().int().min(8).max(8192).optional(),
});
export type ConvertEncoding = z.infer<typeof convertEncodingSchema>;

export const SIXTEEN_BITS_PROBLEM = '16 bits per channel needs the png or tiff format';

/** Adds the one cross-field rule (16 bits need PNG or TIFF) to a schema holding the encoding. */
export function refineEncoding<T extends z.ZodType<ConvertEncoding>>(schema: T) {
  return schema.refine((e) => e.bitDepth !== 16 || holdsSixteenBits(e.format ?? 'same'), {
    message: SIXTEEN_BITS_PROBLEM,
    path: ['bitDepth'],
  });
}
