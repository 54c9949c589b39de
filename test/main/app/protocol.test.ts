/** The app's scheme, called with web Requests as Electron's protocol.handle does. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appProtocolHandler } from '../../../main/app/protocol';

let dir: string;
let handler: (r: Request) => Promise<Response>;
const allowed = new Set<string>();

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pw-protocol-'));
  await mkdir(path.join(dir, 'renderer', 'assets'), { recursive: true });
  await writeFile(path.join(dir, 'renderer', 'index.html'), '<!doctype html>');
  await writeFile(path.join(dir, 'renderer', 'assets', 'a.js'), 'export {}');
  await writeFile(path.join(dir, 'secret.txt'), 'no');
  await writeFile(path.join(dir, 'preview.png'), 'png');
  allowed.add(path.join(dir, 'preview.png'));
  handler = appProtocolHandler(path.join(dir, 'renderer'), {
    readableFile: async (p) => (allowed.has(p) ? p : null),
    thumbnail: async (p, size) => (allowed.has(p) ? `${p}.${size}.webp` : null),
    tile: async (p, level, x, y) => {
      if (!allowed.has(p)) return { status: 404, message: 'no image the studio may show there' };
      if (level > 1) return { status: 400, message: 'level must be a whole number from 0 to 1' };
      return { file: `${p}.${level}-${x}-${y}.webp` };
    },
  });
  await writeFile(path.join(dir, 'preview.png.1-2-3.webp'), 'tile');
  await writeFile(path.join(dir, 'preview.png.256.webp'), 'webp');
});

afterAll(() => rm(dir, { recursive: true, force: true }));

const get = (url: string) => handler(new Request(url));

describe('patchwork://app', () => {
  it('serves the page with its CSP, and its assets', async () => {
    const page = await get('patchwork://app/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const js = await get('patchwork://app/assets/a.js');
    expect(js.headers.get('content-type')).toMatch(/javascript/);
  });

  it('serves only the files the studio allows', async () => {
    const p = encodeURIComponent(path.join(dir, 'preview.png'));
    expect((await get(`patchwork://app/files?path=${p}`)).status).toBe(200);
    const s = encodeURIComponent(path.join(dir, 'secret.txt'));
    expect((await get(`patchwork://app/files?path=${s}`)).status).toBe(404);
  });

  it('serves thumbnails of allowed files only, with a bounded size', async () => {
    const p = encodeURIComponent(path.join(dir, 'preview.png'));
    const ok = await get(`patchwork://app/thumbs?size=256&path=${p}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/webp');
    const s = encodeURIComponent(path.join(dir, 'secret.txt'));
    expect((await get(`patchwork://app/thumbs?size=256&path=${s}`)).status).toBe(404);
    for (const size of ['0', '4096', 'abc', '12.5']) {
      expect((await get(`patchwork://app/thumbs?size=${size}&path=${p}`)).status).toBe(400);
    }
  });

  it('serves tiles of allowed files only, passing on the studio’s refusals', async () => {
    const p = encodeURIComponent(path.join(dir, 'preview.png'));
    const ok = await get(`patchwork://app/tiles?path=${p}&level=1&x=2&y=3`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/webp');
    expect(await ok.text()).toBe('tile');
    const level = await get(`patchwork://app/tiles?path=${p}&level=2&x=0&y=0`);
    expect([level.status, await level.text()]).toEqual([
      400,
      'level must be a whole number from 0 to 1',
    ]);
    const s = encodeURIComponent(path.join(dir, 'secret.txt'));
    expect((await get(`patchwork://app/tiles?path=${s}&level=0&x=0&y=0`)).status).toBe(404);
    for (const q of ['level=0&x=0', 'level=-1&x=0&y=0', 'level=0&x=0.5&y=0']) {
      expect((await get(`patchwork://app/tiles?path=${p}&${q}`)).status, q).toBe(400);
    }
  });

  it('never leaves the renderer folder or answers another host', async () => {
    expect((await get('patchwork://app/..%2Fsecret.txt')).status).toBe(404);
    expect((await get('patchwork://app/%2E%2E/secret.txt')).status).toBe(404);
    expect((await get('patchwork://other/index.html')).status).toBe(404);
  });
});
