/**
 * The one place the studio's caches live and the rules they keep (issue 19, item 3): a root in
 * the library, `<library>/cache`, with a folder per cache (thumbnails, pyramid, heatmaps).
 * Caches hold pictures of the artist's private images, so every folder is this user's own and
 * 0700 (a looser one is tightened), every file 0600, and a folder that is a symbolic link or
 * belongs to someone else is refused rather than used. Nothing in a cache follows a link: a
 * cached file counts only when lstat says it is a plain file (a planted link is a miss, and the
 * rename that writes the real file replaces the link itself), and a cached file is handed out
 * to be served only when its real path is inside the real cache root. Plain Node.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isBelow } from './path-policy';

/** The cache root's name inside the library. */
export const CACHE_FOLDER = 'cache';
/** The caches inside the root, one folder each. */
export type CacheName = 'thumbnails' | 'pyramid' | 'heatmaps';
/** Only this user may list, read or plant anything in a cache folder. */
export const CACHE_FOLDER_MODE = 0o700;
/** Only this user may read a cached picture. */
export const CACHE_FILE_MODE = 0o600;

/** A cache folder that must not be used as it is (a link, a file, someone else's). */
export class CacheFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CacheFolderError';
  }
}

/** The cache root of a library. */
export function libraryCacheDir(libraryDir: string): string {
  return path.join(path.resolve(libraryDir), CACHE_FOLDER);
}

/**
 * Makes `dir` ready as a private cache folder, and each folder from `root` down to it: created
 * 0700 when missing, tightened to 0700 when looser; refused when it is a symbolic link, not a
 * folder, or not this user's. `root`'s own parents are made as usual (the library).
 */
export async function ensurePrivateFolder(dir: string, root = dir): Promise<string> {
  const target = path.resolve(dir);
  const top = path.resolve(root);
  const chain = [top, ...(isBelow(target, top) ? path.relative(top, target).split(path.sep) : [])];
  await fs.mkdir(path.dirname(top), { recursive: true });
  let cur = '';
  for (const [i, part] of chain.entries()) {
    cur = i === 0 ? part : path.join(cur, part);
    await fs.mkdir(cur, { mode: CACHE_FOLDER_MODE }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    await checkPrivateFolder(cur);
  }
  return target;
}

async function checkPrivateFolder(dir: string): Promise<void> {
  const stat = await fs.lstat(dir);
  if (stat.isSymbolicLink()) {
    throw new CacheFolderError(
      `the cache folder ${dir} is a symbolic link; Patchwork keeps its caches only in a real ` +
        'folder of its own: remove the link and it will make the folder',
    );
  }
  if (!stat.isDirectory()) {
    throw new CacheFolderError(
      `the cache folder ${dir} is not a folder: move that file away and Patchwork will make it`,
    );
  }
  const uid = process.getuid?.();
  // Windows has no owners in stat (uid 0) and no getuid; its ACLs follow the user's profile.
  if (uid !== undefined && stat.uid !== uid) {
    throw new CacheFolderError(
      `the cache folder ${dir} belongs to another user (uid ${stat.uid}, you are ${uid}); ` +
        'remove it and Patchwork will make its own',
    );
  }
  if (process.platform !== 'win32' && (stat.mode & 0o777) !== CACHE_FOLDER_MODE) {
    await fs.chmod(dir, CACHE_FOLDER_MODE);
  }
}

/** Whether `file` is a cached file: a plain file by lstat (a link or anything else is not). */
export async function isCachedFile(file: string): Promise<boolean> {
  const stat = await fs.lstat(file).catch(() => null);
  return stat?.isFile() ?? false;
}

/**
 * `file` if it may be served from the cache under `root`: a plain file (not a link), whose
 * real path is inside the real root; else null.
 */
export async function servableCacheFile(file: string, root: string): Promise<string | null> {
  if (!path.isAbsolute(file) || !(await isCachedFile(file))) return null;
  const [real, realRoot] = await Promise.all([
    fs.realpath(file).catch(() => null),
    fs.realpath(root).catch(() => null),
  ]);
  if (!real || !realRoot) return null;
  return isBelow(real, realRoot) ? path.resolve(file) : null;
}

/** A library's (or a given) cache root and its folders. */
export class CacheRoot {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  /** Where the cache `name` keeps its files. */
  folder(name: CacheName): string {
    return path.join(this.dir, name);
  }

  /** The folder of cache `name` (or the root itself), made private with the root, or refused. */
  ready(name?: CacheName): Promise<string> {
    return ensurePrivateFolder(name ? this.folder(name) : this.dir, this.dir);
  }

  /** `file` if it is a cached file inside this root (after realpath, never a link), or null. */
  servable(file: string): Promise<string | null> {
    return servableCacheFile(file, this.dir);
  }
}
