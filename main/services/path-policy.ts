/**
 * Which folders a transport may touch. The desktop app may use any folder the artist picks;
 * `patchwork serve` only those below the roots the user allowed (and the library), so a
 * browser tab cannot read or write elsewhere. Symbolic links are followed before the check.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export class PathPolicy {
  /** null: any absolute path. */
  readonly roots: string[] | null;

  constructor(roots: string[] | null) {
    this.roots = roots && roots.map((r) => path.resolve(r));
  }

  /** The path made absolute and real as far as it exists, or null when it is not allowed. */
  async resolve(p: string): Promise<string | null> {
    if (!path.isAbsolute(p)) return null;
    const abs = path.resolve(p);
    if (!this.roots) return abs;
    const real = await realPathSoFar(abs);
    for (const root of this.roots) {
      const realRoot = await realPathSoFar(root);
      if (real === realRoot || isBelow(real, realRoot)) return abs;
    }
    return null;
  }
}

/** Whether `child` is strictly inside `parent`, by their letters (resolve links first). */
export function isBelow(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** realpath of the longest existing prefix, with the rest appended. */
async function realPathSoFar(p: string): Promise<string> {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return path.join(await fs.realpath(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return p;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}
