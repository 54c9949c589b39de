/**
 * Small JSON state files (the conversion manifest, the watcher's pending list, the studio's
 * settings.json and estimates.json) written so a reader or a crash never sees half a file:
 * image-io's atomic write (a hidden temporary beside the target, synced, then renamed over
 * it). Saves requested while one is being written are coalesced into one more write, so a
 * busy queue writes at most twice per burst instead of once per file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../engine/data/image-io';

export interface JsonWriteOptions {
  /** Spaces per level (default 1). */
  indent?: number;
  /** Create the file's folder first when it is missing (default false). */
  makeFolder?: boolean;
}

export async function writeJsonAtomic(
  file: string,
  value: unknown,
  opts: JsonWriteOptions = {},
): Promise<void> {
  if (opts.makeFolder) await fs.mkdir(path.dirname(file), { recursive: true });
  const text = `${JSON.stringify(value, null, opts.indent ?? 1)}\n`;
  await writeFileAtomic(file, Buffer.from(text, 'utf8'));
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

/** Writes `snapshot()` to `file`; overlapping save() calls share the write in flight plus one. */
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
