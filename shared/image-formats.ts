/**
 * The image formats Patchwork writes: the one list the encoder (main/engine/data/
 * image-encode.ts), the conversion request (shared/ipc.ts), the settings (shared/ipc-settings.ts)
 * and the CLI all derive from, so a format added here and not handled there is a compile error
 * (the encoder keys its per-format tables by OutputFormat). Pure TypeScript.
 */

export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp', 'tiff', 'avif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** What a conversion may be asked to write: a format, or `same` (each source's own format). */
export const FORMAT_CHOICES = ['same', ...OUTPUT_FORMATS] as const;
export type FormatChoice = (typeof FORMAT_CHOICES)[number];

/** File extensions of each format, the first the one written. */
export const FORMAT_EXTENSIONS: Record<OutputFormat, readonly string[]> = {
  png: ['.png'],
  jpeg: ['.jpg', '.jpeg'],
  webp: ['.webp'],
  tiff: ['.tif', '.tiff'],
  avif: ['.avif'],
};
