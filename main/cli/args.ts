/** Parsers for command-line values, failing with a message that names the flag. */
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
