/**
 * ICC colour for image I/O: whether a source's profile is sRGB (then decoding ignores it and
 * keeps the values exact), and on encoding which profile to embed (sRGB, the source's RGB
 * profile, or none) and the sharp pipeline that applies it, 8- and 16-bit. A source profile
 * that is not RGB (CMYK, grey) cannot describe RGB output, so sRGB is embedded instead.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { PixelBuffer } from './image-decode';
import type { EncodeOptions } from './image-encode';
import { iccpChunk, insertPngChunk } from './image-metadata';

/** Whether an ICC profile describes itself as sRGB (its 'desc' tag, v2 text or v4 mluc). */
export function isSrgbProfile(icc: Buffer): boolean {
  if (icc.length < 132 || icc.toString('latin1', 16, 20) !== 'RGB ') return false;
  const count = icc.readUInt32BE(128);
  for (let i = 0; i < count && 132 + i * 12 + 12 <= icc.length; i++) {
    const entry = 132 + i * 12;
    if (icc.toString('latin1', entry, entry + 4) !== 'desc') continue;
    const at = icc.readUInt32BE(entry + 4);
    const text = profileText(icc, at);
    // "Linear sRGB" and the like share the primaries but not the curve.
    return /\bsRGB\b/.test(text) && !/linear/i.test(text);
  }
  return false;
}

function profileText(icc: Buffer, at: number): string {
  if (at + 16 > icc.length) return '';
  const type = icc.toString('latin1', at, at + 4);
  if (type === 'desc') {
    const n = icc.readUInt32BE(at + 8);
    return icc.toString('latin1', at + 12, Math.min(icc.length, at + 12 + n));
  }
  if (type !== 'mluc' || at + 28 > icc.length) return '';
  // First record: language, country, byte length, offset from the tag start; UTF-16BE text.
  const length = icc.readUInt32BE(at + 20);
  const start = at + icc.readUInt32BE(at + 24);
  const bytes = Math.max(0, Math.min(length, icc.length - start)) & ~1; // swap16 needs even
  const text = Buffer.from(icc.subarray(start, start + bytes));
  return text.swap16().toString('utf16le');
}

export type ProfileChoice =
  { kind: 'srgb' } | { kind: 'none' } | { kind: 'source'; profile: Buffer };

export function chooseProfile(opts: EncodeOptions, notes: string[]): ProfileChoice {
  const want = opts.icc ?? 'srgb';
  if (want !== 'source') return { kind: want };
  const profile = opts.source?.icc;
  if (!profile) return { kind: 'none' };
  // Bytes 16–19 of an ICC header name its colour space; only an RGB profile can describe
  // the three-channel output.
  const space = profile.subarray(16, 20).toString('latin1');
  if (space === 'RGB ') return { kind: 'source', profile };
  notes.push(`the source profile is ${space.trim()}, not RGB: sRGB embedded instead`);
  return { kind: 'srgb' };
}

export async function writeTempProfile(profile: Buffer): Promise<string> {
  // sharp's withIccProfile takes a file path, not bytes.
  const file = path.join(os.tmpdir(), `patchwork-${randomUUID()}.icc`);
  await fs.writeFile(file, profile);
  return file;
}

/**
 * A sharp pipeline over the pixels with the chosen profile applied. 8-bit: sharp transforms
 * sRGB → profile directly. 16-bit: sharp would treat the values as Display P3 (see
 * image-decode.ts runPipeline), so they first go through a PNG carrying an sRGB profile chunk; from there
 * sharp knows what they are and either keeps that profile or converts to the source's.
 */
export async function colourManaged(
  pixels: PixelBuffer,
  kind: ProfileChoice['kind'],
  iccFile: string | null,
  bitDepth: 8 | 16,
): Promise<sharp.Sharp> {
  const raw = { width: pixels.width, height: pixels.height, channels: pixels.channels };
  if (bitDepth === 8) {
    const p = sharp(pixels.data, { raw }).toColourspace('srgb');
    return kind === 'none' ? p : p.withIccProfile(iccFile ?? 'srgb');
  }
  const p = sharp(pixels.data, { raw }).toColourspace('rgb16');
  if (kind === 'none') return p;
  const png = await p.png({ compressionLevel: 0 }).toBuffer();
  const tagged = sharp(insertPngChunk(png, 'iCCP', iccpChunk(await srgbProfile())));
  return (iccFile ? tagged.withIccProfile(iccFile) : tagged.keepIccProfile()).toColourspace(
    'rgb16',
  );
}

let srgbProfileBytes: Promise<Buffer> | null = null;

/** The sRGB profile libvips embeds, taken from a 1×1 image once. */
function srgbProfile(): Promise<Buffer> {
  srgbProfileBytes ??= sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
    .withIccProfile('srgb')
    .png()
    .toBuffer()
    .then((png) => sharp(png).metadata())
    .then((meta) => {
      if (!meta.icc) throw new Error('libvips embedded no sRGB profile');
      return meta.icc;
    });
  return srgbProfileBytes;
}
