/**
 * Which folders a transport may touch: only those below the roots the user allowed (and the
 * library), so a page — a browser tab for `patchwork serve`, a compromised window for the
 * desktop app — cannot read or write elsewhere. The desktop app's roots grow while it runs:
 * each folder the artist picks or drops is granted (granted-roots.ts). Symbolic links are followed before the check,
 * for the path named and, through AllowedRoots, for every file a scan finds below it: a link
 * inside an allowed folder must not lead out of it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** The reason a scan gives for an entry whose link leads outside the allowed folders. */
export const OUTSIDE_ALLOWED = 'outside-allowed-folders';

/** The allowed roots as real paths, to check real paths against. */
export class AllowedRoots {
  private constructor(private readonly real: readonly string[]) {}

  static async of(roots: readonly string[]): Promise<AllowedRoots> {
    return new AllowedRoots(await Promise.all(roots.map((r) => realPathSoFar(path.resolve(r)))));
  }

  /** Whether `p`, with every link in it followed, is one of the roots or lies below one. */
  async holds(p: string): Promise<boolean> {
    const real = await realPathSoFar(path.resolve(p));
    return this.real.some((root) => real === root || isBelow(real, root));
  }
}

/** Roots added while the studio runs (GrantedRoots); read anew on every check. */
export interface RootSource {
  list(): readonly string[];
}

export class PathPolicy {
  private readonly fixed: string[] | null;

  /** `roots` null: any absolute path (`granted` is then moot). */
  constructor(
    roots: readonly string[] | null,
    private readonly granted: RootSource | null = null,
  ) {
    this.fixed = roots && roots.map((r) => path.resolve(r));
  }

  /** The allowed roots now, or null for any absolute path. */
  get roots(): string[] | null {
    if (!this.fixed) return null;
    return [...this.fixed, ...(this.granted?.list() ?? []).map((r) => path.resolve(r))];
  }

  /** The path made absolute and real as far as it exists, or null when it is not allowed. */
  async resolve(p: string): Promise<string | null> {
    if (!path.isAbsolute(p)) return null;
    const abs = path.resolve(p);
    const roots = this.roots;
    if (!roots) return abs;
    // Roots are resolved on each call: a root that is itself a link may be re-pointed.
    return (await (await AllowedRoots.of(roots)).holds(abs)) ? abs : null;
  }
}

/** Whether `child` is strictly inside `parent`, by their letters (resolve links first). */
export function isBelow(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
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
