/**
 * One-line progress for long jobs: redrawn in place on a terminal, printed as plain lines
 * (at most every few seconds) when the output is a file or a CI log.
 */
export interface ProgressLine {
  update(text: string, force?: boolean): void;
  /** Print a message above the progress line. */
  log(text: string): void;
  done(): void;
}

export function progressLine(
  stream: NodeJS.WriteStream = process.stderr,
  everyMs = 5000,
): ProgressLine {
  const tty = Boolean(stream.isTTY);
  let last = '';
  let lastPrinted = 0;
  const clear = () => {
    if (tty && last) stream.write('\r\x1b[2K');
  };
  return {
    update(text, force = false) {
      if (tty) {
        const width = stream.columns ?? 120;
        clear();
        last = text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text;
        stream.write(last);
        return;
      }
      const now = Date.now();
      if (force || now - lastPrinted >= everyMs) {
        stream.write(`${text}\n`);
        lastPrinted = now;
      }
    },
    log(text) {
      clear();
      stream.write(`${text}\n`);
      if (tty && last) stream.write(last);
    },
    done() {
      if (tty && last) stream.write('\n');
      last = '';
    },
  };
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** What both kinds of training report alike: a checkpoint written, a warning, the end. */
export type SharedTrainEvent =
  | { type: 'checkpoint'; iteration: number; path: string }
  | { type: 'warning'; message: string }
  | { type: 'finished' };

export function printSharedTrainEvent(e: SharedTrainEvent, line: ProgressLine): void {
  if (e.type === 'checkpoint') line.log(`checkpoint at step ${e.iteration}: ${e.path}`);
  if (e.type === 'warning') line.log(`warning: ${e.message}`);
}
