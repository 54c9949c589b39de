/**
 * How a request the studio cannot do is answered: RequestError carries the reply's code, and
 * toIpcError turns whatever a handler threw (the library's, the watches', an options error)
 * into the IpcError the reply carries.
 */
import type { IpcError } from '../../../shared/ipc';
import { OptionsError } from '../../../shared/options';
import { plainSentence } from '../../../shared/plain-issues';
import { StyleLibraryError } from '../style-library';
import { WatchesError } from '../watches';

/** A request that cannot be done, with the code the reply carries. */
export class RequestError extends Error {
  constructor(
    readonly code: IpcError['code'],
    message: string,
    readonly issues?: IpcError['issues'],
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

export function toIpcError(err: unknown): IpcError {
  if (
    err instanceof RequestError ||
    err instanceof StyleLibraryError ||
    err instanceof WatchesError
  ) {
    const issues = err instanceof RequestError ? err.issues : undefined;
    return { code: err.code, message: err.message, ...(issues ? { issues } : {}) };
  }
  if (err instanceof OptionsError) {
    // The studio's forms name the options by their labels, not as the CLI's flags.
    const issues = err.issues.map((i) => ({
      path: i.option === '(options)' ? '(input)' : i.option,
      message: i.message,
    }));
    return { code: 'rejected', message: plainSentence(issues), issues };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message };
}
