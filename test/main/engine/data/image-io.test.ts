// Image I/O against files made on the spot with sharp (EXIF-rotated, ICC-tagged, CMYK, grey,
// palette, 16-bit, alpha, every output format) and two real photos. Each test names the
// failure a user would see if the behaviour broke: a sideways photo, shifted colours, lost
// bits or alpha, a crash on a bad file, a half-written or overwritten file.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  decodeImage,
  decodeImagePixels,
  encodeImage,
  encodePixels,
  ImageReadError,
  ImageWriteError,
  isSrgbProfile,
  openImage,
  planPreprocess,
  readImageInfo,
  resizeForTraining,
  writeFileAtomic,
  writeImageAtomic,
  type ImageReadReason,
  type PreprocessParams,
} from '../../../../main/engine/data/image-io';
import { Rng } from '../../../../main/engine/rng';
import { worstDiff } from '../../../support/float-images';
import { useTempDir } from '../../../support/temp-dir';

const PHOTOS = path.resolve('../shared/datasets/photos');
const tmp = useTempDir('patchwork-image-io-');

/** A W×H RGB image whose every pixel differs from its mirror images: (x·6, y·8, 100). */
function gradient(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 6) & 255;
      data[o + 1] = (y * 8) & 255;
      data[o + 2] = 100;
    }
  }
  return data;
}

function raw(width: number, height: number, channels: 1 | 2 | 3 | 4) {
  return { raw: { width, height, channels } };
}

function solid(r: number, g: number, b: number): sharp.Sharp {
  return sharp({ create: { width: 8, height: 6, channels: 3, background: { r, g, b } } });
}

function u16Ramp(width: number, height: number, channels: 3 | 4): Uint16Array {
  const data = new Uint16Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 977 + 13) % 65536;
  return data;
}

async function profileOf(space: 'p3' | 'cmyk'): Promise<Buffer> {
  const out = space === 'cmyk' ? solid(0, 0, 0).jpeg() : solid(0, 0, 0).png();
  const meta = await sharp(await out.withIccProfile(space).toBuffer()).metadata();
  if (!meta.icc) throw new Error(`no ${space} profile`);
  return meta.icc;
}

async function expectReadError(promise: Promise<unknown>, reason: ImageReadReason, name: string) {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageReadError);
  expect((err as ImageReadError).reason).toBe(reason);
  expect((err as ImageReadError).message).toContain(name);
}

