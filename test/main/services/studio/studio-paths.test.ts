/**
 * What the studio serves from its caches (issue 19, item 3): a heatmap picture or thumbnail
 * only as a plain file whose real path is in the cache root under the library, so a link
 * planted in the cache never hands out the file it points at, and a path outside the cache
 * and the allowed folders is refused whatever folder name it copies.
 */
import { mkdir, readFile, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CacheRoot, libraryCacheDir } from '../../../../main/services/cache-folder';
import { PathPolicy } from '../../../../main/services/path-policy';
import { StudioPaths } from '../../../../main/services/studio/studio-paths';
import { openStudio } from '../../../support/studio';
import { useTempDir } from '../../../support/temp-dir';

const tmp = useTempDir('pw-studio-paths-', { each: true });
const posix = process.platform !== 'win32';
/** No request here reaches the engine; dispose() is all the studio asks of it. */
const idleEngine = { pid: null, dispose: () => undefined };

async function png(file: string) {
  await mkdir(path.dirname(file), { recursive: true });
  await sharp({ create: { width: 8, height: 8, channels: 3, background: '#204080' } })
    .png()
    .toFile(file);
}

describe('StudioPaths.readableFile and the cache', () => {
  for (const roots of [['allowed'], null]) {
    const which = roots ? '`patchwork serve`' : 'the desktop app';
    it.runIf(posix)(
      `serves a heatmap of the cache, never a link planted in it (${which})`,
      async () => {
        const cache = new CacheRoot(tmp.path('library', 'cache'));
        const paths = new StudioPaths(
          new PathPolicy(roots && roots.map((r) => tmp.path(r))),
          cache,
        );
        const heatmaps = await cache.ready('heatmaps');
        const own = path.join(heatmaps, 'own-input.png');
        await png(own);
        expect(await paths.readableFile(own)).toBe(own);
        const secret = tmp.path('private', 'secret.png');
        await png(secret);
        const planted = path.join(heatmaps, 'planted-input.png');
        await symlink(secret, planted);
        expect(await paths.readableFile(planted)).toBeNull();
      },
    );
  }

  it('refuses a heatmap file outside the cache and the allowed folders', async () => {
    const cache = new CacheRoot(tmp.path('library', 'cache'));
    const paths = new StudioPaths(new PathPolicy([tmp.path('allowed')]), cache);
    await cache.ready('heatmaps');
    // Named like the studio's own pictures, in a folder of the same name elsewhere.
    const lookalike = tmp.path('other', 'cache', 'heatmaps', 'abc-input.png');
    await png(lookalike);
    expect(await paths.readableFile(lookalike)).toBeNull();
    // Climbing out of the cache by `..` is outside it too.
    const climbed = path.join(cache.folder('heatmaps'), '..', '..', '..', 'other', 'x.png');
    await png(tmp.path('other', 'x.png'));
    expect(await paths.readableFile(climbed)).toBeNull();
  });
});

describe('the studio’s caches', () => {
  it.runIf(posix)('live in the library, 0700, with thumbnails 0600', async () => {
    const library = tmp.path('library');
    await mkdir(library);
    const studio = await openStudio(library, idleEngine);
    const root = libraryCacheDir(library);
    expect((await stat(root)).mode & 0o777).toBe(0o700);
    const picture = path.join(library, 'pic.png');
    await png(picture);
    const thumb = await studio.thumbnail(picture, 64);
    expect(thumb && path.dirname(thumb)).toBe(path.join(root, 'thumbnails'));
    expect((await stat(path.join(root, 'thumbnails'))).mode & 0o777).toBe(0o700);
    expect((await stat(thumb!)).mode & 0o777).toBe(0o600);
    await studio.dispose();
  });

  it.runIf(posix)('refuses to open on a cache root that is a symbolic link', async () => {
    const library = tmp.path('library');
    await mkdir(library);
    const elsewhere = tmp.path('elsewhere');
    await mkdir(elsewhere);
    await symlink(elsewhere, libraryCacheDir(library));
    await expect(openStudio(library, idleEngine)).rejects.toThrow(/is a symbolic link/);
  });

  it.runIf(posix)('never serves a link planted in the cache through /files', async () => {
    const library = tmp.path('library');
    await mkdir(library);
    const studio = await openStudio(library, idleEngine);
    const secret = tmp.path('secret.png');
    await png(secret);
    const dir = await new CacheRoot(libraryCacheDir(library)).ready('heatmaps');
    await symlink(secret, path.join(dir, 'x-input.png'));
    expect(await studio.readableFile(path.join(dir, 'x-input.png'))).toBeNull();
    expect((await readFile(secret)).length).toBeGreaterThan(0);
    await studio.dispose();
  });
});
