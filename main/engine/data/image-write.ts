/**
 * Writing images: encode (image-encode.ts) and write atomically through files/atomic-file
 * (a temporary beside the target, then rename), never over an input, the format taken from
 * the extension (shared/image-formats.ts) unless given.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  FORMAT_EXTENSIONS,
  OUTPUT_FORMATS,
  type OutputFormat,
} from '../../../shared/image-formats';
import { writeFileAtomic as writeBytesAtomic } from '../../files/atomic-file';
import { encodeImage, type EncodedImage, type EncodeOptions } from './image-encode';
import { ImageWriteError } from './image-errors';

/** Each extension (lower case, with its dot) and the format it names. */
const EXTENSION_FORMATS = new Map<string, OutputFormat>(
  OUTPUT_FORMATS.flatMap((f) => FORMAT_EXTENSIONS[f].map((ext) => [ext, f] as const)),
);

export function formatForPath(file: string): OutputFormat | null {
  return EXTENSION_FORMATS.get(path.extname(file).toLowerCase()) ?? null;
}

export interface WriteOptions extends Omit<EncodeOptions, 'format'> {
  /** Defaults to the format the file extension names. */
  format?: OutputFormat;
  /** Input file(s) this output was made from: writing over them is refused. */
  inputPath?: string | string[];
  /** Called with the written temporary just before it takes the file's name. */
  beforeRename?: (temp: string) => Promise<void>;
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
  await writeFileAtomic(file, data, { protect, beforeRename: opts.beforeRename });
  return { ...encoded, path: file, bytes: data.length };
}

/**
 * files/atomic-file's write (a hidden temporary beside the target, synced, renamed over it),
 * refusing to replace any of `protect` (the inputs) and naming the file in its error.
 */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array,
  opts: { protect?: string[]; beforeRename?: (temp: string) => Promise<void> } = {},
): Promise<void> {
  await refuseInputs(file, opts.protect ?? []);
  try {
    await writeBytesAtomic(file, data, { beforeRename: opts.beforeRename });
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
