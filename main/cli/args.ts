/** Parsers for command-line values, failing with a message that names the flag. */
import { parseThreads, type ThreadSetting } from '../../shared/threads';
import { UsageError } from './errors';

export function int(flag: string, opts: { min?: number } = {}) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
      throw new UsageError(`${flag} expects a whole number, got "${value}"`);
    }
    if (opts.min !== undefined && n < opts.min) {
      throw new UsageError(`${flag} must be at least ${opts.min}, got ${n}`);
    }
    return n;
  };
}

export function num(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) {
      throw new UsageError(`${flag} expects a number, got "${value}"`);
    }
    return n;
  };
}

export function oneOf<T extends string>(flag: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got "${value}"`);
    }
    return value as T;
  };
}

/** `--threads`: a count of CPU threads for the wasm engine (1–8) or `auto`. */
export function threadCount(flag = '--threads') {
  return (value: string): ThreadSetting => {
    try {
      return parseThreads(value, flag);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  };
}

/** The `--threads` help line, the same for every command that computes. */
export const THREADS_HELP =
  'CPU threads of the wasm engine, 1–8 or auto (every physical core); also PATCHWORK_THREADS';

/**
 * Hands `--threads` to the engine the way every engine process reads it: PATCHWORK_THREADS
 * (main/engine/backend.ts). Unset, the variable (or auto) stands.
 */
export function useThreads(setting: ThreadSetting | undefined): void {
  if (setting !== undefined) process.env.PATCHWORK_THREADS = String(setting);
}