describe('decodeImage', () => {
  it('reads a real JPEG as [-1, 1] HWC floats with its integer pixels', async () => {
    const img = await decodeImage(path.join(PHOTOS, 'storm.jpg'));
    expect([img.width, img.height, img.format, img.bitDepth]).toEqual([1024, 683, 'jpeg', 8]);
    expect(img.rgb.length).toBe(1024 * 683 * 3);
    expect(img.alpha).toBeNull();
    const [min, max] = img.rgb.reduce(([lo, hi], v) => [Math.min(lo, v), Math.max(hi, v)], [9, -9]);
    expect(min).toBeGreaterThanOrEqual(-1);
    expect(max).toBeLessThanOrEqual(1);
    // The floats are exactly v/255·2−1 of the pixels, as the reference's ToTensor+Normalize.
    expect(img.rgb[5]).toBeCloseTo((img.data[5] / 255) * 2 - 1, 6);
  });

  it('honours EXIF orientation: a stored 40×30 image tagged "rotate 90° CW" comes out 30×40', async () => {
    const stored = gradient(40, 30);
    const file = tmp.path('rotated.png');
    await sharp(stored, raw(40, 30, 3))
      .withMetadata({ orientation: 6 })
      .png()
      .toFile(file);
    const info = await readImageInfo(file);
    expect([info.width, info.height, info.storedWidth, info.orientation]).toEqual([30, 40, 40, 6]);
    const img = await decodeImage(file);
    expect([img.width, img.height, img.orientation]).toEqual([30, 40, 6]);
    // Orientation 6: displayed (X, Y) shows stored (Y, H−1−X), with H = 30 stored rows.
    for (const [X, Y] of [
      [0, 0],
      [29, 0],
      [5, 39],
      [17, 23],
    ]) {
      for (let c = 0; c < 3; c++) {
        expect(img.data[(Y * 30 + X) * 3 + c]).toBe(stored[((29 - X) * 40 + Y) * 3 + c]);
      }
    }
  });

  it('converts from an embedded Display P3 profile to sRGB', async () => {
    const p3 = await solid(200, 30, 10).withIccProfile('p3').png().toBuffer();
    const storedValues = await sharp(p3).keepIccProfile().raw().toBuffer();
    expect(worstDiff(storedValues.subarray(0, 3), [200, 30, 10])).toBeGreaterThan(10);
    const img = await decodeImage(p3);
    expect(img.hasIcc).toBe(true);
    expect(worstDiff(img.data.subarray(0, 3), [200, 30, 10])).toBeLessThanOrEqual(1);
  });

  it('converts CMYK JPEGs to three sRGB channels', async () => {
    const cmyk = await solid(200, 30, 10).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    expect((await readImageInfo(cmyk)).space).toBe('cmyk');
    const img = await decodeImage(cmyk);
    expect(img.channels).toBe(3);
    // CMYK round trips through a print profile: close, not exact.
    expect(worstDiff(img.data.subarray(0, 3), [200, 30, 10])).toBeLessThanOrEqual(16);
  });

  it('expands grey, grey+alpha and palette images to RGB', async () => {
    const grey = await sharp(Buffer.from([10, 200, 30, 40]), raw(2, 2, 1))
      .png()
      .toBuffer();
    const g = await decodeImage(grey);
    expect(Array.from(g.data)).toEqual([10, 10, 10, 200, 200, 200, 30, 30, 30, 40, 40, 40]);
    const greyAlpha = await sharp(Buffer.from([10, 0, 200, 255]), raw(2, 1, 2))
      .png()
      .toBuffer();
    const ga = await decodeImage(greyAlpha);
    expect(Array.from(ga.data)).toEqual([10, 10, 10, 0, 200, 200, 200, 255]);
    expect(Array.from(ga.alpha ?? [])).toEqual([0, 1]);
    const palette = await solid(200, 30, 10).png({ palette: true, colours: 4 }).toBuffer();
    const p = await decodeImage(palette);
    expect(worstDiff(p.data.subarray(0, 3), [200, 30, 10])).toBeLessThanOrEqual(2);
  });

  it('keeps 16 bits: a 16-bit PNG decodes to the exact 16-bit values', async () => {
    const values = u16Ramp(16, 4, 3);
    const png = await sharp(values, raw(16, 4, 3))
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    const img = await decodeImage(png);
    expect(img.bitDepth).toBe(16);
    expect(img.data).toBeInstanceOf(Uint16Array);
    expect(worstDiff(img.data, values)).toBe(0);
    expect(img.rgb[7]).toBeCloseTo((values[7] / 65535) * 2 - 1, 6);
  });

  it('converts a 16-bit image from a non-sRGB profile, staying 16-bit', async () => {
    const values = u16Ramp(16, 4, 3);
    const source = { icc: await profileOf('p3'), exif: null, xmp: null };
    const tagged = await encodePixels(
      { data: values, width: 16, height: 4, channels: 3 },
      { format: 'png', icc: 'source', source },
    );
    const img = await decodeImage(tagged.data);
    expect(img.bitDepth).toBe(16);
    // Two lcms transforms (sRGB → P3 on encode, P3 → sRGB on decode): close, not exact; its
    // 16-bit tables are coarsest near black, where single values move by a few percent.
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += Math.abs(img.data[i] - values[i]);
    expect(sum / values.length).toBeLessThan(0.002 * 65535);
    expect(worstDiff(img.data, values)).toBeLessThan(0.05 * 65535);
    expect(worstDiff(img.data, values)).toBeGreaterThan(0);
  });

  it('reads AVIF, WebP and TIFF', async () => {
    for (const format of ['avif', 'webp', 'tiff'] as const) {
      const data = await solid(200, 30, 10).toFormat(format).toBuffer();
      const img = await decodeImage(data);
      expect(img.format).toBe(format === 'avif' ? 'heif' : format);
      expect([img.width, img.height]).toEqual([8, 6]);
    }
  });

  it('can skip the float copy for large images', async () => {
    const px = await decodeImagePixels(path.join(PHOTOS, 'dune.jpg'));
    expect('rgb' in px).toBe(false);
    expect(px.data.length).toBe(1024 * 640 * 3);
  });
});

