/**
 * The upload inbox: images dropped on the studio in a browser tab (which never says where a
 * dropped file lives) are sent here in chunks and land in `<library>/inbox/<drop>/`, one
 * folder per drop, ready to convert. Each file is written to a hidden temporary beside its
 * final place (main/files/atomic-file.ts's names, so a left-behind one is cleared like any
 * other), must arrive whole and in order, must be an image by its name and by its first
 * bytes, and takes its final name only when finished — never over an existing file (a
 * name already there gets " (2)", " (3)", …).
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isUploadableName, MAX_UPLOAD_BYTES, type UploadStarted } from '../../shared/ipc-files';
import { tempPathFor } from '../files/atomic-file';

export const INBOX_FOLDER = 'inbox';
/** Uploads open at once; a page that starts more waits for one to finish or be given up. */
export const MAX_OPEN_UPLOADS = 16;
/** An upload with no chunk for this long is given up (its temporary removed). */
export const UPLOAD_IDLE_MS = 5 * 60_000;

/** The name of a drop's folder as the inbox makes it: its time, and a number when taken. */
const DROP_FOLDER = /^\d{4}-\d{2}-\d{2} \d{2}-\d{2}-\d{2}(?: \(\d+\))?$/;

/** Whether a folder name is one the inbox gives a drop (not "<drop> converted", not the artist's). */
export function isDropFolderName(name: string): boolean {
  return DROP_FOLDER.test(name);
}

export class InboxError extends Error {
  constructor(
    readonly code: 'rejected' | 'not-found',
    message: string,
    /** The request's field the problem is about. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'InboxError';
  }
}

interface Upload {
  id: string;
  folder: string;
  name: string;
  size: number;
  temp: string;
  handle: FileHandle;
  received: number;
  /** The first bytes, for the image check. */
  head: Buffer;
  timer: NodeJS.Timeout;
}

/** Image signatures by their first bytes (enough of each to tell the formats apart). */
function looksLikeImage(head: Buffer): boolean {
  const at = (offset: number, ...bytes: number[]) => bytes.every((b, i) => head[offset + i] === b);
  const ascii = (offset: number, text: string) =>
    head.subarray(offset, offset + text.length).toString('latin1') === text;
  return (
    at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a) || // PNG
    at(0, 0xff, 0xd8, 0xff) || // JPEG
    (ascii(0, 'RIFF') && ascii(8, 'WEBP')) ||
    at(0, 0x49, 0x49, 0x2a, 0x00) || // TIFF, little-endian
    at(0, 0x4d, 0x4d, 0x00, 0x2a) || // TIFF, big-endian
    at(0, 0x49, 0x49, 0x2b, 0x00) || // BigTIFF
    at(0, 0x4d, 0x4d, 0x00, 0x2b) ||
    (ascii(4, 'ftyp') && (ascii(8, 'avif') || ascii(8, 'avis') || ascii(8, 'mif1')))
  );
}

/**
 * A file name safe to write in the inbox: its last path part, control and reserved
 * characters replaced, no leading dots (hidden), at most 120 characters before its extension.
 */
export function safeUploadName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // Control characters are exactly what is being removed from the name.
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_').replace(/^[.\s]+/, '');
  const ext = path.extname(clean);
  const stem = clean.slice(0, clean.length - ext.length).trim() || 'image';
  return `${stem.slice(0, 120)}${ext.toLowerCase()}`;
}

export class Inbox {
  private readonly uploads = new Map<string, Upload>();
  /** Why no upload may start now (the inbox is being emptied), or null. */
  private closedBecause: string | null = null;

  constructor(
    /** `<library>/inbox`. */
    readonly root: string,
    private readonly idleMs = UPLOAD_IDLE_MS,
  ) {}

  /** Uploads under way (begun, neither finished nor given up). */
  get openUploads(): number {
    return this.uploads.size;
  }

  /**
   * Runs `work` with new uploads refused (`because` says why), unless one is under way: then
   * refuses with `busy` instead, and runs nothing.
   */
  async closedWhile<T>(because: string, busy: string, work: () => Promise<T>): Promise<T> {
    if (this.closedBecause !== null) throw new InboxError('rejected', this.closedBecause);
    if (this.uploads.size) throw new InboxError('rejected', busy);
    this.closedBecause = because;
    try {
      return await work();
    } finally {
      this.closedBecause = null;
    }
  }

