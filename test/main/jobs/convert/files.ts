/**
 * Small image files for the conversion tests, good and bad: every kind of broken input the
 * queue and the watcher must report and skip, made in memory in milliseconds.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { createImageConverter } from '../../../../main/engine/infer/convert-image';
import type { ConvertSettings } from '../../../../main/jobs/convert/convert-settings';

/** A converter whose "translation" inverts the image: only the plumbing is under test. */
export const invert = createImageConverter({
  translate: (img) => ({ ...img, data: img.data.map((v) => -v) }),
});
export const settings: ConvertSettings = {
  format: 'png',
  bitDepth: 8,
  icc: 'srgb',
  metadata: 'strip',
};

/** A w×h image whose pixels depend on `seed`, in the format the extension names. */
export async function imageBytes(file: string, seed: number, w = 16, h = 12): Promise<Buffer> {
  const data = Buffer.alloc(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + seed * 31) & 0xff;
  const p = sharp(data, { raw: { width: w, height: h, channels: 3 } });
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') return p.jpeg({ quality: 95 }).toBuffer();
  if (ext === '.webp') return p.webp({ lossless: true }).toBuffer();
  if (ext === '.tif' || ext === '.tiff') return p.tiff().toBuffer();
  return p.png().toBuffer();
}

export async function writeImage(file: string, seed: number, w = 16, h = 12): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, await imageBytes(file, seed, w, h));
}

/** A PNG whose header claims 100000×100000 pixels: refused before any decoding. */
export function decompressionBomb(): Buffer {
  const chunk = (type: string, body: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    const tb = Buffer.concat([Buffer.from(type, 'latin1'), body]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(tb));
    return Buffer.concat([len, tb, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100_000, 0);
  ihdr.writeUInt32BE(100_000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // The start of the first row only: enough for a decoder to trust the header.
  const idat = chunk('IDAT', deflateSync(Buffer.alloc(1024)));
  return Buffer.concat([signature, chunk('IHDR', ihdr), idat, chunk('IEND', Buffer.alloc(0))]);
}

export type BadKind = 'corrupt' | 'truncated' | 'empty' | 'not-an-image' | 'bomb';

/** Writes one broken file; returns the failure reason the queue should report. */
export async function writeBad(file: string, kind: BadKind, seed = 1): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  switch (kind) {
    case 'corrupt': {
      const junk = Buffer.alloc(300);
      for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + seed) & 0xff;
      await fs.writeFile(
        file,
        Buffer.concat([(await imageBytes('x.png', seed)).subarray(0, 8), junk]),
      );
      return 'corrupt';
    }
    case 'truncated': {
      const whole = await imageBytes(file, seed, 64, 48);
      await fs.writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
      return 'corrupt';
    }
    case 'empty':
      await fs.writeFile(file, '');
      return 'empty';
    case 'not-an-image':
      await fs.writeFile(file, 'these are not the pixels you are looking for\n'.repeat(20));
      return 'unsupported';
    case 'bomb':
      await fs.writeFile(file, decompressionBomb());
      return 'too-large';
  }
}

/** Every file below `dir`, relative, '/'-separated, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, rel: string) {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(d, e.name), r);
      else out.push(r);
    }
  }
  await walk(dir, '');
  return out.sort();
}