describe('bad inputs are reported, never a crash', () => {
  it('names the reason and the file', async () => {
    const jpeg = await fs.readFile(path.join(PHOTOS, 'wood.jpg'));
    const png = await solid(1, 2, 3).png().toBuffer();
    const files: [string, Buffer | null, ImageReadReason][] = [
      ['missing.jpg', null, 'not-found'],
      ['zero.jpg', Buffer.alloc(0), 'empty'],
      ['text.jpg', Buffer.from('not an image at all, just words'), 'unsupported'],
      ['truncated.jpg', jpeg.subarray(0, jpeg.length >> 1), 'corrupt'],
      ['truncated.png', png.subarray(0, png.length - 20), 'corrupt'],
    ];
    for (const [name, content, reason] of files) {
      const file = tmp.path(name);
      if (content) await fs.writeFile(file, content);
      await expectReadError(decodeImage(file), reason, name);
    }
    await expectReadError(decodeImage(tmp.dir), 'unreadable', tmp.dir);
    await expectReadError(readImageInfo(tmp.path('zero.jpg')), 'empty', 'zero.jpg');
    await expectReadError(decodeImage(Buffer.alloc(0), { name: 'upload' }), 'empty', 'upload');
  });

  it('refuses a decompression bomb from its header, before decoding', async () => {
    // A 30000×30000 PNG (900 Mpx) that is only a header: decoding it would need 2.7 GB.
    const chunk = (type: string, body: Buffer) => {
      const head = Buffer.alloc(4);
      head.writeUInt32BE(body.length);
      const typed = Buffer.concat([Buffer.from(type, 'latin1'), body]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(typed));
      return Buffer.concat([head, typed, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(30000, 0);
    ihdr.writeUInt32BE(30000, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    const bomb = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Buffer.alloc(16))),
      chunk('IEND', Buffer.alloc(0)),
    ]);
    const file = tmp.path('bomb.png');
    await fs.writeFile(file, bomb);
    await expectReadError(readImageInfo(file), 'too-large', 'bomb.png');
    await expectReadError(decodeImage(file), 'too-large', '30000×30000');
    // The limit is an option.
    await expectReadError(
      decodeImage(path.join(PHOTOS, 'wood.jpg'), { maxPixels: 1000 }),
      'too-large',
      'maxPixels',
    );
  });
});

