/**
 * The studio's own folder browser for a browser tab (`patchwork serve`, where there is no
 * native dialog): one folder's listing — folders, images and other files, hidden files left
 * out — with breadcrumbs from the top of the allowed folder holding it, and the places to
 * start from. Only folders the PathPolicy allows are listed; an entry that is a link leading
 * out of them is listed as 'outside' and leads nowhere, so the browser never shows what lies
 * beyond the allowed folders.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  MAX_BROWSE_ENTRIES,
  type BrowseEntry,
  type BrowseListing,
  type BrowsePlace,
} from '../../shared/ipc-files';
import { AllowedRoots, isBelow, type PathPolicy } from './path-policy';

const IMAGE = /\.(jpe?g|png|webp|tiff?|avif|gif)$/i;

/**
 * Lists `asked` (a folder; a file or a missing path lists the nearest allowed folder holding
 * it). Null when even that is outside the allowed folders; no `asked`: only the places.
 */
export async function browseFolder(
  policy: PathPolicy,
  places: BrowsePlace[],
  asked?: string,
): Promise<BrowseListing | null> {
  const none: BrowseListing = {
    path: null,
    parent: null,
    crumbs: [],
    entries: [],
    truncated: false,
    places,
    asked: null,
  };
  if (asked === undefined) return none;
  if (!path.isAbsolute(asked)) return null;
  const dir = await nearestFolder(policy, path.resolve(asked));
  if (!dir) return null;
  const roots = policy.roots;
  const allowed = roots ? await AllowedRoots.of(roots) : null;
  const names = await fs.readdir(dir, { withFileTypes: true });
  const entries: BrowseEntry[] = [];
  for (const e of names) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isSymbolicLink() && allowed && !(await allowed.holds(p))) {
      entries.push({ name: e.name, path: p, kind: 'outside', size: null });
      continue;
    }
    // A link inside the allowed folders is shown as what it points at.
    const stat = e.isSymbolicLink() ? await fs.stat(p).catch(() => null) : null;
    const isDir = stat ? stat.isDirectory() : e.isDirectory();
    const isFile = stat ? stat.isFile() : e.isFile();
    if (isDir) entries.push({ name: e.name, path: p, kind: 'folder', size: null });
    else if (isFile) {
      const size = stat?.size ?? (await fs.stat(p).catch(() => null))?.size ?? null;
      entries.push({ name: e.name, path: p, kind: IMAGE.test(e.name) ? 'image' : 'file', size });
    }
  }
  const rank = (k: BrowseEntry['kind']) => (k === 'folder' ? 0 : 1);
  entries.sort(
    (a, b) =>
      rank(a.kind) - rank(b.kind) ||
      a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: 'base' }),
  );
  const parentDir = path.dirname(dir);
  const parent = parentDir !== dir && (await policy.resolve(parentDir)) !== null ? parentDir : null;
  return {
    path: dir,
    parent,
    crumbs: crumbsOf(dir, roots),
    entries: entries.slice(0, MAX_BROWSE_ENTRIES),
    truncated: entries.length > MAX_BROWSE_ENTRIES,
    places,
    asked: dir === path.resolve(asked) ? null : path.resolve(asked),
  };
}

/** `p` if it is an allowed folder, else the nearest allowed folder above it, else null. */
async function nearestFolder(policy: PathPolicy, p: string): Promise<string | null> {
  for (let cur = p; ; cur = path.dirname(cur)) {
    if ((await policy.resolve(cur)) === null) return null;
    const stat = await fs.stat(cur).catch(() => null);
    if (stat?.isDirectory()) return cur;
    if (path.dirname(cur) === cur) return null;
  }
}

/**
 * Breadcrumbs from the outermost allowed folder holding `dir` (by its letters), or from the
 * file system's top when every folder is allowed (the desktop app).
 */
function crumbsOf(dir: string, roots: string[] | null): { name: string; path: string }[] {
  const top = roots
    ? roots.filter((r) => r === dir || isBelow(dir, r)).sort((a, b) => a.length - b.length)[0]
    : path.parse(dir).root;
  if (!top) return [{ name: path.basename(dir) || dir, path: dir }];
  const crumbs = [{ name: path.basename(top) || top, path: top }];
  const rest = path.relative(top, dir);
  let cur = top;
  for (const part of rest ? rest.split(path.sep) : []) {
    cur = path.join(cur, part);
    crumbs.push({ name: part, path: cur });
  }
  return crumbs;
}
