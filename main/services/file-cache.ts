/**
 * What the on-disk image caches (thumbnails.ts, image-pyramid.ts) share: a key of a file's
 * path, size and modification time (plus what else picks the variant), one piece of work per
 * key however many ask at once, a cap on the images made at once,
 * a write through a hidden temporary renamed over the target (0600, cache-folder.ts), and
 * trimming to the newest files.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeThroughTemp } from '../files/atomic-file';
import { CACHE_FILE_MODE } from './cache-folder';

/** 32 hex digits naming a cached file; the parts are joined with NUL so none run together. */
export function cacheKey(parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
}

/** Requests for the same key while its work runs share that work (and its outcome). */
export class SharedWork<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    let job = this.running.get(key);
    if (!job) {
      job = work().finally(() => this.running.delete(key));
      this.running.set(key, job);
    }
    return job;
  }
}

/** Runs at most `parallel` pieces of work at once; the rest wait in call order. */
export class WorkLimit {
  private readonly waiting: (() => void)[] = [];
  private active = 0;

  constructor(private readonly parallel: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.parallel) await new Promise<void>((r) => this.waiting.push(r));
    this.active += 1;
    try {
      return await work();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

/**
 * files/atomic-file's write through a hidden temporary ending in `suffix` (sharp picks the
 * format by it), made 0600 before it takes its name, with a failure reported as `fail(reason)`.
 * The rename replaces a link planted at `target` rather than writing through it.
 */
export async function writeCached(
  target: string,
  suffix: string,
  write: (temp: string) => Promise<unknown>,
  fail: (reason: string) => Error,
): Promise<void> {
  await writeThroughTemp(target, write, { suffix, mode: CACHE_FILE_MODE }).catch((err: unknown) => {
    throw fail(err instanceof Error ? err.message : String(err));
  });
}

/**
 * Keeps the newest `max` files of `dir` ending in `ext` (hidden temporaries aside). Dates come
 * from lstat: a link planted in the cache is removed like any file, never followed.
 */
export async function trimNewest(dir: string, ext: string, max: number): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const files = await Promise.all(
    names
      .filter((n) => n.endsWith(ext) && !n.startsWith('.'))
      .map(async (n) => {
        const p = path.join(dir, n);
        return { p, t: (await fs.lstat(p).catch(() => null))?.mtimeMs ?? 0 };
      }),
  );
  files.sort((a, b) => b.t - a.t);
  // A file still open elsewhere (Windows) stays until the next trim.
  await Promise.all(
    files.slice(max).map((f) => fs.rm(f.p, { force: true }).catch(() => undefined)),
  );
}
