// Single-image data: what a pair of images means for training (errors for what cannot work,
// warnings for what works differently), and the crops the sampler draws (sizes, range,
// determinism, flips). The images are made here, so each case is exactly the one it names.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkSinglePair,
  loadSingleImage,
  resampleRegion,
  SingleImageError,
  SingleImageSampler,
  type SingleImage,
} from '../../../../main/engine/data/single-image';
import { Rng } from '../../../../main/engine/rng';

let dir: string;

async function image(name: string, w: number, h: number, channels: 1 | 3 = 3): Promise<string> {
  const px = Buffer.alloc(w * h * channels);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37) % 251;
  const file = path.join(dir, name);
  const img = sharp(px, { raw: { width: w, height: h, channels } });
  await (channels === 1 ? img.toColourspace('b-w') : img).png().toFile(file);
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'single-image-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkSinglePair', () => {
  it('refuses an image too small to learn from, naming it and its size', async () => {
    const tiny = await loadSingleImage(await image('tiny.png', 12, 9));
    const ok = await loadSingleImage(await image('ok.png', 96, 80));
    expect(() => checkSinglePair(tiny, ok, 64)).toThrow(SingleImageError);
    expect(() => checkSinglePair(ok, tiny, 64)).toThrow(/Target image .*tiny\.png is 12×9 px/);
  });

  it('warns about an image smaller than the crop, an extreme aspect, grayscale vs colour', async () => {
    const small = await loadSingleImage(await image('small.png', 40, 48));
    const strip = await loadSingleImage(await image('strip.png', 900, 40));
    const gray = await loadSingleImage(await image('gray.png', 96, 96, 1));
    expect(gray.grayscale).toBe(true);
    expect(gray.rgb.length).toBe(96 * 96 * 3);
    const w1 = checkSinglePair(small, strip, 64);
    expect(w1.join('\n')).toMatch(/smaller than the 64-px training crop/);
    expect(w1.join('\n')).toMatch(/900×40 px \(23:1\)/);
    const w2 = checkSinglePair(gray, strip, 32);
    expect(w2.join('\n')).toMatch(/Source image is grayscale and target image is in colour/);
  });

  it('trains a very large image on a scaled copy and says so', async () => {
    const big = await loadSingleImage(await image('big.png', 400, 300), 30_000);
    expect(big.width * big.height).toBeLessThanOrEqual(30_000 * 1.02);
    expect([big.fileWidth, big.fileHeight]).toEqual([400, 300]);
    const ok = await loadSingleImage(await image('ok2.png', 96, 80));
    expect(checkSinglePair(big, ok, 32).join('\n')).toMatch(/training uses a copy scaled to/);
  });
});

describe('SingleImageSampler', () => {
  const ramp = (w: number, h: number): SingleImage => {
    const rgb = new Float32Array(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        rgb.fill((x / (w - 1)) * 2 - 1, (y * w + x) * 3, (y * w + x) * 3 + 3);
    return {
      file: 'ramp',
      rgb,
      width: w,
      height: h,
      fileWidth: w,
      fileHeight: h,
      grayscale: false,
    };
  };

  it('draws batches of crops deterministically from the seed, within [−1, 1]', () => {
    const s = new SingleImageSampler(ramp(200, 150), ramp(120, 90), {
      batchSize: 5,
      cropSize: 32,
      zoomMin: 1 / 3,
      flip: true,
    });
    const a = s.next(new Rng(7));
    const b = s.next(new Rng(7));
    expect(a.a.length).toBe(5 * 32 * 32 * 3);
    expect(a.b.length).toBe(5 * 32 * 32 * 3);
    expect(Array.from(a.a)).toEqual(Array.from(b.a));
    expect(Math.max(...a.a)).toBeLessThanOrEqual(1 + 1e-6);
    expect(Math.min(...a.a)).toBeGreaterThanOrEqual(-1 - 1e-6);
  });

  it('resamples a window of the zoomed image (identity at zoom 1, mirrored when flipped)', () => {
    const img = ramp(64, 48);
    const same = resampleRegion(img, 64, 48, 8, 4, 16, false);
    expect(same[0]).toBeCloseTo(img.rgb[(4 * 64 + 8) * 3], 5);
    const flipped = resampleRegion(img, 64, 48, 8, 4, 16, true);
    expect(flipped[15 * 3]).toBeCloseTo(same[0], 5);
    // Half size: output column 8 is centred on source column 16.5 (PIL's pixel centres).
    const half = resampleRegion(img, 32, 24, 8, 0, 8, false);
    expect(half[0]).toBeCloseTo((16.5 / 63) * 2 - 1, 4);
  });
});
