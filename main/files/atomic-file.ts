/**
 * The one way Patchwork writes a file that someone else may read: to a hidden temporary name
 * in the target's folder, synced, then renamed over the target. A reader, the folder watcher
 * or a crash sees either the old file or the whole new one, never half of it. Everything that
 * persists state (images, checkpoints, style.json, manifests, job and watch lists, settings,
 * caches, heatmaps) writes through here. A writer killed between the two steps leaves its
 * temporary behind; removeStaleTemporaries clears those, and nothing else, when a job starts
 * again in that folder. Plain Node: no TF.js, no Electron.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Prefix of every temporary this module makes: folder scans and watchers skip dot-files. */
export const TEMP_PREFIX = '.';
/** Suffix of every temporary this module makes. */
export const TEMP_SUFFIX = '.tmp';

/**
 * A hidden, unique temporary name beside `target` (never shared by parallel writers), ending
 * in `suffix` (default `.tmp`; a writer that picks its format by extension passes its own).
 */
export function tempPathFor(target: string, suffix = TEMP_SUFFIX): string {
  const abs = path.resolve(target);
  return path.join(
    path.dirname(abs),
    `${TEMP_PREFIX}${path.basename(abs)}.${randomUUID()}${suffix}`,
  );
}

/**
 * The names tempPathFor makes with the default suffix, `.<name>.<uuid>.tmp` (a version-4 UUID
 * as randomUUID writes it), and no other: the clean-up below removes only files that match.
 */
const OWN_TEMPORARY =
  /^\..+\.[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.tmp$/;

/** Whether a file name (not a path) is one of this module's `.tmp` temporaries. */
export function isOwnTemporary(name: string): boolean {
  return OWN_TEMPORARY.test(name);
}

/**
 * How old (by mtime) a temporary must be before it counts as left behind. A live writer's
 * temporary is younger: writes move its mtime, and between its last write (the sync) and the
 * rename there is only the beforeRename hook (a manifest save, milliseconds). Callers encode
 * before they open the temporary, so even a slow image never leaves it untouched for long.
 * Ten minutes leaves room for a stalled disk or a suspended laptop.
 */
export const STALE_TEMPORARY_MS = 10 * 60_000;

export interface StaleTemporaryOptions {
  /** Also the subfolders, except hidden ones (nothing writes outputs into those). */
  recursive?: boolean;
  /** Default STALE_TEMPORARY_MS. */
  olderThanMs?: number;
  /** The current time in ms (tests). */
  now?: number;
}

/**
 * Removes this module's temporaries (isOwnTemporary) older than the grace period from
 * `folder`, returning their paths. Links are never followed nor removed (a temporary is a
 * plain file; a link with such a name is somebody else's); a missing folder holds none. Best
 * effort: an entry that cannot be read or removed is left as it is, since the job that calls
 * this should not fail over a leftover.
 */
export async function removeStaleTemporaries(
  folder: string,
  opts: StaleTemporaryOptions = {},
): Promise<string[]> {
  const cutoff = (opts.now ?? Date.now()) - (opts.olderThanMs ?? STALE_TEMPORARY_MS);
  const removed: string[] = [];
  const folders = [path.resolve(folder)];
  for (let dir = folders.pop(); dir !== undefined; dir = folders.pop()) {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const file = path.join(dir, entry.name);
      // Dirent types come from lstat: a link is neither a directory nor a file here.
      if (entry.isDirectory()) {
        if (opts.recursive && !entry.name.startsWith('.')) folders.push(file);
        continue;
      }
      if (!entry.isFile() || !isOwnTemporary(entry.name)) continue;
      const stat = await fs.lstat(file).catch(() => null);
      if (!stat?.isFile() || stat.mtimeMs > cutoff) continue;
      await fs.unlink(file).then(
        () => removed.push(file),
        () => undefined,
      );
    }
  }
  return removed.sort();
}

export interface AtomicWriteOptions {
  /** Create the target's folder first when it is missing (default false). */
  makeFolder?: boolean;
  /** The temporary's extension, for writers that choose the format by it (default `.tmp`). */
  suffix?: string;
  /**
   * Permissions the file gets before it takes the target's name (a cache's 0600), so it is
   * never visible under that name with the writer's looser default.
   */
  mode?: number;
  /**
   * Called with the finished temporary just before it takes the target's name: what must be
   * on record before anyone can see the file (a conversion's manifest) is saved here.
   */
  beforeRename?: (temp: string) => Promise<void>;
}

/**
 * Has `write` fill a hidden temporary beside `target`, then renames it over `target`. On any
 * failure the temporary is removed and the error is rethrown as it came.
 */
export async function writeThroughTemp(
  target: string,
  write: (temp: string) => Promise<unknown>,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  if (opts.makeFolder) await fs.mkdir(path.dirname(path.resolve(target)), { recursive: true });
  const temp = tempPathFor(target, opts.suffix);
  try {
    await write(temp);
    if (opts.mode !== undefined) await fs.chmod(temp, opts.mode);
    await opts.beforeRename?.(temp);
    await fs.rename(temp, path.resolve(target));
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

/** Writes `data` to `file` atomically, synced to disk before the rename. */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  await writeThroughTemp(
    file,
    async (temp) => {
      const handle = await fs.open(temp, 'wx');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    opts,
  );
}

export interface JsonWriteOptions extends AtomicWriteOptions {
  /** Spaces per level (default 1). */
  indent?: number;
}

/** Writes `value` as JSON (one trailing newline) to `file` atomically. */
export async function writeJsonAtomic(
  file: string,
  value: unknown,
  opts: JsonWriteOptions = {},
): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, opts.indent ?? 1)}\n`, opts);
}

/** Reads a JSON file; null when it does not exist, an error when it is not JSON. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return JSON.parse(text) as unknown;
}

/**
 * Writes `snapshot()` to `file`; save() calls that overlap share the write in flight plus one
 * more, so a busy queue writes at most twice per burst instead of once per change.
 */
export class CoalescedJsonWriter {
  private dirty = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => unknown,
    private readonly opts: JsonWriteOptions = {},
  ) {}

  save(): Promise<void> {
    this.dirty = true;
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      await writeJsonAtomic(this.file, this.snapshot(), this.opts);
    }
  }
}
