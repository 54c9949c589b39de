/**
 * The one way Patchwork writes a file that someone else may read: to a hidden temporary name
 * in the target's folder, synced, then renamed over the target. A reader, the folder watcher
 * or a crash sees either the old file or the whole new one, never half of it. Everything that
 * persists state (images, checkpoints, style.json, manifests, job and watch lists, settings,
 * caches, heatmaps) writes through here. Plain Node: no TF.js, no Electron.
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

export interface AtomicWriteOptions {
  /** Create the target's folder first when it is missing (default false). */
  makeFolder?: boolean;
  /** The temporary's extension, for writers that choose the format by it (default `.tmp`). */
  suffix?: string;
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
