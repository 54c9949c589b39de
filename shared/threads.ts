/**
 * How many threads the CPU engine computes on (issue 17): the `--threads` option, the
 * PATCHWORK_THREADS variable and the studio's setting all speak this. Pure: the caller says
 * how many physical cores the machine has.
 */

/** XNNPACK's pool in TF.js's threaded wasm build stops at 8 threads (8 pre-started workers). */
export const MAX_THREADS = 8;

/** A thread count, or `auto`: the machine's physical cores less what the studio keeps. */
export type ThreadSetting = number | 'auto';

/** Reads `--threads` / PATCHWORK_THREADS: a whole number from 1 to MAX_THREADS, or `auto`. */
export function parseThreads(text: string, source = '--threads'): ThreadSetting {
  const value = text.trim().toLowerCase();
  if (value === 'auto' || value === '') return 'auto';
  if (!/^\d+$/.test(value)) {
    throw new Error(`${source} must be a whole number of threads or "auto", got "${text}"`);
  }
  const n = Number(value);
  if (n < 1 || n > MAX_THREADS) {
    throw new Error(`${source} must be between 1 and ${MAX_THREADS} (got ${n})`);
  }
  return n;
}

/**
 * The thread count to use: an explicit number as given (capped at the engine's maximum),
 * `auto` as the physical cores less `spare` (the studio keeps one core for its window and
 * server; the command line keeps none), at least 1.
 */
export function resolveThreads(setting: ThreadSetting, physicalCores: number, spare = 0): number {
  if (setting !== 'auto') return Math.min(MAX_THREADS, Math.max(1, Math.floor(setting)));
  const cores = Math.max(1, Math.floor(physicalCores));
  return Math.min(MAX_THREADS, Math.max(1, cores - Math.max(0, Math.floor(spare))));
}
