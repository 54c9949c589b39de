/**
 * Metadata blocks written by hand where sharp does not make it practical: EXIF is copied into
 * JPEG and PNG only (sharp can set EXIF fields but not a raw EXIF block; those two containers
 * are patched directly), XMP into JPEG/PNG/WebP/TIFF, not AVIF; IPTC is never copied; stale
 * EXIF size tags are left as the source had them. Also the PNG iCCP chunk image-colour.ts uses.
 */
import { crc32, deflateSync } from 'node:zlib';
import type { OutputFormat } from '../../../shared/image-formats';

export const XMP_FORMATS = new Set<OutputFormat>(['png', 'jpeg', 'webp', 'tiff']);

/** The output is upright, so a copied orientation other than 1 would rotate it twice. */
export function resetXmpOrientation(xmp: Buffer): string {
  return xmp
    .toString('utf8')
    .replace(/tiff:Orientation="\d"/g, 'tiff:Orientation="1"')
    .replace(/<tiff:Orientation>\d<\/tiff:Orientation>/g, '<tiff:Orientation>1</tiff:Orientation>');
}

const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');

export function insertExif(
  data: Buffer,
  format: OutputFormat,
  exif: Buffer,
  notes: string[],
): Buffer | null {
  // sharp returns EXIF with the JPEG "Exif\0\0" prefix for some sources and without for others.
  const tiff = resetExifOrientation(
    exif.subarray(0, 6).equals(EXIF_HEADER) ? exif.subarray(6) : exif,
  );
  if (!tiff) {
    notes.push('the source EXIF block is not valid TIFF data: not copied');
    return null;
  }
  if (format === 'png') return insertPngChunk(data, 'eXIf', tiff);
  if (format === 'jpeg') {
    const segment = jpegApp1(tiff);
    if (segment) return insertJpegSegment(data, segment);
    notes.push('the source EXIF block is larger than one JPEG segment: not copied');
    return null;
  }
  notes.push(`EXIF is not copied into ${format}`);
  return null;
}

/** A copy of a TIFF-structured EXIF block with IFD0's Orientation set to 1; null if invalid. */
function resetExifOrientation(src: Buffer): Buffer | null {
  if (src.length < 8) return null;
  const tiff = Buffer.from(src);
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return null;
  const le = order === 'II';
  const u16 = (o: number) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const u32 = (o: number) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
  if (u16(2) !== 42) return null;
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return null;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return null;
    if (u16(entry) === 0x0112 && u16(entry + 2) === 3) {
      if (le) tiff.writeUInt16LE(1, entry + 8);
      else tiff.writeUInt16BE(1, entry + 8);
    }
  }
  return tiff;
}

function jpegApp1(tiff: Buffer): Buffer | null {
  const length = 2 + EXIF_HEADER.length + tiff.length;
  if (length > 0xffff) return null;
  const head = Buffer.from([0xff, 0xe1, length >> 8, length & 0xff]);
  return Buffer.concat([head, EXIF_HEADER, tiff]);
}

/** After SOI, and after a JFIF APP0 if one comes first (JFIF wants to be first). */
function insertJpegSegment(jpeg: Buffer, segment: Buffer): Buffer {
  let at = 2;
  if (jpeg[2] === 0xff && jpeg[3] === 0xe0) at = 4 + jpeg.readUInt16BE(4);
  return Buffer.concat([jpeg.subarray(0, at), segment, jpeg.subarray(at)]);
}

export function iccpChunk(profile: Buffer): Buffer {
  // Profile name, NUL, compression method 0 (zlib), compressed profile.
  return Buffer.concat([Buffer.from('sRGB\0\0', 'latin1'), deflateSync(profile)]);
}

/** Inserts a chunk right after IHDR (8-byte signature + 25-byte IHDR), before any IDAT. */
export function insertPngChunk(png: Buffer, type: string, body: Buffer): Buffer {
  const at = 8 + 25;
  const typeAndBody = Buffer.concat([Buffer.from(type, 'latin1'), body]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndBody));
  return Buffer.concat([png.subarray(0, at), length, typeAndBody, crc, png.subarray(at)]);
}