describe('encodeImage', () => {
  it('round-trips 8-bit values exactly through PNG, and 16-bit through PNG and TIFF', async () => {
    const img = await decodeImage(path.join(PHOTOS, 'ladybird.jpg'));
    const png = await encodeImage(img.rgb, img.width, img.height, { format: 'png' });
    expect(worstDiff((await decodeImage(png.data)).data, img.data)).toBe(0);

    const values = u16Ramp(32, 8, 3);
    for (const format of ['png', 'tiff'] as const) {
      for (const icc of ['none', 'srgb'] as const) {
        const src = await decodeImage(
          await sharp(values, raw(32, 8, 3))
            .toColourspace('rgb16')
            .png()
            .toBuffer(),
        );
        const out = await encodeImage(src.rgb, 32, 8, { format, bitDepth: 16, icc });
        const back = await decodeImage(out.data);
        expect([format, icc, back.bitDepth, back.hasIcc]).toEqual([
          format,
          icc,
          16,
          icc === 'srgb',
        ]);
        expect(worstDiff(back.data, values)).toBe(0);
      }
    }
  });

  it('passes alpha through untouched (PNG, lossless WebP, TIFF, 16-bit PNG)', async () => {
    const rgba = Buffer.alloc(6 * 4 * 4);
    for (let i = 0; i < rgba.length; i++) rgba[i] = (i * 37) & 255;
    const src = await decodeImage(
      await sharp(rgba, raw(6, 4, 4))
        .png()
        .toBuffer(),
    );
    expect(src.alpha?.[1]).toBeCloseTo(rgba[7] / 255, 6);
    for (const format of ['png', 'webp', 'tiff'] as const) {
      const out = await encodeImage(src.rgb, 6, 4, { format, alpha: src.alpha, lossless: true });
      const back = await decodeImage(out.data);
      expect(back.channels).toBe(4);
      expect(worstDiff(back.data, rgba)).toBe(0);
    }
    const sixteen = await encodeImage(src.rgb, 6, 4, {
      format: 'png',
      alpha: src.alpha,
      bitDepth: 16,
    });
    const back16 = await decodeImage(sixteen.data);
    expect(worstDiff(back16.alpha ?? [], src.alpha ?? [])).toBeLessThan(1e-6);
  });

  it('writes every output format, and says what it could not do', async () => {
    const img = await decodeImage(path.join(PHOTOS, 'aqua.jpg'));
    const small = await sharp(img.data, raw(img.width, img.height, 3))
      .resize(48, 30)
      .raw()
      .toBuffer();
    const { rgb } = await decodeImage(
      await sharp(small, raw(48, 30, 3))
        .png()
        .toBuffer(),
    );
    for (const format of ['png', 'jpeg', 'webp', 'tiff', 'avif'] as const) {
      const out = await encodeImage(rgb, 48, 30, { format });
      const info = await readImageInfo(out.data);
      expect([info.format, info.width, info.height]).toEqual([
        format === 'avif' ? 'heif' : format,
        48,
        30,
      ]);
    }
    const alpha = new Float32Array(48 * 30).fill(0.5);
    const jpeg = await encodeImage(rgb, 48, 30, { format: 'jpeg', alpha });
    expect(jpeg.notes.join()).toMatch(/alpha dropped/);
    await expect(encodeImage(rgb, 48, 30, { format: 'jpeg', bitDepth: 16 })).rejects.toThrow(
      /16-bit/,
    );
    await expect(encodeImage(rgb.subarray(3), 48, 30, { format: 'png' })).rejects.toBeInstanceOf(
      ImageWriteError,
    );
  });

  it('embeds sRGB by default, nothing on request, or the source profile converted back', async () => {
    const p3Png = await solid(200, 30, 10).withIccProfile('p3').png().toBuffer();
    const src = await decodeImage(p3Png);
    const srgb = await encodeImage(src.rgb, src.width, src.height, { format: 'png' });
    const srgbMeta = await sharp(srgb.data).metadata();
    expect(srgbMeta.icc && isSrgbProfile(srgbMeta.icc)).toBe(true);
    const none = await encodeImage(src.rgb, src.width, src.height, { format: 'png', icc: 'none' });
    expect((await sharp(none.data).metadata()).hasProfile).toBe(false);

    const kept = await encodeImage(src.rgb, src.width, src.height, {
      format: 'png',
      icc: 'source',
      source: src.metadata,
    });
    expect(kept.icc).toBe('source');
    expect((await sharp(kept.data).metadata()).icc?.equals(src.metadata.icc as Buffer)).toBe(true);
    // Same stored values as the source, and the same colour once decoded.
    const keptValues = await sharp(kept.data).keepIccProfile().raw().toBuffer();
    const sourceValues = await sharp(p3Png).keepIccProfile().raw().toBuffer();
    expect(worstDiff(keptValues, sourceValues)).toBeLessThanOrEqual(1);

    const cmykSource = { icc: await profileOf('cmyk'), exif: null, xmp: null };
    const fallback = await encodeImage(src.rgb, src.width, src.height, {
      format: 'png',
      icc: 'source',
      source: cmykSource,
    });
    expect(fallback.icc).toBe('srgb');
    expect(fallback.notes.join()).toMatch(/CMYK/);
  });

  it('copies EXIF and XMP on request with the orientation reset, and strips them by default', async () => {
    const xmp =
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
      '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>';
    const jpeg = await sharp(gradient(12, 8), raw(12, 8, 3))
      .withMetadata({ orientation: 6 })
      .withExif({ IFD0: { Copyright: 'Patchwork test', Make: 'Camera' } })
      .withXmp(xmp)
      .jpeg()
      .toBuffer();
    const src = await decodeImage(jpeg);
    for (const format of ['jpeg', 'png'] as const) {
      const out = await encodeImage(src.rgb, src.width, src.height, {
        format,
        metadata: 'copy',
        source: src.metadata,
      });
      expect(out.copied).toEqual({ exif: true, xmp: true });
      const meta = await sharp(out.data).metadata();
      // Upright pixels with orientation 1: a viewer must not rotate them a second time.
      expect([meta.width, meta.height, meta.orientation ?? 1]).toEqual([8, 12, 1]);
      expect(meta.exif?.includes('Patchwork test')).toBe(true);
      expect(meta.xmp?.toString()).toContain('tiff:Orientation="1"');
      const stripped = await sharp((await encodeImage(src.rgb, 8, 12, { format })).data).metadata();
      expect([stripped.exif, stripped.xmp]).toEqual([undefined, undefined]);
    }
    const webp = await encodeImage(src.rgb, 8, 12, {
      format: 'webp',
      metadata: 'copy',
      source: src.metadata,
    });
    expect(webp.copied).toEqual({ exif: false, xmp: true });
    expect(webp.notes.join()).toMatch(/EXIF is not copied into webp/);
  });
});

