/**
 * Writes a STORED zip archive as torch.save lays it out: each record's data starts on a
 * 64-byte boundary (padding goes into an extra field of the local header), so readers can
 * map storages in place. Archives here are small; zip64 is not written.
 */
import zlib from 'node:zlib';

const ALIGN = 64;
const PAD_FIELD_ID = 0x4246; // 'FB', the id torch's writer uses for its padding field

export interface ZipRecord {
  name: string;
  data: Uint8Array;
}

export function writeZip(records: ZipRecord[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const r of records) {
    const name = Buffer.from(r.name, 'utf8');
    const crc = zlib.crc32(r.data) >>> 0;
    const headerEnd = offset + 30 + name.length;
    const pad = (ALIGN - ((headerEnd + 4) % ALIGN)) % ALIGN; // data then starts aligned
    const extra = Buffer.alloc(4 + pad);
    extra.writeUInt16LE(PAD_FIELD_ID, 0);
    extra.writeUInt16LE(pad, 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // STORED
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date: 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(r.data.length, 18);
    local.writeUInt32LE(r.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    parts.push(local, name, extra, Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length));
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4); // version made by
    cd.writeUInt16LE(20, 6); // version needed
    cd.writeUInt16LE(0, 8);
    cd.writeUInt16LE(0, 10);
    cd.writeUInt16LE(0, 12);
    cd.writeUInt16LE(0x21, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(r.data.length, 20);
    cd.writeUInt32LE(r.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    offset += 30 + name.length + extra.length + r.data.length;
  }
  if (offset > 0xffffffff) throw new Error('the archive would need zip64 (over 4 GiB)');
  const cdBytes = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(records.length, 8);
  eocd.writeUInt16LE(records.length, 10);
  eocd.writeUInt32LE(cdBytes.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBytes, eocd]);
}
