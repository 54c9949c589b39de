/**
 * StyleError: every way a style folder can be unusable, named by a code the CLI and the
 * studio can act on and a message that says which folder and what is wrong. Plain Node, so
 * the studio's services and the engine raise and catch the same class.
 */

export type StyleErrorCode =
  | 'missing-folder'
  | 'not-a-style'
  | 'unsupported-format'
  | 'missing-weights'
  | 'corrupt-weights'
  | 'shape-mismatch'
  | 'write-failed';

/**
 * How a style.json's format compares with the one this version writes. 'newer' and 'older'
 * come with 'unsupported-format'; 'unknown' is a format string that is not Patchwork's.
 */
export type StyleFormatAge = 'newer' | 'older' | 'unknown';

export class StyleError extends Error {
  constructor(
    readonly code: StyleErrorCode,
    message: string,
    options?: { cause?: unknown; formatAge?: StyleFormatAge },
  ) {
    super(message, options);
    this.name = 'StyleError';
    this.formatAge = options?.formatAge ?? null;
  }

  /** Set only when the format was refused: written by a newer or an older Patchwork. */
  readonly formatAge: StyleFormatAge | null;
}
