/**
 * A small reader for the zip container of current PyTorch checkpoints (torch.save since 1.6:
 * `<name>/data.pkl`, `<name>/data/<key>`, `<name>/version`, entries usually STORED). Reads the
 * central directory, checks every entry's bounds and CRC-32, and inflates DEFLATE entries with
 * node:zlib. Zip64 records (which torch writes even for small files) are read; encrypted
 * entries are refused. Inflating never goes past an entry's declared size, and a declared size
 * that DEFLATE cannot reach from the entry's compressed bytes, or that is over the reader's
 * budget, is refused before inflating: a small hostile file cannot make the reader allocate
 * gigabytes (a 1-MB file once grew to 2.2 GB resident before its size was checked).
 */
import zlib from 'node:zlib';

export class ZipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipError';
  }
}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  /** Offset of the local file header. */
  headerOffset: number;
}

/**
 * DEFLATE's largest expansion: a 258-byte match costs at least 2 bits (a 1-bit length code
 * and a 1-bit distance code, no extra bits), so one compressed byte yields at most
 * 4 × 258 = 1032 bytes. A larger declared size cannot be honest.
 */
const MAX_DEFLATE_RATIO = 1032;

/**
 * What one archive may inflate in all, by default. torch.save never compresses (entries are
 * STORED, read in place), so DEFLATE appears only in a checkpoint someone zipped again; the
 * largest generator imported (ResNet, ngf 64, 9 blocks: 11.4 M parameters) is 46 MB in
 * float32, and a whole training checkpoint (G, D, H and their optimizers) a few hundred MB.
 */
export const DEFAULT_MAX_INFLATED_BYTES = 1024 ** 3;

export interface ZipReaderOptions {
  /** Bytes that DEFLATE entries may inflate to, all reads of this reader together. */
  maxInflatedBytes?: number;
}

const EOCD_SIG = 0x06054b50;
const CDIR_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const ZIP64_EOCD_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;

/** The first bytes of a zip archive (a local file header), to tell it from a legacy pickle. */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && readU32(bytes, 0) === LOCAL_SIG;
}

export class ZipReader {
  readonly entries: Map<string, ZipEntry>;
  private readonly maxInflated: number;
  private inflated = 0;

  constructor(
    private readonly bytes: Uint8Array,
    opts: ZipReaderOptions = {},
  ) {
    this.entries = readCentralDirectory(bytes);
    this.maxInflated = opts.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES;
  }

  /** The entry's uncompressed bytes, CRC-checked; a view into the archive when STORED. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new ZipError(`the archive has no entry ${name}`);
    const b = this.bytes;
    const h = e.headerOffset;
    if (h + 30 > b.length || readU32(b, h) !== LOCAL_SIG) {
      throw new ZipError(`entry ${name}: its local header is missing (truncated or corrupt file)`);
    }
    const start = h + 30 + readU16(b, h + 26) + readU16(b, h + 28);
    const end = start + e.compressedSize;
    if (end > b.length) {
      throw new ZipError(`entry ${name} runs past the end of the file (truncated file)`);
    }
    const raw = b.subarray(start, end);
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else if (e.method === 8) data = this.inflate(e, raw);
    else throw new ZipError(`entry ${name}: compression method ${e.method} is not supported`);
    if (data.length !== e.size) {
      throw new ZipError(`entry ${name}: expected ${e.size} bytes, got ${data.length}`);
    }
    if (zlib.crc32(data) >>> 0 !== e.crc) {
      throw new ZipError(`entry ${name}: CRC mismatch (the file is corrupt)`);
    }
    return data;
  }

  /** Inflates a DEFLATE entry, stopping as soon as it passes its declared size. */
  private inflate(e: ZipEntry, raw: Uint8Array): Uint8Array {
    if (e.size > raw.length * MAX_DEFLATE_RATIO) {
      throw new ZipError(
        `entry ${e.name}: declares ${e.size} bytes from ${raw.length} compressed bytes, ` +
          'more than DEFLATE can expand to (corrupt or hostile file)',
      );
    }
    const left = this.maxInflated - this.inflated;
    if (e.size > left) {
      throw new ZipError(
        `entry ${e.name}: declares ${e.size} bytes, more than the ${left} bytes left to ` +
          `inflate from this archive (limit ${this.maxInflated}; corrupt or hostile file)`,
      );
    }
    this.inflated += e.size;
    try {
      // zlib's limit is at least 1 byte; an empty entry that inflates to anything is caught
      // by the size check after.
      return zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new ZipError(
          `entry ${e.name}: inflates to more than its declared ${e.size} bytes ` +
            '(corrupt or hostile file; stopped there)',
        );
      }
      throw new ZipError(`entry ${e.name}: cannot inflate (${(err as Error).message})`);
    }
  }
}

