/**
 * Thumbnails and previews of the artist's images, made with sharp so the page never loads a
 * 40-megapixel file to show it small. Each is a WebP of at most `size` pixels on its long
 * side (EXIF orientation applied, never upscaled), cached on disk under a key of the file's
 * path, size and modification time: a changed file gets a new thumbnail, an unchanged one is
 * made once. Sizes are rounded up to a few steps so the cache holds few variants; at most
 * two are made at once, and the cache is trimmed to its newest MAX_FILES files. The folder is
 * private and never follows a link (cache-folder.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { MAX_THUMB_SIZE } from '../../shared/resource-urls';
import { ensurePrivateFolder, isCachedFile } from './cache-folder';
import { cacheKey, SharedWork, trimNewest, WorkLimit, writeCached } from './file-cache';

/** The largest step is the largest size a /thumbs address may ask for. */
export const THUMB_SIZES = [128, 256, 512, 1024, MAX_THUMB_SIZE] as const;
/** Files the cache keeps before the oldest are removed. */
const MAX_FILES = 2000;
/** Beyond this many pixels an input is refused (sharp's decompression-bomb guard). */
const MAX_INPUT_PIXELS = 400_000_000;
const PARALLEL = 2;

/** The cached size a request for `size` pixels gets: the next step up, at most 2048. */
export function thumbSizeFor(size: number): number {
  const s = Number.isFinite(size) ? size : MAX_THUMB_SIZE;
  return THUMB_SIZES.find((t) => t >= s) ?? MAX_THUMB_SIZE;
}

export class ThumbnailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ThumbnailError';
  }
}

export class Thumbnails {
  private readonly inFlight = new SharedWork<string>();
  private readonly limit = new WorkLimit(PARALLEL);
  private made = 0;

  /** `dir`: the folder of thumbnails; `root`: the cache root it is in, checked as well. */
  constructor(
    readonly dir: string,
    private readonly root = dir,
  ) {}

  /** The cached thumbnail of `file` (absolute, already allowed) at about `size` pixels. */
  async get(file: string, size: number): Promise<string> {
    const px = thumbSizeFor(size);
    const stat = await fs.stat(file).catch(() => null);
    if (!stat?.isFile()) throw new ThumbnailError(`${file} is not a file`);
    const key = cacheKey([path.resolve(file), px, stat.size, stat.mtimeMs]);
    const target = path.join(this.dir, `${key}.webp`);
    if (await isCachedFile(target)) return target;
    return this.inFlight.run(key, () => this.limit.run(() => this.make(file, px, target)));
  }

  private async make(file: string, px: number, target: string): Promise<string> {
    await ensurePrivateFolder(this.dir, this.root);
    await writeCached(
      target,
      '.tmp',
      (temp) =>
        sharp(file, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
          .rotate()
          .resize(px, px, { fit: 'inside', withoutEnlargement: true })
          .webp({ quality: 82 })
          .toFile(temp),
      (why) => new ThumbnailError(`no preview of ${path.basename(file)}: ${why}`),
    );
    if (++this.made % 50 === 0) void this.trim().catch(() => undefined);
    return target;
  }

  /** Keeps the newest MAX_FILES thumbnails. */
  async trim(max = MAX_FILES): Promise<void> {
    await trimNewest(this.dir, '.webp', max);
  }
}
