/**
 * The caches' folders (issue 19, item 3): private to this user whatever was there before, and
 * refused, saying why, when the folder is a link, a file or someone else's, because a cache
 * others can read or plant in leaks the artist's pictures or writes where a link points.
 */
import { chmod, chown, lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CacheRoot,
  ensurePrivateFolder,
  libraryCacheDir,
  servableCacheFile,
} from '../../../main/services/cache-folder';
import { useTempDir } from '../../support/temp-dir';

const tmp = useTempDir('pw-cache-folder-', { each: true });
const modeOf = async (p: string) => (await lstat(p)).mode & 0o777;
const posix = process.platform !== 'win32';

describe('the cache root', () => {
  it('is `cache` in the library, not a shared temporary folder', () => {
    expect(libraryCacheDir('/home/a/Library')).toBe(path.resolve('/home/a/Library/cache'));
  });

  it.runIf(posix)('makes the root and a cache folder 0700', async () => {
    const cache = new CacheRoot(tmp.path('library', 'cache'));
    const dir = await cache.ready('thumbnails');
    expect(dir).toBe(cache.folder('thumbnails'));
    expect(await modeOf(cache.dir)).toBe(0o700);
    expect(await modeOf(dir)).toBe(0o700);
  });

  it.runIf(posix)('tightens folders that were left readable by others to 0700', async () => {
    const root = tmp.path('cache');
    await mkdir(path.join(root, 'heatmaps'), { recursive: true });
    await chmod(root, 0o755);
    await chmod(path.join(root, 'heatmaps'), 0o777);
    await new CacheRoot(root).ready('heatmaps');
    expect(await modeOf(root)).toBe(0o700);
    expect(await modeOf(path.join(root, 'heatmaps'))).toBe(0o700);
  });

  it.runIf(posix)('refuses a root or a cache folder that is a symbolic link', async () => {
    const elsewhere = tmp.path('elsewhere');
    await mkdir(elsewhere, { mode: 0o755 });
    await symlink(elsewhere, tmp.path('cache'));
    await expect(new CacheRoot(tmp.path('cache')).ready('thumbnails')).rejects.toThrow(
      /cache folder .*cache is a symbolic link/,
    );
    const root = tmp.path('real');
    await mkdir(root);
    await symlink(elsewhere, path.join(root, 'pyramid'));
    await expect(new CacheRoot(root).ready('pyramid')).rejects.toThrow(
      /pyramid is a symbolic link/,
    );
    // Nothing was made or loosened where the links point.
    expect(await modeOf(elsewhere)).toBe(0o755);
  });

  it('refuses a cache folder that is a file', async () => {
    await writeFile(tmp.path('cache'), 'not a folder');
    await expect(ensurePrivateFolder(tmp.path('cache'))).rejects.toThrow(/is not a folder/);
  });

  it.runIf(process.getuid?.() === 0)('refuses a cache root that another user owns', async () => {
    const root = tmp.path('cache');
    await mkdir(root, { mode: 0o700 });
    await chown(root, 65534, 65534);
    await expect(new CacheRoot(root).ready()).rejects.toThrow(
      /belongs to another user \(uid 65534/,
    );
  });
});

describe('servableCacheFile', () => {
  it.runIf(posix)('serves a plain file of the cache, never a link planted in it', async () => {
    const root = tmp.path('cache');
    const dir = await new CacheRoot(root).ready('heatmaps');
    const own = path.join(dir, 'own.png');
    await writeFile(own, 'png');
    expect(await servableCacheFile(own, root)).toBe(own);
    const secret = tmp.path('secret.png');
    await writeFile(secret, 'secret');
    const planted = path.join(dir, 'planted.png');
    await symlink(secret, planted);
    expect(await servableCacheFile(planted, root)).toBeNull();
    // A file outside the root is not the cache's, whatever its name says.
    expect(await servableCacheFile(secret, root)).toBeNull();
    expect(await servableCacheFile(path.join(dir, '..', '..', 'secret.png'), root)).toBeNull();
    expect(await readFile(secret, 'utf8')).toBe('secret');
    expect((await stat(planted)).isFile()).toBe(true); // the link itself is left alone
  });
});
