/**
 * How a request the studio cannot do is answered: RequestError carries the reply's code, and
 * toIpcError turns whatever a handler threw (the library's, the watches', an options error)
 * into the IpcError the reply carries. Anything else is a failure of the studio's own: its
 * text (paths, library messages) and stack go to the log under a short id, and the reply
 * says only that something went wrong and which id to look for — the page, or whoever else
 * can reach the transport, learns nothing of the machine from it.
 */
import { randomBytes } from 'node:crypto';
import type { IpcError } from '../../../shared/ipc';
import { OptionsError } from '../../../shared/options';
import { InboxError } from '../inbox';
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

/** A short random id that ties a generic answer to the detail in the log. */
export function errorId(): string {
  return randomBytes(4).toString('hex');
}

const toStderr = (line: string) => void process.stderr.write(`${line}\n`);

export function toIpcError(err: unknown, log: (line: string) => void = toStderr): IpcError {
  if (
    err instanceof RequestError ||
    err instanceof StyleLibraryError ||
    err instanceof WatchesError
  ) {
    const issues = err instanceof RequestError ? err.issues : undefined;
    return { code: err.code, message: err.message, ...(issues ? { issues } : {}) };
  }
  if (err instanceof InboxError) {
    const issues = err.field ? [{ path: err.field, message: err.message }] : undefined;
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
  const id = errorId();
  log(`error ${id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return {
    code: 'internal',
    message: `Something went wrong inside Patchwork (error ${id}; the log has the detail).`,
  };
}
