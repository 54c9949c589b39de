/**
 * Why an image could not be read or written: the two errors every part of image I/O throws,
 * each with the file name in its message, never a crash.
 */

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
