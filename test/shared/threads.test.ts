// The thread count is typed by people (--threads, PATCHWORK_THREADS, the studio's field):
// every bad form gets a message naming where it came from, and `auto` follows the cores.
import { describe, expect, it } from 'vitest';
import { MAX_THREADS, parseThreads, resolveThreads } from '../../shared/threads';

describe('parseThreads', () => {
  it('reads whole numbers and auto', () => {
    expect(parseThreads('1')).toBe(1);
    expect(parseThreads(' 4 ')).toBe(4);
    expect(parseThreads('AUTO')).toBe('auto');
    expect(parseThreads('')).toBe('auto');
  });

  it('refuses other forms with the source in the message', () => {
    expect(() => parseThreads('two')).toThrow(/--threads must be a whole number/);
    expect(() => parseThreads('1.5', 'PATCHWORK_THREADS')).toThrow(/^PATCHWORK_THREADS/);
    expect(() => parseThreads('-2')).toThrow(/whole number/);
    expect(() => parseThreads('0')).toThrow(/between 1 and 8/);
    expect(() => parseThreads(String(MAX_THREADS + 1))).toThrow(/between 1 and/);
  });
});

describe('resolveThreads', () => {
  it('auto is the physical cores less the spare ones, at least 1, at most the maximum', () => {
    expect(resolveThreads('auto', 4)).toBe(4);
    expect(resolveThreads('auto', 4, 1)).toBe(3);
    expect(resolveThreads('auto', 1, 1)).toBe(1);
    expect(resolveThreads('auto', 64)).toBe(MAX_THREADS);
  });

  it('an explicit count is kept, whatever the cores', () => {
    expect(resolveThreads(3, 2, 1)).toBe(3);
    expect(resolveThreads(1, 16)).toBe(1);
  });
});