describe('writeImageAtomic', () => {
  it('writes the file whole and leaves no temporary file', async () => {
    const out = tmp.path('written', 'out.PNG');
    await fs.mkdir(path.dirname(out), { recursive: true });
    const rgb = new Float32Array(4 * 3 * 3).fill(0.5);
    const result = await writeImageAtomic(out, rgb, 4, 3);
    expect([result.format, result.bytes > 0]).toEqual(['png', true]);
    expect(await fs.readdir(path.dirname(out))).toEqual(['out.PNG']);
    expect((await readImageInfo(out)).width).toBe(4);
  });

  it('refuses to overwrite the input, under any spelling of its path', async () => {
    const input = tmp.path('input.png');
    await solid(9, 9, 9).png().toFile(input);
    const before = await fs.readFile(input);
    const link = tmp.path('input-link.png');
    await fs.symlink(input, link);
    const rgb = new Float32Array(8 * 6 * 3);
    for (const target of [input, tmp.path('.', 'x', '..', 'input.png'), link]) {
      await expect(writeImageAtomic(target, rgb, 8, 6, { inputPath: input })).rejects.toMatchObject(
        {
          reason: 'same-as-input',
        },
      );
    }
    expect((await fs.readFile(input)).equals(before)).toBe(true);
  });

  it('removes its temporary file when the final rename fails', async () => {
    const folder = tmp.path('rename-fails');
    const target = path.join(folder, 'taken.png');
    // A non-empty folder where the file should go: the rename cannot replace it.
    await fs.mkdir(path.join(target, 'inside'), { recursive: true });
    await expect(writeFileAtomic(target, Buffer.from('data'))).rejects.toMatchObject({
      reason: 'io',
    });
    expect(await fs.readdir(folder)).toEqual(['taken.png']);
  });

  it('names the output file when the encoder refuses', async () => {
    const file = tmp.path('wide.webp');
    const rgb = new Float32Array(16384 * 3);
    await expect(writeImageAtomic(file, rgb, 16384, 1)).rejects.toThrow(
      `${file}: webp holds at most 16383 px`,
    );
    await expect(fs.stat(file)).rejects.toThrow();
  });

  it('rejects an extension it cannot write', async () => {
    await expect(
      writeImageAtomic(tmp.path('out.bmp'), new Float32Array(3), 1, 1),
    ).rejects.toMatchObject({
      reason: 'unsupported',
    });
  });
});

