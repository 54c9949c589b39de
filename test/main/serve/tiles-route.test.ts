/**
 * The /tiles route of `patchwork serve` and the 'image:tiles' channel behind the before/after
 * viewer's zoom: tiles of allowed images only, the token required, levels and tiles outside
 * the image refused with the reason, and parameters that are not whole numbers refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStudio, type ServedStudio } from '../../../main/serve/index';

let served: ServedStudio;
let library: string;
let work: string;
let outside: string;
let image: string;

const base = () => `http://127.0.0.1:${served.port}`;
const auth = () => ({ Authorization: `Bearer ${served.token}` });
const tile = (file: string, q: string, headers: Record<string, string> = auth()) =>
  fetch(`${base()}/tiles?path=${encodeURIComponent(file)}&${q}`, { headers });

beforeAll(async () => {
  library = await mkdtemp(path.join(os.tmpdir(), 'pw-tiles-lib-'));
  work = await mkdtemp(path.join(os.tmpdir(), 'pw-tiles-work-'));
  outside = await mkdtemp(path.join(os.tmpdir(), 'pw-tiles-outside-'));
  served = await serveStudio({ libraryDir: library, allowedRoots: [work], rendererDir: null });
  image = path.join(work, 'wide.png');
  await sharp({ create: { width: 1200, height: 600, channels: 3, background: '#305080' } })
    .png()
    .toFile(image);
  await sharp({ create: { width: 600, height: 600, channels: 3, background: '#000' } })
    .png()
    .toFile(path.join(outside, 'secret.png'));
});
afterAll(async () => {
  await served?.close();
  for (const d of [library, work, outside]) await rm(d, { recursive: true, force: true });
});

describe('/tiles', () => {
  it('serves a WebP tile of an allowed image, at its place and level', async () => {
    const res = await tile(image, 'level=0&x=2&y=1');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 1200 - 1024, 600 - 512]);
    const top = await tile(image, 'level=2&x=0&y=0');
    const topMeta = await sharp(Buffer.from(await top.arrayBuffer())).metadata();
    expect([topMeta.width, topMeta.height]).toEqual([300, 150]);
  });

  it('needs the token', async () => {
    expect((await tile(image, 'level=0&x=0&y=0', {})).status).toBe(401);
    expect((await tile(image, 'level=0&x=0&y=0', { Authorization: 'Bearer nope' })).status).toBe(
      401,
    );
  });

  it('refuses tiles and levels outside the image with the reason, and bad parameters', async () => {
    const level = await tile(image, 'level=3&x=0&y=0');
    expect(level.status).toBe(400);
    expect(await level.text()).toMatch(/level must be a whole number from 0 to 2/);
    const beyond = await tile(image, 'level=0&x=3&y=0');
    expect(beyond.status).toBe(400);
    expect(await beyond.text()).toMatch(/level 0 has 3×2 tiles/);
    for (const q of ['level=0&x=-1&y=0', 'level=0&x=0', 'level=a&x=0&y=0', 'level=0&x=1e3&y=0']) {
      expect((await tile(image, q)).status, q).toBe(400);
    }
    expect((await fetch(`${base()}/tiles?level=0&x=0&y=0`, { headers: auth() })).status).toBe(400);
  });

  it('serves nothing outside the allowed folders, nor what is not an image', async () => {
    const secret = await tile(path.join(outside, 'secret.png'), 'level=0&x=0&y=0');
    expect(secret.status).toBe(404);
    expect((await tile('/etc/hostname', 'level=0&x=0&y=0')).status).toBe(404);
    expect(
      (await tile(path.join(work, '..', path.basename(outside), 'secret.png'), 'level=0&x=0&y=0'))
        .status,
    ).toBe(404);
  });
});

describe("'image:tiles'", () => {
  const call = async (input: unknown) => {
    const res = await fetch(`${base()}/api`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...auth() },
      body: JSON.stringify({ channel: 'image:tiles', input }),
    });
    return { status: res.status, reply: (await res.json()) as Record<string, unknown> };
  };

  it('answers the size and the pyramid of an allowed image; refuses others', async () => {
    expect(await call({ path: image })).toEqual({
      status: 200,
      reply: { ok: true, value: { width: 1200, height: 600, tileSize: 512, levels: 3 } },
    });
    const refused = await call({ path: path.join(outside, 'secret.png') });
    expect(refused.status).toBe(404);
    expect(refused.reply).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect((await call({})).status).toBe(400);
  });
});
