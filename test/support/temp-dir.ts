/**
 * A temporary folder for one test file: made before the file's first test, removed after its
 * last (or, with `each`, a fresh one for every test). Call it at the top of the file, before
 * the file's own hooks, so the folder exists when they run (and is removed after their
 * clean-up).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

export interface TempDir {
  /** The folder itself (only inside hooks and tests). */
  readonly dir: string;
  /** A path inside the folder. */
  path(...parts: string[]): string;
}

export function useTempDir(prefix: string, { each = false } = {}): TempDir {
  let dir: string | null = null;
  (each ? beforeEach : beforeAll)(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  });
  (each ? afterEach : afterAll)(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
    dir = null;
  });
  const made = (): string => {
    if (dir === null) throw new Error(`${prefix}: the temporary folder is used outside its tests`);
    return dir;
  };
  return {
    get dir() {
      return made();
    },
    path: (...parts) => path.join(made(), ...parts),
  };
}
