// The zip reader never inflates more than an entry says it holds: a small archive whose
// DEFLATE entry expands far beyond its declared size (a zip bomb) is refused as soon as the
// output passes that size, and a declared size that no DEFLATE stream of that length could
// produce, or that is over the reader's budget, is refused before anything is inflated.
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PthError, readPth } from '../../../../main/engine/import/pth';
import { ZipError, ZipReader } from '../../../../main/engine/import/zip';
import { deflatedZip, zerosStream } from './zip-bomb';

const MiB = 1 << 20;

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('inflating is bounded by the declared size', () => {
  it('an entry that inflates to 256 MiB but declares 1 MiB is refused at 1 MiB', () => {
    const stream = zerosStream(256);
    expect(stream.length).toBeLessThan(300_000); // a small file
    const zip = deflatedZip('sd/data/0', stream, MiB, zlib.crc32(Buffer.alloc(MiB)) >>> 0);
    const reader = new ZipReader(zip);
    global.gc?.();
    const rss = process.memoryUsage().rss;
    const err = caught(() => reader.read('sd/data/0'));
    const grew = process.memoryUsage().rss - rss;
    expect(err).toBeInstanceOf(ZipError);
    expect(err.message).toMatch(
      /^entry sd\/data\/0: inflates to more than its declared 1048576 bytes/,
    );
    // Unbounded, this inflated all 256 MiB (and copied it once more) before any check.
    expect(grew).toBeLessThan(100 * MiB);
  });

  it('through the checkpoint reader: a PthError naming the entry', () => {
    const zip = deflatedZip('sd/data.pkl', zerosStream(64), MiB, 0);
    const err = caught(() => readPth(zip));
    expect(err).toBeInstanceOf(PthError);
    expect((err as PthError).code).toBe('corrupt');
    expect(err.message).toMatch(
      /damaged: entry sd\/data\.pkl: inflates to more than its declared 1048576 bytes/,
    );
  });

  it('a declared size no DEFLATE stream of that length can reach is refused up front', () => {
    // 3 GiB from about 64 KB: DEFLATE expands at most 1032 times.
    const stream = zerosStream(64);
    const zip = deflatedZip('sd/data/0', stream, 3 * 1024 * MiB, 0);
    const err = caught(() => new ZipReader(zip).read('sd/data/0'));
    expect(err.message).toBe(
      `entry sd/data/0: declares 3221225472 bytes from ${stream.length} compressed bytes, ` +
        'more than DEFLATE can expand to (corrupt or hostile file)',
    );
  });

  it('an honest declaration over the budget is refused before inflating', () => {
    const zip = deflatedZip(
      'sd/data/0',
      zerosStream(32),
      32 * MiB,
      zlib.crc32(Buffer.alloc(32 * MiB)) >>> 0,
    );
    const err = caught(() => new ZipReader(zip, { maxInflatedBytes: 16 * MiB }).read('sd/data/0'));
    expect(err.message).toBe(
      'entry sd/data/0: declares 33554432 bytes, more than the 16777216 bytes left to inflate ' +
        'from this archive (limit 16777216; corrupt or hostile file)',
    );
    // Within the budget the same entry reads, and it counts against what is left.
    const reader = new ZipReader(zip, { maxInflatedBytes: 48 * MiB });
    expect(reader.read('sd/data/0').length).toBe(32 * MiB);
    expect(() => reader.read('sd/data/0')).toThrow(
      /declares 33554432 bytes, more than the 16777216 bytes left .*\(limit 50331648;/,
    );
  });
});
