// Zip bombs for the reader's tests, made in memory in milliseconds: a DEFLATE entry whose
// stream expands about 1000 times, with whatever size and CRC the test wants declared.
import zlib from 'node:zlib';

const MiB = 1 << 20;

/** A raw DEFLATE stream of `mib` MiB of zeros, about 1 KB per MiB (zlib's best ratio). */
export function zerosStream(mib: number): Buffer {
  // A sync-flushed chunk ends on a byte boundary without the final-block bit, so copies of it
  // chain into one stream; the empty fixed block 03 00 ends it.
  const chunk = zlib.deflateRawSync(Buffer.alloc(MiB), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return Buffer.concat([...Array<Buffer>(mib).fill(chunk), Buffer.from([0x03, 0x00])]);
}

/** A one-entry zip holding `stream` as DEFLATE (method 8) with the declared size and CRC. */
export function deflatedZip(name: string, stream: Buffer, declared: number, crc: number): Buffer {
  const n = Buffer.from(name, 'utf8');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8); // DEFLATE
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(stream.length, 18);
  local.writeUInt32LE(declared, 22);
  local.writeUInt16LE(n.length, 26);
  const cd = Buffer.alloc(46);
  cd.writeUInt32LE(0x02014b50, 0);
  cd.writeUInt16LE(20, 4);
  cd.writeUInt16LE(20, 6);
  cd.writeUInt16LE(8, 10); // DEFLATE
  cd.writeUInt32LE(crc, 16);
  cd.writeUInt32LE(stream.length, 20);
  cd.writeUInt32LE(declared, 24);
  cd.writeUInt16LE(n.length, 28);
  cd.writeUInt32LE(0, 42);
  const cdOffset = local.length + n.length + stream.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(cd.length + n.length, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, n, stream, cd, n, eocd]);
}