function readCentralDirectory(b: Uint8Array): Map<string, ZipEntry> {
  // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
    if (readU32(b, i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new ZipError('no zip end-of-directory record (the file is truncated or not a zip)');
  }
  let count = readU16(b, eocd + 10);
  let cdSize = readU32(b, eocd + 12);
  let cdOffset = readU32(b, eocd + 16);
  // torch.save writes zip64 records even for small files; their values take precedence.
  if (eocd >= 20 && readU32(b, eocd - 20) === ZIP64_EOCD_LOCATOR_SIG) {
    const at = readU64(b, eocd - 20 + 8);
    if (at + 56 > b.length || readU32(b, at) !== ZIP64_EOCD_SIG) {
      throw new ZipError('the zip64 end-of-directory record is damaged (corrupt file)');
    }
    count = readU64(b, at + 32);
    cdSize = readU64(b, at + 40);
    cdOffset = readU64(b, at + 48);
  }
  if (cdOffset + cdSize > eocd) {
    throw new ZipError('the zip central directory lies outside the file (corrupt file)');
  }
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > eocd || readU32(b, p) !== CDIR_SIG) {
      throw new ZipError(`zip central directory entry ${i} is damaged (corrupt file)`);
    }
    const flags = readU16(b, p + 8);
    const nameLen = readU16(b, p + 28);
    const extraLen = readU16(b, p + 30);
    const commentLen = readU16(b, p + 32);
    const name = Buffer.from(b.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
    if (flags & 1) throw new ZipError(`entry ${name} is encrypted`);
    const entry: ZipEntry = {
      name,
      method: readU16(b, p + 10),
      crc: readU32(b, p + 16),
      compressedSize: readU32(b, p + 20),
      size: readU32(b, p + 24),
      headerOffset: readU32(b, p + 42),
    };
    if (
      entry.size === 0xffffffff ||
      entry.compressedSize === 0xffffffff ||
      entry.headerOffset === 0xffffffff
    ) {
      zip64Fields(entry, b.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen));
    }
    entries.set(name, entry);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Fills the 0xffffffff fields of an entry from its zip64 extra field (id 1), in order. */
function zip64Fields(e: ZipEntry, extra: Uint8Array): void {
  for (let q = 0; q + 4 <= extra.length;) {
    const id = readU16(extra, q);
    const len = readU16(extra, q + 2);
    if (id === 1) {
      let r = q + 4;
      const next = () => {
        if (r + 8 > q + 4 + len) throw new ZipError(`entry ${e.name}: zip64 field too short`);
        const v = readU64(extra, r);
        r += 8;
        return v;
      };
      if (e.size === 0xffffffff) e.size = next();
      if (e.compressedSize === 0xffffffff) e.compressedSize = next();
      if (e.headerOffset === 0xffffffff) e.headerOffset = next();
      return;
    }
    q += 4 + len;
  }
  throw new ZipError(`entry ${e.name}: zip64 sizes without a zip64 field (corrupt file)`);
}

/** A little-endian u64 that must fit a JS number (files here are far below 2^53 bytes). */
function readU64(b: Uint8Array, i: number): number {
  return readU32(b, i) + readU32(b, i + 4) * 2 ** 32;
}

export function readU16(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8);
}

export function readU32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}
