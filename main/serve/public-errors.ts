/**
 * What of a failure leaves the server: a job that failed inside the engine carries the stack
 * of the exception in its error's `detail` (main/worker/errors.ts), which names files and
 * folders of this machine. Over `patchwork serve` — where whoever holds the address can read
 * replies and events — such a detail is logged once, under an id, and the id goes out in its
 * place; the artist's message stays. Details without a stack (a signal, a backend's one-line
 * reason) go out as they are.
 */
import { errorId } from '../services/studio/request-error';

/** A V8 stack: a line that begins, after spaces, with "at ". */
const STACK = /\n\s+at /;
/** Distinct details remembered, so a job listed again keeps its id (and is logged once). */
const REMEMBERED = 500;

export class PublicErrors {
  private readonly ids = new Map<string, string>();

  constructor(private readonly log: (line: string) => void) {}

  /** `value` as JSON, every stack-bearing `detail` replaced by the id it was logged under. */
  stringify(value: unknown): string {
    return JSON.stringify(value, (key, v: unknown) =>
      key === 'detail' && typeof v === 'string' && STACK.test(v) ? this.idFor(v) : v,
    );
  }

  private idFor(detail: string): string {
    let id = this.ids.get(detail);
    if (!id) {
      id = errorId();
      this.log(`serve: error ${id}: ${detail}`);
      if (this.ids.size >= REMEMBERED) this.ids.delete(this.ids.keys().next().value as string);
      this.ids.set(detail, id);
    }
    return `the technical detail is in the server's log, under error ${id}`;
  }
}
