/**
 * Where tiled inference keeps the stage maps it stores (stage-plan.ts): float32 [H, W, C] maps,
 * written and read a rectangle at a time. A map lives in RAM while the store's RAM stays within
 * its byte budget and otherwise in a file of its own under a private temporary folder (row-major
 * HWC, native byte order, positioned reads and writes of one row span each, or of one range
 * when the rectangle is full width). close() removes the folder, and must be called on every
 * path out, errors and cancellation included. Async fs keeps the event loop (progress,
 * cancellation) alive during disk traffic; rows are issued together so the thread pool can
 * overlap them.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spanLength, type Rect } from './tiling';

export interface FeatureStoreOptions {
  /** Bytes of maps kept in RAM; a map that would go past this goes to disk. */
  ramBytes: number;
  /** Parent folder of the spill folder; the OS temporary folder by default. */
  tmpDir?: string;
}

interface StoredMap {
  height: number;
  width: number;
  channels: number;
  bytes: number;
  ram: Float32Array | null;
  file: { handle: FileHandle; path: string } | null;
}

const FLOAT_BYTES = 4;

export class FeatureStore {
  private readonly maps = new Map<string, StoredMap>();
  private ramUsed = 0;
  private diskUsed = 0;
  private spills = 0;
  private dir: Promise<string> | null = null;
  private fileCounter = 0;

  constructor(private readonly opts: FeatureStoreOptions) {}

  /** Allocate a map; a second call with the same shape keeps the first (for retries). */
  async create(id: string, height: number, width: number, channels: number): Promise<void> {
    const old = this.maps.get(id);
    if (old) {
      if (old.height === height && old.width === width && old.channels === channels) return;
      throw new Error(`feature map ${id} exists with another shape`);
    }
    const bytes = height * width * channels * FLOAT_BYTES;
    const map: StoredMap = { height, width, channels, bytes, ram: null, file: null };
    if (this.ramUsed + bytes <= this.opts.ramBytes) {
      map.ram = new Float32Array(height * width * channels);
      this.ramUsed += bytes;
    } else {
      const file = path.join(await this.spillDir(), `${this.fileCounter++}.f32`);
      map.file = { handle: await fs.open(file, 'w+'), path: file };
      this.diskUsed += bytes;
      this.spills += 1;
    }
    this.maps.set(id, map);
  }

  has(id: string): boolean {
    return this.maps.has(id);
  }

  /** Write `data`, [h, w, C] of `rect`, into the map. */
  async write(id: string, rect: Rect, data: Float32Array): Promise<void> {
    const map = this.get(id);
    this.check(id, map, rect, data.length);
    if (map.ram) {
      eachRow(map, rect, (offset, at, len) => map.ram?.set(data.subarray(at, at + len), offset));
      return;
    }
    const handle = (map.file as NonNullable<StoredMap['file']>).handle;
    const jobs: Promise<void>[] = [];
    eachRow(map, rect, (offset, at, len) => {
      jobs.push(writeFully(handle, bytesOf(data, at, len), offset * FLOAT_BYTES));
    });
    await Promise.all(jobs);
  }

  /** Read `rect` of the map as [h, w, C]. */
  async read(id: string, rect: Rect): Promise<Float32Array> {
    const map = this.get(id);
    const out = new Float32Array(spanLength(rect.y) * spanLength(rect.x) * map.channels);
    this.check(id, map, rect, out.length);
    if (map.ram) {
      const ram = map.ram;
      eachRow(map, rect, (offset, at, len) => out.set(ram.subarray(offset, offset + len), at));
      return out;
    }
    const handle = (map.file as NonNullable<StoredMap['file']>).handle;
    const jobs: Promise<void>[] = [];
    eachRow(map, rect, (offset, at, len) => {
      jobs.push(readFully(handle, bytesOf(out, at, len), offset * FLOAT_BYTES));
    });
    await Promise.all(jobs);
    return out;
  }

  async free(id: string): Promise<void> {
    const map = this.maps.get(id);
    if (!map) return;
    this.maps.delete(id);
    if (map.ram) this.ramUsed -= map.bytes;
    if (map.file) {
      this.diskUsed -= map.bytes;
      await map.file.handle.close();
      await fs.rm(map.file.path, { force: true });
    }
  }

  /** Free every map and remove the spill folder. Safe to call more than once. */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const id of [...this.maps.keys()]) {
      await this.free(id).catch((err: unknown) => errors.push(err));
    }
    if (this.dir) {
      const dir = await this.dir.catch(() => null);
      this.dir = null;
      if (dir) await fs.rm(dir, { recursive: true, force: true });
    }
    if (errors.length > 0) throw errors[0];
  }

  /** Bytes held now in RAM and on disk, and how many maps ever went to disk. */
  get usage(): { ramBytes: number; diskBytes: number; spilledMaps: number } {
    return { ramBytes: this.ramUsed, diskBytes: this.diskUsed, spilledMaps: this.spills };
  }

  private spillDir(): Promise<string> {
    this.dir ??= fs.mkdtemp(path.join(this.opts.tmpDir ?? os.tmpdir(), 'patchwork-tiles-'));
    return this.dir;
  }

  private get(id: string): StoredMap {
    const map = this.maps.get(id);
    if (!map) throw new Error(`no feature map ${id}`);
    return map;
  }

  private check(id: string, map: StoredMap, rect: Rect, length: number): void {
    const { y, x } = rect;
    if (y.start < 0 || x.start < 0 || y.end > map.height || x.end > map.width) {
      throw new RangeError(
        `rect [${y.start},${y.end})×[${x.start},${x.end}) is outside ${id} (${map.height}×${map.width})`,
      );
    }
    const want = spanLength(y) * spanLength(x) * map.channels;
    if (length !== want) throw new RangeError(`${id}: expected ${want} values, got ${length}`);
  }
}

/**
 * Visit the contiguous runs of a rect in a row-major map: (map offset, offset in the rect's
 * buffer, length), in floats. A full-width rect is one run.
 */
function eachRow(
  map: StoredMap,
  rect: Rect,
  visit: (offset: number, at: number, len: number) => void,
): void {
  const c = map.channels;
  const rowLen = spanLength(rect.x) * c;
  if (rect.x.start === 0 && rect.x.end === map.width) {
    visit(rect.y.start * map.width * c, 0, rowLen * spanLength(rect.y));
    return;
  }
  for (let r = rect.y.start; r < rect.y.end; r++) {
    visit((r * map.width + rect.x.start) * c, (r - rect.y.start) * rowLen, rowLen);
  }
}

function bytesOf(data: Float32Array, at: number, len: number): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset + at * FLOAT_BYTES, len * FLOAT_BYTES);
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

async function readFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesRead } = await handle.read(bytes, done, bytes.length - done, position + done);
    if (bytesRead === 0) throw new Error('feature store file is shorter than its map');
    done += bytesRead;
  }
}
