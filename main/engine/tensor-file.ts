/**
 * Tensors on disk, for checkpoints (train/checkpoint.ts) and style folders (engine/style/):
 * a blob of float32 little-endian tensors back to back, indexed and checked by sha256, written
 * synced through an injectable FileWriter (tests make one fail); a finished temporary folder
 * moved into place with the old one kept until the new one is there.
 */
import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeThroughTemp } from '../files/atomic-file';
import { prefetchForSyncRead } from './webgpu';

/** A tensor file that is missing, truncated, fails its checksum or has a bad index. */
export class TensorFileError extends Error {
  constructor(
    readonly reason: 'missing' | 'truncated' | 'checksum' | 'index',
    message: string,
  ) {
    super(message);
    this.name = 'TensorFileError';
  }
}

// ─── tensor files ──────────────────────────────────────────────────────────────────────────

/** Where one tensor lies in a blob; offset and length in bytes. */
export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface BlobInfo {
  file: string;
  bytes: number;
  sha256: string;
}

/**
 * How files are written. The default writes, syncs and closes; tests inject a failing one to
 * show that a write error mid-save costs nothing that was already safe.
 */
export interface FileWriter {
  /** Creates `file` (it must not exist) from the chunks, in order, and syncs it to disk. */
  writeFile(file: string, chunks: Iterable<Uint8Array>): Promise<void>;
}

export const nodeWriter: FileWriter = {
  async writeFile(file, chunks) {
    const handle = await fs.open(file, 'wx');
    try {
      for (const chunk of chunks) await handle.writeFile(chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};

/**
 * Writes tensors back to back as float32. The chunks are produced one tensor at a time while
 * the writer consumes them, so a large model is never copied into one buffer; the checksum is
 * taken on the way.
 */
export async function writeTensorFile(
  writer: FileWriter,
  file: string,
  tensors: readonly { name: string; tensor: tf.Tensor }[],
): Promise<{ blob: BlobInfo; index: TensorEntry[] }> {
  await prefetchForSyncRead(tensors.map((t) => t.tensor));
  const hash = createHash('sha256');
  const index: TensorEntry[] = [];
  let offset = 0;
  function* chunks(): Generator<Uint8Array> {
    for (const { name, tensor } of tensors) {
      if (tensor.dtype !== 'float32') throw new Error(`tensor ${name} is ${tensor.dtype}`);
      const data = tensor.dataSync() as Float32Array;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      hash.update(bytes);
      index.push({ name, shape: [...tensor.shape], offset, length: bytes.byteLength });
      offset += bytes.byteLength;
      yield bytes;
    }
  }
  await writer.writeFile(file, chunks());
  if (index.length !== tensors.length) {
    throw new Error(`the writer stopped after ${index.length} of ${tensors.length} tensors`);
  }
  return { blob: { file: path.basename(file), bytes: offset, sha256: hash.digest('hex') }, index };
}

export interface StoredTensor {
  shape: number[];
  data: Float32Array;
}

/** Reads a blob back, checking its size, checksum and that the index fits inside it. */
export async function readTensorFile(
  dir: string,
  blob: BlobInfo,
  index: readonly TensorEntry[],
): Promise<Map<string, StoredTensor>> {
  const file = path.join(dir, blob.file);
  const buf = await fs.readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new TensorFileError(
      'missing',
      `${file}: ${err.code === 'ENOENT' ? 'missing' : err.message}`,
    );
  });
  if (buf.byteLength !== blob.bytes) {
    throw new TensorFileError(
      'truncated',
      `${file}: ${buf.byteLength} bytes, the manifest says ${blob.bytes} (truncated or damaged)`,
    );
  }
  const sha256 = createHash('sha256').update(buf).digest('hex');
  if (sha256 !== blob.sha256) {
    throw new TensorFileError('checksum', `${file}: checksum mismatch (the file is damaged)`);
  }
  // Float32Array views need 4-byte alignment; a pooled Buffer may not have it.
  const bytes = buf.byteOffset % 4 === 0 ? buf : Buffer.from(buf);
  const out = new Map<string, StoredTensor>();
  for (const e of index) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    const fits = e.offset % 4 === 0 && e.offset + e.length <= bytes.byteLength;
    if (!fits || e.length !== size * 4 || out.has(e.name)) {
      throw new TensorFileError('index', `${file}: bad index entry for ${e.name}`);
    }
    out.set(e.name, {
      shape: e.shape,
      data: new Float32Array(bytes.buffer, bytes.byteOffset + e.offset, size),
    });
  }
  return out;
}

/** Writes a small text file atomically through `writer` (files/atomic-file's temp and rename). */
export async function writeTextAtomic(writer: FileWriter, file: string, text: string) {
  await writeThroughTemp(file, (temp) => writer.writeFile(temp, [Buffer.from(text, 'utf8')]));
}

/**
 * Moves a finished temporary folder to `final`, replacing what is there: the old folder is
 * renamed aside first and put back if the second rename fails, then removed.
 */
export async function replaceDir(temp: string, final: string): Promise<void> {
  const aside = path.join(path.dirname(final), `.${path.basename(final)}.${randomUUID()}.old`);
  const hadOld = await fs.rename(final, aside).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
  try {
    await fs.rename(temp, final);
  } catch (err) {
    if (hadOld) await fs.rename(aside, final).catch(() => undefined);
    throw err;
  }
  if (hadOld) await fs.rm(aside, { recursive: true, force: true });
  await syncDir(path.dirname(final));
}

/** Makes renames in a folder durable where the platform allows it (not on Windows). */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r').catch(() => null);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

export function readJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new TensorFileError('index', `${what} is not valid JSON (${(err as Error).message})`);
  }
}
