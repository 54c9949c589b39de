/**
 * Full-resolution tiles for the before/after viewer: the pyramid's arithmetic, tiles that are
 * the image's own pixels at their place (edge tiles smaller, EXIF orientation applied), made
 * once, and refusals that say what is wrong. The last case makes a 40-megapixel JPEG and
 * prints how long the first tile takes (printed, not asserted: it depends on the machine).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheKey } from '../../../main/services/file-cache';
import {
  levelSize,
  levelGrid,
  pyramidLevels,
  PyramidImageError,
  PyramidRangeError,
  ImagePyramid,
  PYRAMID_TILE_SIZE,
} from '../../../main/services/image-pyramid';

let dir: string;
let tiles: ImagePyramid;
let image: string;
/** 1300×700, each pixel's red and green its x and y modulo 256: a tile says where it is from. */
const W = 1300;
const H = 700;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pw-tiles-'));
  tiles = new ImagePyramid(path.join(dir, 'cache'));
  image = path.join(dir, 'coords.png');
  const px = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      px[i] = x % 256;
      px[i + 1] = y % 256;
      px[i + 2] = (Math.floor(x / 256) * 16 + Math.floor(y / 256)) % 256;
    }
  }
  await sharp(px, { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toFile(image);
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

/** The tile's pixels, decoded (WebP at quality 85: near, not exact). */
async function pixels(file: string) {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

describe('the pyramid', () => {
  it('halves until the long side fits one tile', () => {
    expect(pyramidLevels(512, 300)).toBe(1);
    expect(pyramidLevels(513, 300)).toBe(2);
    expect(pyramidLevels(W, H)).toBe(3); // 1300 → 650 → 325
    expect(pyramidLevels(7744, 5184)).toBe(5); // 7744 → … → 484
    expect(levelSize(W, H, 1)).toEqual({ width: 650, height: 350 });
    expect(levelSize(W, H, 2)).toEqual({ width: 325, height: 175 });
    const info = { width: W, height: H, tileSize: PYRAMID_TILE_SIZE, levels: 3 };
    expect(levelGrid(info, 0)).toEqual({ cols: 3, rows: 2 });
    expect(levelGrid(info, 2)).toEqual({ cols: 1, rows: 1 });
  });
});

describe('tiles', () => {
  it('gives the size and levels, and tiles holding the image’s own pixels', async () => {
    expect(await tiles.info(image)).toEqual({ width: W, height: H, tileSize: 512, levels: 3 });
    const t = await pixels(await tiles.tile(image, 0, 1, 1));
    expect([t.width, t.height]).toEqual([512, H - 512]);
    // Its top-left pixel is the image's (512, 512): red 0, green 0, blue (2·16 + 2).
    expect(Math.abs(t.data[0] - 0)).toBeLessThan(8);
    expect(Math.abs(t.data[2] - 34)).toBeLessThan(8);
    const at = (x: number, y: number, c: number) => t.data[(y * t.width + x) * t.channels + c];
    expect(Math.abs(at(100, 50, 0) - 100)).toBeLessThan(8);
    expect(Math.abs(at(100, 50, 1) - 50)).toBeLessThan(8);
    const edge = await pixels(await tiles.tile(image, 0, 2, 0));
    expect([edge.width, edge.height]).toEqual([W - 1024, 512]);
    const top = await pixels(await tiles.tile(image, 2, 0, 0));
    expect([top.width, top.height]).toEqual([325, 175]);
  });

  it('makes a tile once and serves it from the cache after', async () => {
    const first = await tiles.tile(image, 1, 1, 0);
    const made = (await fs.stat(first)).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    const again = await tiles.tile(image, 1, 1, 0);
    expect(again).toBe(first);
    expect((await fs.stat(again)).mtimeMs).toBe(made);
    const [a, b] = await Promise.all([tiles.tile(image, 1, 0, 0), tiles.tile(image, 1, 0, 0)]);
    expect(a).toBe(b);
  });

  it('trims its cache to the newest files of a kind', async () => {
    const own = new ImagePyramid(path.join(dir, 'trimmed'));
    for (const x of [0, 1, 2]) {
      await own.tile(image, 0, x, 0);
      await new Promise((r) => setTimeout(r, 15));
    }
    await own.trim('.webp', 2);
    const left = (await fs.readdir(own.dir)).filter((n) => n.endsWith('.webp')).sort();
    expect(left.map((n) => n.replace(/^[0-9a-f]+-/, ''))).toEqual(['0-1-0.webp', '0-2-0.webp']);
    expect((await fs.readdir(own.dir)).filter((n) => n.endsWith('.v'))).toHaveLength(1);
  });

  // Tiles are the artist's images at full resolution: other users must not read or plant them.
  it.runIf(process.platform !== 'win32')(
    'keeps its folder 0700 and its files 0600, and never serves or writes through a planted link',
    async () => {
      const own = new ImagePyramid(path.join(dir, 'private'));
      const secret = path.join(dir, 'secret.txt');
      await fs.writeFile(secret, 'not yours');
      const s = await fs.stat(image);
      const key = cacheKey([path.resolve(image), s.size, s.mtimeMs]);
      await fs.mkdir(own.dir, { recursive: true, mode: 0o755 });
      const planted = path.join(own.dir, `${key}-2-0-0.webp`);
      await fs.symlink(secret, planted);
      const made = await own.tile(image, 2, 0, 0);
      expect(made).toBe(planted);
      expect((await fs.lstat(made)).isFile()).toBe(true);
      expect((await pixels(made)).width).toBe(325);
      expect(await fs.readFile(secret, 'utf8')).toBe('not yours');
      expect((await fs.stat(own.dir)).mode & 0o777).toBe(0o700);
      for (const name of await fs.readdir(own.dir)) {
        expect((await fs.stat(path.join(own.dir, name))).mode & 0o777).toBe(0o600);
      }
    },
  );

  it('refuses levels and tiles outside the image, and files that are not images', async () => {
    await expect(tiles.tile(image, 3, 0, 0)).rejects.toThrow(PyramidRangeError);
    await expect(tiles.tile(image, 3, 0, 0)).rejects.toThrow(/level must be .* from 0 to 2/);
    await expect(tiles.tile(image, 0, 3, 0)).rejects.toThrow(/level 0 has 3×2 tiles/);
    await expect(tiles.tile(image, 1, 0, 1)).rejects.toThrow(PyramidRangeError);
    const text = path.join(dir, 'notes.png');
    await fs.writeFile(text, 'not an image');
    await expect(tiles.tile(text, 0, 0, 0)).rejects.toThrow(PyramidImageError);
    await expect(tiles.info(text)).rejects.toThrow(/notes\.png cannot be read as an image/);
    await expect(tiles.info(path.join(dir, 'gone.png'))).rejects.toThrow(/is not a file/);
  });

  it('turns an image by its EXIF orientation, as thumbnails do', async () => {
    const turned = path.join(dir, 'turned.jpg');
    await sharp({ create: { width: 600, height: 200, channels: 3, background: '#808080' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(turned);
    expect(await tiles.info(turned)).toMatchObject({ width: 200, height: 600, levels: 2 });
    const t = await pixels(await tiles.tile(turned, 0, 0, 1));
    expect([t.width, t.height]).toEqual([200, 600 - 512]);
  });

  it('a 40-megapixel image: prints the time to its first tile', async () => {
    const big = path.join(dir, 'big.jpg');
    const [w, h] = [7744, 5184];
    const seed = Buffer.alloc(121 * 81 * 3);
    for (let i = 0; i < seed.length; i++) seed[i] = (i * 2654435761) >>> 24;
    /** How long `work` takes, in ms. */
    const timed = async (work: () => Promise<unknown>) => {
      const t = performance.now();
      await work();
      return performance.now() - t;
    };
    const makeMs = await timed(() =>
      sharp(seed, { raw: { width: 121, height: 81, channels: 3 } })
        .resize(w, h, { kernel: 'cubic' })
        .jpeg({ quality: 90 })
        .toFile(big),
    );
    const own = new ImagePyramid(path.join(dir, 'big-cache'));
    let info: unknown;
    const infoMs = await timed(async () => (info = await own.info(big)));
    expect(info).toEqual({ width: w, height: h, tileSize: 512, levels: 5 });
    const firstMs = await timed(() => own.tile(big, 0, 7, 5));
    const nextMs = await timed(() => own.tile(big, 0, 8, 5));
    const level1Ms = await timed(() => own.tile(big, 1, 3, 2));
    const cachedMs = await timed(() => own.tile(big, 0, 7, 5));
    process.stdout.write(
      `tiles of a ${w}×${h} JPEG (${((w * h) / 1e6).toFixed(1)} Mpx; made in ${makeMs.toFixed(0)} ms): ` +
        `info ${infoMs.toFixed(0)} ms, first tile (level 0) ${firstMs.toFixed(0)} ms, ` +
        `next tile ${nextMs.toFixed(0)} ms, first level-1 tile ${level1Ms.toFixed(0)} ms, ` +
        `cached tile ${cachedMs.toFixed(1)} ms\n`,
    );
  });
});
