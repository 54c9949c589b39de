/**
 * The before/after viewer's image pyramid: full-resolution tiles of the artist's images for
 * its zoom (not the engine's inference tiles, main/engine/infer/), made with
 * sharp so the page never holds a 40-megapixel image. An image is a pyramid of levels: level 0
 * is the full resolution, each level above halves it, and the top level fits in one tile.
 * Every level is cut into PYRAMID_TILE_SIZE-pixel squares (the last row and column smaller), each a
 * WebP. The first tile of a level decodes the image once (EXIF orientation applied) and keeps
 * that level as an uncompressed libvips file, from which each tile is cut in tens of
 * milliseconds; tiles and level files are cached on disk under a key of the file's path,
 * size and modification time, as thumbnails are (thumbnails.ts), and trimmed to the newest;
 * the folder is private and never follows a link (cache-folder.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { PyramidInfo } from '../../shared/ipc';
import { ensurePrivateFolder, isCachedFile } from './cache-folder';
import { cacheKey, SharedWork, trimNewest, WorkLimit, writeCached } from './file-cache';

export type { PyramidInfo };

export const PYRAMID_TILE_SIZE = 512;
/** Beyond this many pixels an input is refused (sharp's decompression-bomb guard). */
const MAX_INPUT_PIXELS = 400_000_000;
/** Level files (up to 3 bytes a pixel) kept on disk; the oldest beyond this are removed. */
const MAX_LEVEL_FILES = 4;
const MAX_TILE_FILES = 4000;
/** Tiles cut at once (each is a small read of a level file). */
const PARALLEL = 2;

/** A request the viewer should not have made (a level or tile outside the image): HTTP 400. */
export class PyramidRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PyramidRangeError';
  }
}

/** The image cannot be read: HTTP 404 with the reason. */
export class PyramidImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PyramidImageError';
  }
}

/** How many levels an image of this size has: halved until its long side fits one tile. */
export function pyramidLevels(width: number, height: number, tileSize = PYRAMID_TILE_SIZE): number {
  let levels = 1;
  while (Math.max(width, height) / 2 ** (levels - 1) > tileSize) levels += 1;
  return levels;
}

/** The image's size at a level (rounded up, as the level file is made). */
export function levelSize(width: number, height: number, level: number) {
  return { width: Math.ceil(width / 2 ** level), height: Math.ceil(height / 2 ** level) };
}

/** Columns and rows of tiles at a level. */
export function levelGrid(info: PyramidInfo, level: number) {
  const s = levelSize(info.width, info.height, level);
  return { cols: Math.ceil(s.width / info.tileSize), rows: Math.ceil(s.height / info.tileSize) };
}

export class ImagePyramid {
  private readonly infos = new Map<string, Promise<PyramidInfo>>();
  private readonly inFlight = new SharedWork<string>();
  private readonly limit = new WorkLimit(PARALLEL);
  private made = 0;

  /** `dir`: the folder of tiles and levels; `root`: the cache root it is in, checked as well. */
  constructor(
    readonly dir: string,
    private readonly root = dir,
  ) {}

  /** The size and pyramid of `file` (absolute, already allowed). */
  async info(file: string): Promise<PyramidInfo> {
    const key = await this.keyOf(file);
    let known = this.infos.get(key);
    if (!known) {
      known = readInfo(file);
      this.infos.set(key, known);
      known.catch(() => this.infos.delete(key));
    }
    return known;
  }

  /** The cached WebP of one tile; throws PyramidRangeError or PyramidImageError. */
  async tile(file: string, level: number, x: number, y: number): Promise<string> {
    const info = await this.info(file);
    if (!Number.isInteger(level) || level < 0 || level >= info.levels) {
      throw new PyramidRangeError(`level must be a whole number from 0 to ${info.levels - 1}`);
    }
    const { cols, rows } = levelGrid(info, level);
    if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= cols || y >= rows) {
      throw new PyramidRangeError(
        `level ${level} has ${cols}×${rows} tiles: x from 0 to ${cols - 1}, y from 0 to ${rows - 1}`,
      );
    }
    const key = await this.keyOf(file);
    const target = path.join(this.dir, `${key}-${level}-${x}-${y}.webp`);
    if (await isCachedFile(target)) return target;
    return this.inFlight.run(`${key}-${level}-${x}-${y}`, async () => {
      const source = await this.levelFile(file, key, level, info);
      return this.limit.run(() => this.cut(source, info, level, x, y, target));
    });
  }

  private async keyOf(file: string): Promise<string> {
    const stat = await fs.stat(file).catch(() => null);
    if (!stat?.isFile()) throw new PyramidImageError(`${file} is not a file`);
    return cacheKey([path.resolve(file), stat.size, stat.mtimeMs]);
  }

  /** The level as an uncompressed libvips file (made once, shared by concurrent requests). */
  private levelFile(file: string, key: string, level: number, info: PyramidInfo): Promise<string> {
    const target = path.join(this.dir, `${key}-${level}.v`);
    return this.inFlight.run(`${key}-${level}`, async () => {
      if (await isCachedFile(target)) {
        // In use: newest, so trimming spares it.
        const now = new Date();
        await fs.utimes(target, now, now).catch(() => undefined);
        return target;
      }
      await ensurePrivateFolder(this.dir, this.root);
      await writeCached(
        target,
        '.v',
        (temp) => {
          let image = sharp(file, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' }).rotate();
          if (level > 0) {
            const s = levelSize(info.width, info.height, level);
            image = image.resize(s.width, s.height, { fit: 'fill' });
          }
          return image.toFile(temp);
        },
        (why) => new PyramidImageError(`no tiles of ${path.basename(file)}: ${why}`),
      );
      void this.trim('.v', MAX_LEVEL_FILES).catch(() => undefined);
      return target;
    });
  }

  private async cut(
    source: string,
    info: PyramidInfo,
    level: number,
    x: number,
    y: number,
    target: string,
  ): Promise<string> {
    const s = levelSize(info.width, info.height, level);
    const t = info.tileSize;
    await writeCached(
      target,
      '.tmp',
      (temp) =>
        sharp(source, { limitInputPixels: MAX_INPUT_PIXELS })
          .extract({
            left: x * t,
            top: y * t,
            width: Math.min(t, s.width - x * t),
            height: Math.min(t, s.height - y * t),
          })
          .webp({ quality: 85 })
          .toFile(temp),
      (why) => new PyramidImageError(`no tile of the image: ${why}`),
    );
    if (++this.made % 200 === 0) void this.trim('.webp', MAX_TILE_FILES).catch(() => undefined);
    return target;
  }

  /** Keeps the newest `max` files ending in `ext`. */
  async trim(ext: '.v' | '.webp', max: number): Promise<void> {
    await trimNewest(this.dir, ext, max);
  }
}

async function readInfo(file: string): Promise<PyramidInfo> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new PyramidImageError(`${path.basename(file)} cannot be read as an image: ${why}`);
  }
  if (!meta.width || !meta.height) {
    throw new PyramidImageError(`${path.basename(file)} has no size sharp can read`);
  }
  // EXIF orientations 5–8 turn the picture a quarter: its shown width is the stored height.
  const turned = (meta.orientation ?? 1) >= 5;
  const width = turned ? meta.height : meta.width;
  const height = turned ? meta.width : meta.height;
  return { width, height, tileSize: PYRAMID_TILE_SIZE, levels: pyramidLevels(width, height) };
}