describe('training preprocessing', () => {
  const params = (mode: PreprocessParams['mode'], extra: Partial<PreprocessParams> = {}) => ({
    mode,
    loadSize: 286,
    cropSize: 256,
    flip: true,
    ...extra,
  });

  it('plans each mode as specified', () => {
    const rng = new Rng(1);
    const size = (p: ReturnType<typeof planPreprocess>) => [
      p.resize.width,
      p.resize.height,
      p.crop.width,
      p.crop.height,
    ];
    expect(size(planPreprocess(1024, 683, params('resize_and_crop'), rng))).toEqual([
      429, 286, 256, 256,
    ]);
    expect(size(planPreprocess(683, 1024, params('resize_and_crop'), rng))).toEqual([
      286, 429, 256, 256,
    ]);
    expect(size(planPreprocess(1024, 683, params('square_resize_and_crop'), rng))).toEqual([
      286, 286, 256, 256,
    ]);
    expect(size(planPreprocess(1024, 683, params('crop'), rng))).toEqual([1024, 683, 256, 256]);
    // Smaller than the crop: scaled up so the short side fits it.
    expect(size(planPreprocess(200, 100, params('crop'), rng))).toEqual([512, 256, 256, 256]);
    expect(size(planPreprocess(1024, 683, params('scale_width_and_crop'), rng))).toEqual([
      286, 256, 256, 256,
    ]);
    expect(size(planPreprocess(1024, 2048, params('scale_width_and_crop'), rng))).toEqual([
      286, 572, 256, 256,
    ]);
    // scale_width: 286 → 288 and 572 → 572, multiples of 4, no crop.
    expect(size(planPreprocess(1000, 2000, params('scale_width'), rng))).toEqual([
      288, 572, 288, 572,
    ]);
    // none: capped to maxSize, then trimmed to multiples of 4.
    expect(size(planPreprocess(1030, 515, params('none'), rng))).toEqual([1024, 512, 1024, 512]);
    expect(size(planPreprocess(203, 101, params('none'), rng))).toEqual([203, 101, 200, 100]);
  });

  it('draws the same crop and flip for the same seed, and covers the range', () => {
    const plans = (seed: number) =>
      Array.from({ length: 50 }, (_, i) =>
        planPreprocess(1024, 683, params('resize_and_crop'), new Rng(seed * 100 + i)),
      );
    expect(plans(3)).toEqual(plans(3));
    const all = plans(4);
    const lefts = all.map((p) => p.crop.left);
    expect(Math.min(...lefts)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...lefts)).toBeLessThanOrEqual(429 - 256);
    expect(new Set(lefts).size).toBeGreaterThan(20);
    expect(all.some((p) => p.flip) && all.some((p) => !p.flip)).toBe(true);
    expect(planPreprocess(1024, 683, params('crop', { flip: false }), new Rng(5)).flip).toBe(false);
  });

  it('crops in upright coordinates and flips the crop', async () => {
    const file = tmp.path('rotated-for-crop.png');
    await sharp(gradient(40, 30), raw(40, 30, 3))
      .withMetadata({ orientation: 6 })
      .png()
      .toFile(file);
    const full = await decodeImage(file);
    const image = await openImage(file);
    const plan = {
      resize: { width: 30, height: 40 },
      crop: { left: 5, top: 7, width: 12, height: 16 },
      flip: false,
    };
    const out = await resizeForTraining(image, plan);
    const flipped = await resizeForTraining(image, { ...plan, flip: true });
    expect([out.width, out.height]).toEqual([12, 16]);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 12; x++) {
        for (let c = 0; c < 3; c++) {
          const want = full.rgb[((y + 7) * 30 + x + 5) * 3 + c];
          expect(out.data[(y * 12 + x) * 3 + c]).toBe(want);
          expect(flipped.data[(y * 12 + 11 - x) * 3 + c]).toBe(want);
        }
      }
    }
  });

  it('resizes a real photo to a 256 crop in [-1, 1]', async () => {
    const image = await openImage(path.join(PHOTOS, 'garden.jpg'));
    const plan = planPreprocess(
      image.info.width,
      image.info.height,
      params('resize_and_crop'),
      new Rng(7),
    );
    const out = await resizeForTraining(image, plan);
    expect([out.width, out.height, out.data.length]).toEqual([256, 256, 256 * 256 * 3]);
    expect(out.data.every((v) => v >= -1 && v <= 1)).toBe(true);
  });
});
