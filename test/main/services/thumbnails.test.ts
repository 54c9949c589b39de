/** Thumbnails: small, oriented, cached per file version, and refused for what is not an image. */
import { lstat, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../../main/services/file-cache';
import { Thumbnails, thumbSizeFor, ThumbnailError } from '../../../main/services/thumbnails';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pw-thumbs-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const image = (file: string, width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 90, b: 40 } } })
    .png()
    .toFile(file);

describe('Thumbnails', () => {
  it('rounds sizes up to a few cached steps, at most 2048', () => {
    expect([1, 128, 129, 300, 2048, 5000, NaN].map(thumbSizeFor)).toEqual([
      128, 128, 256, 512, 2048, 2048, 2048,
    ]);
  });

  it('makes a WebP within the size, keeps the aspect, and makes it only once', async () => {
    const file = path.join(dir, 'big.png');
    await image(file, 3000, 1200);
    const thumbs = new Thumbnails(path.join(dir, 'cache'));
    const made = await thumbs.get(file, 256);
    const meta = await sharp(made).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 256, 102]);
    const first = (await stat(made)).mtimeMs;
    expect(await thumbs.get(file, 200)).toBe(made);
    expect((await stat(made)).mtimeMs).toBe(first);
    // Small images are never upscaled.
    const small = path.join(dir, 'small.png');
    await image(small, 40, 30);
    expect((await sharp(await thumbs.get(small, 1024)).metadata()).width).toBe(40);
  });

  it('makes a new one when the file changes, and trims the cache to its newest files', async () => {
    const file = path.join(dir, 'a.png');
    await image(file, 300, 300);
    const thumbs = new Thumbnails(path.join(dir, 'cache'));
    const before = await thumbs.get(file, 128);
    await new Promise((r) => setTimeout(r, 20));
    await image(file, 400, 200);
    const after = await thumbs.get(file, 128);
    expect(after).not.toBe(before);
    expect((await sharp(after).metadata()).height).toBe(64);
    await thumbs.trim(1);
    expect(await readdir(path.join(dir, 'cache'))).toEqual([path.basename(after)]);
  });

  it('refuses a corrupt image with a ThumbnailError and leaves no temporary behind', async () => {
    const file = path.join(dir, 'broken.jpg');
    await writeFile(file, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    const thumbs = new Thumbnails(path.join(dir, 'cache'));
    await expect(thumbs.get(file, 128)).rejects.toBeInstanceOf(ThumbnailError);
    await expect(thumbs.get(path.join(dir, 'missing.png'), 128)).rejects.toThrow(/not a file/);
    expect(await readdir(path.join(dir, 'cache'))).toEqual([]);
  });

  // Thumbnails show the artist's private images: other users must not read them (issue 19).
  it.runIf(process.platform !== 'win32')('keeps its folder 0700 and its files 0600', async () => {
    const file = path.join(dir, 'a.png');
    await image(file, 300, 300);
    const thumbs = new Thumbnails(path.join(dir, 'cache'));
    const made = await thumbs.get(file, 128);
    expect((await stat(path.join(dir, 'cache'))).mode & 0o777).toBe(0o700);
    expect((await stat(made)).mode & 0o777).toBe(0o600);
  });

  it.runIf(process.platform !== 'win32')(
    'never takes a link planted under a thumbnail name for the thumbnail, nor writes through it',
    async () => {
      const file = path.join(dir, 'a.png');
      await image(file, 300, 300);
      const secret = path.join(dir, 'secret.txt');
      await writeFile(secret, 'not yours');
      const cache = path.join(dir, 'cache');
      const thumbs = new Thumbnails(cache);
      const s = await stat(file);
      const planted = path.join(
        cache,
        `${cacheKey([path.resolve(file), 128, s.size, s.mtimeMs])}.webp`,
      );
      await thumbs.get(file, 128);
      await rm(planted);
      await symlink(secret, planted);
      const made = await thumbs.get(file, 128);
      expect(made).toBe(planted);
      // The link was replaced by a real thumbnail; the file it pointed at is untouched.
      expect((await lstat(made)).isFile()).toBe(true);
      expect((await sharp(made).metadata()).format).toBe('webp');
      expect(await readFile(secret, 'utf8')).toBe('not yours');
    },
  );
});
