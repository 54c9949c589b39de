/**
 * What the conversion queue needs from the engine, as an interface the caller injects (the
 * engine side is main/engine/infer/convert-image.ts; a test fake fits the same shape), and the
 * settings that change an output's bytes.
 *
 * The three stages are separate so the queue can decode the next file and encode the
 * previous one while the engine works on the current one; only `translate` is exclusive.
 */
import type { FormatChoice, OutputFormat } from '../../../shared/image-formats';

export type ConvertFormat = OutputFormat;
/** 'same': each output keeps its input's format (and extension). */
export type { FormatChoice };

/** Everything that changes the bytes of an output; part of the resume check. */
export interface ConvertSettings {
  format: FormatChoice;
  /** 1–100; undefined means the format's default. */
  quality?: number;
  bitDepth: 8 | 16;
  icc: 'srgb' | 'source' | 'none';
  metadata: 'strip' | 'copy';
}

export interface EncodeOutcome {
  /** What was asked for and could not be done (e.g. "JPEG has no alpha channel"). */
  notes?: string[];
}

export interface ConvertEngine<Decoded = unknown, Translated = unknown> {
  /** Reads and decodes one input; rejects with an error carrying a FailureReason. */
  decode(input: string): Promise<Decoded>;
  /**
   * The engine's work; the queue never runs two at once. `onProgress`: tiles done and in all,
   * where the engine translates tile by tile (the total may grow after a retry).
   */
  translate(
    decoded: Decoded,
    onProgress?: (done: number, total: number) => void,
  ): Promise<Translated>;
  /**
   * Encodes and writes `output` atomically, refusing to write over `input`; calls
   * `hooks.beforeRename` with the finished temporary just before it takes the output's name.
   */
  encode(
    translated: Translated,
    output: string,
    input: string,
    hooks?: { beforeRename?: (temp: string) => Promise<void> },
  ): Promise<EncodeOutcome | void>;
}

/** Why one file was not converted, in words a user can act on. */
export const FAILURE_TEXT = {
  'not-found': 'the file is gone',
  'permission-denied': 'permission denied',
  unreadable: 'the file cannot be read',
  empty: 'the file is empty',
  corrupt: 'the image data is corrupt or truncated',
  unsupported: 'not an image format Patchwork reads',
  'too-large': 'too many pixels (decompression-bomb limit)',
  'too-small': 'the image is too small for the style’s network',
  'translate-failed': 'the style could not be applied',
  'unsupported-output': 'the output format cannot hold this image',
  'same-as-input': 'the output would overwrite an input',
  'output-missing': 'the output folder disappeared',
  'write-failed': 'the output could not be written',
} as const;

export type FailureReason = keyof typeof FAILURE_TEXT;
export type Stage = 'read' | 'decode' | 'translate' | 'encode';

export interface Failure {
  reason: FailureReason;
  message: string;
}

const STAGE_DEFAULT: Record<Stage, FailureReason> = {
  read: 'unreadable',
  decode: 'unreadable',
  translate: 'translate-failed',
  encode: 'write-failed',
};

/**
 * An error from any stage as a Failure. Engine errors say their reason themselves (a
 * `reason` field, duck-typed so this folder needs no engine import); plain Node errors are
 * read by errno code.
 */
export function classifyFailure(err: unknown, stage: Stage): Failure {
  const message = err instanceof Error ? err.message : String(err);
  const own = (err as { reason?: unknown } | null)?.reason;
  if (typeof own === 'string' && own in FAILURE_TEXT) {
    return { reason: own as FailureReason, message };
  }
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'EACCES' || code === 'EPERM') return { reason: 'permission-denied', message };
  if ((code === 'ENOENT' || code === 'ENOTDIR') && stage !== 'encode') {
    return { reason: 'not-found', message };
  }
  if (code === 'EISDIR') return { reason: 'unreadable', message };
  return { reason: STAGE_DEFAULT[stage], message };
}
