/**
 * A temporary folder for one test file: made before the file's first test, removed after its
 * last. Call it at the top of the file, before the file's own hooks, so the folder exists when
 * they run (and is removed after their clean-up).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export interface TempDir {
  /** The folder itself (only inside hooks and tests). */
  readonly dir: string;
  /** A path inside the folder. */
  path(...parts: string[]): string;
}

export function useTempDir(prefix: string): TempDir {
  let dir: string | null = null;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterAll(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });
  const made = (): string => {
    if (dir === null) throw new Error(`${prefix}: the temporary folder is used before beforeAll`);
    return dir;
  };
  return {
    get dir() {
      return made();
    },
    path: (...parts) => path.join(made(), ...parts),
  };
}
