/**
 * Paths an attacker names to `patchwork serve` (issue 19, item 2 and 3): traversal in every
 * spelling, a sibling folder whose name starts like the allowed one, links out of the allowed
 * folder and into it, the interface's own files, and the cache: a link planted in place of a
 * cached picture, and a cache folder that is a link. Each is refused (or, for a planted cache
 * entry, made again from the allowed image) and never shows what lies outside.
 */
import { mkdir, readdir, rm, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStudio } from '../../main/serve/index';
import { bearer, filesUrl, INTERNALS, openSite, post, raw, type Site } from './serve-attacks';

let site: Site;
/** A folder beside the allowed one whose name begins with the allowed one's. */
let sibling: string;

beforeAll(async () => {
  site = await openSite();
  sibling = `${site.work}-evil`;
  await mkdir(sibling, { recursive: true });
  await sharp(site.secret).toFile(path.join(sibling, 'secret.png'));
  await symlink(site.secret, path.join(site.work, 'out.png'));
  await symlink(site.outside, path.join(site.work, 'outdir'));
  await symlink(site.image, path.join(site.work, 'in.png'));
});
afterAll(async () => {
  await rm(sibling, { recursive: true, force: true });
  await site?.close();
});

/** Ways to name the secret (or another file outside) from the allowed folder. */
function traversals(): string[] {
  const w = site.work;
  const rel = path.relative(w, site.secret);
  return [
    site.secret,
    `${w}/${rel}`,
    `${w}//..//..//${site.secret}`,
    `${w}/./../${path.basename(site.outside)}/secret.png`,
    `${w}\\..\\${path.basename(site.outside)}\\secret.png`,
    `${w}/%2e%2e/${path.basename(site.outside)}/secret.png`,
    `${w}/..%2f${path.basename(site.outside)}%2fsecret.png`,
    `${w}/\u2025/${path.basename(site.outside)}/secret.png`,
    `${w}/photo.png\0/../../${path.basename(site.outside)}/secret.png`,
    `${w}-evil/secret.png`,
    `${w}/out.png`,
    `${w}/outdir/secret.png`,
    rel,
    'secret.png',
    '/etc/passwd',
    `file://${site.secret}`,
    `~/${path.relative(process.env.HOME ?? '/', site.secret)}`,
    `${w}/${'../'.repeat(50)}etc/passwd`,
    `${w}/${'x'.repeat(5000)}`,
    '',
  ];
}

describe('image routes', () => {
  it('refuse every spelling of a path outside the allowed folder, saying nothing of it', async () => {
    for (const p of traversals()) {
      const enc = encodeURIComponent(p);
      for (const target of [
        filesUrl(p),
        `/thumbs?size=64&path=${enc}`,
        `/tiles?path=${enc}&level=0&x=0&y=0`,
      ]) {
        const res = await raw(site, target, { headers: bearer(site) });
        expect([p.slice(0, 80), target.slice(0, 6), res.status]).toEqual([
          p.slice(0, 80),
          target.slice(0, 6),
          target.startsWith('/tiles') && p === '' ? 400 : 404,
        ]);
        expect(res.body).not.toMatch(INTERNALS);
      }
    }
  });

  it('serve a link that stays inside, and the file itself', async () => {
    for (const p of [site.image, path.join(site.work, 'in.png')]) {
      expect((await raw(site, filesUrl(p), { headers: bearer(site) })).status).toBe(200);
    }
  });
});

describe('the API', () => {
  it('refuses to look into or use a folder outside, in every spelling', async () => {
    const folders = [
      site.outside,
      `${site.work}/../${path.basename(site.outside)}`,
      `${site.work}/outdir`,
      sibling,
      '/etc',
      '/',
    ];
    for (const folder of folders) {
      const res = await post(site, { channel: 'folder:inspect', input: { path: folder } });
      expect([folder, res.status]).toEqual([folder, 403]);
      expect(JSON.parse(res.body)).toMatchObject({ ok: false, error: { code: 'forbidden-path' } });
    }
    for (const p of [site.secret, `${site.work}/out.png`]) {
      const res = await post(site, { channel: 'image:tiles', input: { path: p } });
      expect([p, res.status]).toEqual([p, 404]);
      expect(JSON.parse(res.body)).toMatchObject({ ok: false, error: { code: 'not-found' } });
    }
  });

  it('does not list what a link inside points to outside', async () => {
    const res = await post(site, { channel: 'folder:inspect', input: { path: site.work } });
    const info = JSON.parse(res.body) as { ok: true; value: { samples: string[] } };
    expect(info.value.samples.map((s) => path.basename(s)).sort()).toEqual(['in.png', 'photo.png']);
  });
});

describe('the page’s own files', () => {
  it('are served from the interface folder only', async () => {
    for (const target of [
      '/..%2f..%2fetc%2fpasswd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/assets/..%2f..%2f..%2f..%2fetc%2fpasswd',
      `/..%2f${path.basename(site.outside)}%2fsecret.png`,
      '/index.html%00.png',
    ]) {
      const res = await raw(site, target);
      expect([target, res.status]).toEqual([target, 404]);
    }
  });
});

describe('the cache', () => {
  it('a link planted in place of a cached thumbnail is replaced, never followed', async () => {
    const thumb = `/thumbs?size=32&path=${encodeURIComponent(site.image)}`;
    expect((await raw(site, thumb, { headers: bearer(site) })).status).toBe(200);
    const dir = path.join(site.library, 'cache', 'thumbnails');
    const cached = (await readdir(dir)).filter((f) => f.endsWith('.webp'));
    expect(cached.length).toBeGreaterThan(0);
    for (const f of cached) {
      await unlink(path.join(dir, f));
      await symlink(site.secret, path.join(dir, f));
    }
    const res = await fetch(`http://127.0.0.1:${site.served.port}${thumb}`, {
      headers: bearer(site),
    });
    expect(res.status).toBe(200);
    // The allowed image's blue, made again — not the secret's black.
    const { dominant } = await sharp(Buffer.from(await res.arrayBuffer())).stats();
    expect(dominant.b).toBeGreaterThan(100);
  });

  it('a cache folder that is a link stops the studio before it serves anything', async () => {
    const library = path.join(site.outside, 'linked-library');
    await mkdir(library, { recursive: true });
    await symlink(site.outside, path.join(library, 'cache'));
    await expect(
      serveStudio({ libraryDir: library, allowedRoots: [site.work], rendererDir: null }),
    ).rejects.toThrow(/cache/i);
  });
});