  /** Starts an upload; `folder`: the folder of an earlier upload of the same drop. */
  async begin(name: string, size: number, folder?: string): Promise<UploadStarted> {
    if (this.closedBecause !== null) throw new InboxError('rejected', this.closedBecause);
    const safe = safeUploadName(name);
    if (!isUploadableName(safe)) {
      throw new InboxError(
        'rejected',
        `${name} is not an image the studio converts (JPEG, PNG, WebP, TIFF or AVIF)`,
        'name',
      );
    }
    if (size > MAX_UPLOAD_BYTES) {
      throw new InboxError(
        'rejected',
        `${name} is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB`,
        'size',
      );
    }
    if (this.uploads.size >= MAX_OPEN_UPLOADS) {
      throw new InboxError('rejected', 'too many uploads at once: wait for some to finish');
    }
    const dir = folder === undefined ? await this.newDropFolder() : await this.dropFolder(folder);
    const temp = tempPathFor(path.join(dir, safe));
    const handle = await fs.open(temp, 'wx', 0o600);
    const id = randomUUID();
    const upload: Upload = {
      id,
      folder: dir,
      name: safe,
      size,
      temp,
      handle,
      received: 0,
      head: Buffer.alloc(0),
      timer: this.idleTimer(id),
    };
    this.uploads.set(id, upload);
    return { uploadId: id, folder: dir };
  }

  /** Appends the bytes at `offset`, which must be where the upload stands. */
  async chunk(id: string, offset: number, bytes: Buffer): Promise<number> {
    const u = this.open(id);
    if (offset !== u.received) {
      throw new InboxError(
        'rejected',
        `chunk at byte ${offset}, but ${u.received} bytes have arrived: send them in order`,
        'offset',
      );
    }
    if (u.received + bytes.length > u.size) {
      await this.abort(id);
      throw new InboxError('rejected', `${u.name} is longer than the ${u.size} bytes announced`);
    }
    clearTimeout(u.timer);
    u.timer = this.idleTimer(id);
    await u.handle.write(bytes, 0, bytes.length, offset);
    u.received += bytes.length;
    if (u.head.length < 16) u.head = Buffer.concat([u.head, bytes]).subarray(0, 16);
    return u.received;
  }

  /** Checks the whole file is there and is an image, then gives it its name: its path. */
  async finish(id: string): Promise<string> {
    const u = this.open(id);
    if (u.received !== u.size) {
      throw new InboxError(
        'rejected',
        `${u.name}: ${u.received} of ${u.size} bytes arrived; send the rest first`,
      );
    }
    if (!looksLikeImage(u.head)) {
      await this.abort(id);
      throw new InboxError('rejected', `${u.name} is not an image file (its contents say so)`);
    }
    this.forget(u);
    try {
      await u.handle.sync();
      await u.handle.close();
      return await this.placeUnique(u.temp, u.folder, u.name);
    } catch (err) {
      await fs.rm(u.temp, { force: true });
      throw err;
    }
  }

  /** Gives up an upload and removes what arrived of it. */
  async abort(id: string): Promise<void> {
    const u = this.uploads.get(id);
    if (!u) return;
    this.forget(u);
    await u.handle.close().catch(() => undefined);
    await fs.rm(u.temp, { force: true });
  }

  /** Gives up every upload (the studio closes). */
  async dispose(): Promise<void> {
    await Promise.all([...this.uploads.keys()].map((id) => this.abort(id)));
  }

  private open(id: string): Upload {
    const u = this.uploads.get(id);
    if (!u) {
      throw new InboxError(
        'not-found',
        'that upload is not open (finished, given up, or idle too long)',
        'uploadId',
      );
    }
    return u;
  }

  private forget(u: Upload): void {
    clearTimeout(u.timer);
    this.uploads.delete(u.id);
  }

  private idleTimer(id: string): NodeJS.Timeout {
    const t = setTimeout(() => void this.abort(id), this.idleMs);
    t.unref();
    return t;
  }

  /** A fresh folder for one drop, named by the time (and a number when taken): isDropFolderName. */
  private async newDropFolder(): Promise<string> {
    await fs.mkdir(this.root, { recursive: true });
    const stamp = new Date().toISOString().slice(0, 19).replace('T', ' ').replace(/:/g, '-');
    for (let n = 1; ; n++) {
      const dir = path.join(this.root, n === 1 ? stamp : `${stamp} (${n})`);
      try {
        await fs.mkdir(dir);
        return dir;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  /** An earlier drop's folder: directly in the inbox, there, and a real folder. */
  private async dropFolder(folder: string): Promise<string> {
    const dir = path.resolve(folder);
    const stat = await fs.lstat(dir).catch(() => null);
    if (path.dirname(dir) !== path.resolve(this.root) || !stat?.isDirectory()) {
      throw new InboxError('rejected', `${folder} is not a folder of the inbox`, 'folder');
    }
    return dir;
  }

  /** Moves the finished temporary to `name` in `dir`, or "name (2)" etc. when taken. */
  private async placeUnique(temp: string, dir: string, name: string): Promise<string> {
    const ext = path.extname(name);
    const stem = name.slice(0, name.length - ext.length);
    for (let n = 1; n < 10_000; n++) {
      const target = path.join(dir, n === 1 ? name : `${stem} (${n})${ext}`);
      try {
        // A hard link fails when the name is taken, where a rename would replace the file.
        await fs.link(temp, target);
        await fs.rm(temp, { force: true });
        return target;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    throw new InboxError('rejected', `too many files named ${name} in ${dir}`);
  }
}
