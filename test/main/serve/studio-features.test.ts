/**
 * The studio's later features over `patchwork serve` with the real services and engine
 * processes: a tiny style is trained once, then a watched folder converts an image dropped
 * into it and reports a corrupt one with its reason, thumbnails come from the /thumbs route
 * within their size limits, and a watch is switched off gracefully.
 */
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { HeatmapView, Reply, StudioEvent, TrainStartInput } from '../../../shared/ipc';
import type { JobSnapshot } from '../../../shared/ipc-jobs';
import type { WatchInfo } from '../../../shared/ipc-watch';
import { SAMPLES_DIR, serveStudio, type ServedStudio } from '../../../main/serve/index';

let served: ServedStudio;
let library: string;
let work: string;
const events: StudioEvent[] = [];
let socket: WebSocket;

const base = () => `http://127.0.0.1:${served.port}`;
const auth = () => ({ Authorization: `Bearer ${served.token}` });

async function call<T = Record<string, unknown>>(channel: string, input: unknown) {
  const res = await fetch(`${base()}/api`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...auth() },
    body: JSON.stringify({ channel, input }),
  });
  return { status: res.status, reply: (await res.json()) as Reply<T> };
}

async function value<T>(channel: string, input: unknown): Promise<T> {
  const { reply } = await call<T>(channel, input);
  if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
  return reply.value;
}

function until<T>(what: string, find: () => T | undefined, timeoutMs = 90_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    const check = () => {
      const found = find();
      if (found !== undefined) {
        clearTimeout(timer);
        resolve(found);
      } else setTimeout(check, 100);
    };
    check();
  });
}

const tiny: TrainStartInput = {
  name: 'Feature style',
  source: path.join(SAMPLES_DIR, 'source'),
  target: path.join(SAMPLES_DIR, 'target'),
  preset: 'fastcut',
  options: { ngf: 4, ndf: 4, nBlocks: 2, loadSize: 36, cropSize: 32, numPatches: 32 },
  iterations: 2,
  backend: 'wasm',
  previewEvery: 0,
  progressEvery: 1,
};

beforeAll(async () => {
  library = await mkdtemp(path.join(os.tmpdir(), 'pw-feat-lib-'));
  work = await mkdtemp(path.join(os.tmpdir(), 'pw-feat-work-'));
  served = await serveStudio({
    libraryDir: library,
    allowedRoots: [work],
    rendererDir: null,
    cancelGraceMs: 30_000,
    watchStableMs: 200,
  });
  socket = new WebSocket(`ws://127.0.0.1:${served.port}/events`, { headers: auth() });
  socket.on('message', (data) => events.push(JSON.parse(String(data)) as StudioEvent));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const { job } = await value<{ job: JobSnapshot }>('train:start', tiny);
  await until('the style', () =>
    events.find((e) => e.type === 'job' && e.job.id === job.id && e.job.status === 'completed'),
  );
}, 180_000);

afterAll(async () => {
  socket?.close();
  await served?.close();
  await rm(library, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe('a watched folder', () => {
  it('converts an image dropped in, reports a corrupt one, and stops when switched off', async () => {
    const drop = path.join(work, 'drop');
    const out = path.join(work, 'watched-out');
    await mkdir(drop);
    const { watch } = await value<{ watch: WatchInfo }>('watch:start', {
      styleId: 'feature-style',
      input: drop,
      output: out,
      format: 'png',
    });
    expect(watch.state).toBe('starting');
    await until('watching', () =>
      events.find(
        (e) => e.type === 'watch' && e.watch.id === watch.id && e.watch.state === 'watching',
      ),
    );
    const again = await call('watch:start', { styleId: 'feature-style', input: drop, output: out });
    expect(!again.reply.ok && again.reply.error.code).toBe('rejected');

    const sample = (await readdir(path.join(SAMPLES_DIR, 'held-out')))[0];
    await copyFile(path.join(SAMPLES_DIR, 'held-out', sample), path.join(drop, 'new.jpg'));
    await writeFile(path.join(drop, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1]));
    const fileEvent = (name: string, status: string) =>
      events.find(
        (e) =>
          e.type === 'watch-file' &&
          e.watchId === watch.id &&
          path.basename(e.file.input) === name &&
          e.file.status === status,
      );
    await until('the dropped file converted', () => fileEvent('new.jpg', 'done'));
    const failed = await until('the corrupt file failed', () => fileEvent('broken.jpg', 'failed'));
    expect(failed.type === 'watch-file' && failed.file.failure?.reason).toBe('corrupt');
    expect(await readdir(out)).toContain('new.png');

    const listed = await value<{ watches: WatchInfo[] }>('watch:list', {});
    expect(listed.watches[0].files.map((f) => [f.relative, f.status]).sort()).toEqual([
      ['broken.png', 'failed'],
      ['new.png', 'done'],
    ]);

    const stopped = await value<{ watch: WatchInfo }>('watch:stop', { watchId: watch.id });
    expect(stopped.watch.state).toBe('stopped');
    const forget = await value<{ watchId: string }>('watch:remove', { watchId: watch.id });
    expect(forget.watchId).toBe(watch.id);
    expect((await value<{ watches: WatchInfo[] }>('watch:list', {})).watches).toEqual([]);
  });

  it('refuses a style that does not exist and an output that is the watched folder', async () => {
    const drop = path.join(work, 'drop2');
    await mkdir(drop);
    const none = await call('watch:start', { styleId: 'nope', input: drop, output: drop });
    expect(!none.reply.ok && none.reply.error.code).toBe('not-found');
    const same = await call('watch:start', { styleId: 'feature-style', input: drop, output: drop });
    expect(!same.reply.ok && same.reply.error.issues?.[0].path).toBe('output');
    const outside = await call('watch:start', {
      styleId: 'feature-style',
      input: '/etc',
      output: path.join(work, 'x'),
    });
    expect(outside.status).toBe(403);
  });
});

describe('heatmaps', () => {
  it('opens a style on an image, answers a click with a map, and refuses a point off it', async () => {
    const image = path.join(
      SAMPLES_DIR,
      'held-out',
      (await readdir(path.join(SAMPLES_DIR, 'held-out')))[0],
    );
    const opened = await value<HeatmapView>('heatmap:open', { styleId: 'feature-style', image });
    expect(opened.taps.length).toBeGreaterThan(0);
    expect(opened.map).toBeUndefined();
    const png = await fetch(`${base()}/files?path=${encodeURIComponent(opened.output)}`, {
      headers: auth(),
    });
    expect(png.status).toBe(200);
    const meta = await sharp(Buffer.from(await png.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([opened.workingWidth, opened.workingHeight]);

    const x = Math.floor(opened.width / 2);
    const y = Math.floor(opened.height / 3);
    const tap = opened.taps[0];
    const clicked = await value<HeatmapView>('heatmap:query', {
      styleId: 'feature-style',
      image,
      x,
      y,
      tap,
    });
    expect(clicked.map).toMatchObject({ tap });
    expect(clicked.map!.best.similarity).toBeLessThanOrEqual(1.0001);
    expect(clicked.map!.best.x).toBeGreaterThanOrEqual(0);
    expect(clicked.map!.best.x).toBeLessThan(opened.width);
    const map = await fetch(`${base()}/files?path=${encodeURIComponent(clicked.map!.file)}`, {
      headers: auth(),
    });
    expect(map.status).toBe(200);

    const grid = await value<HeatmapView>('heatmap:grid', {
      styleId: 'feature-style',
      image,
      n: 3,
      tap,
    });
    expect(grid.grid).toMatchObject({ n: 3, tap });
    const picture = await fetch(`${base()}/files?path=${encodeURIComponent(grid.grid!.file)}`, {
      headers: auth(),
    });
    expect(picture.headers.get('content-type')).toBe('image/png');
    const tooMany = await call('heatmap:grid', { styleId: 'feature-style', image, n: 50 });
    expect(!tooMany.reply.ok && tooMany.reply.error.code).toBe('invalid-input');

    const off = await call('heatmap:query', {
      styleId: 'feature-style',
      image,
      x: opened.width + 10,
      y: 0,
    });
    expect(!off.reply.ok && off.reply.error.code).toBe('rejected');
    expect(!off.reply.ok && off.reply.error.message).toMatch(/outside/);
    const badTap = await call('heatmap:query', {
      styleId: 'feature-style',
      image,
      x,
      y,
      tap: 'res99',
    });
    expect(!badTap.reply.ok && badTap.reply.error.code).toBe('rejected');
  });

  it('says a missing image is missing, and a folder is a folder', async () => {
    const gone = path.join(work, 'gone.png');
    const missing = await call('heatmap:open', { styleId: 'feature-style', image: gone });
    expect(!missing.reply.ok && missing.reply.error).toMatchObject({
      code: 'rejected',
      message: `${gone} is not there (moved, renamed or deleted?)`,
      issues: [{ path: 'image', message: 'is not there (moved, renamed or deleted?)' }],
    });
    const folder = await call('heatmap:open', { styleId: 'feature-style', image: work });
    expect(!folder.reply.ok && folder.reply.error.message).toBe(
      `${work} is a folder, not an image`,
    );
  });
});

describe('thumbnails', () => {
  it('serves a small WebP of an allowed image, and refuses bad sizes and other folders', async () => {
    const big = path.join(work, 'big.png');
    await sharp({ create: { width: 2400, height: 1600, channels: 3, background: '#a05020' } })
      .png()
      .toFile(big);
    const get = (q: string) => fetch(`${base()}/thumbs?${q}`, { headers: auth() });
    const ok = await get(`size=256&path=${encodeURIComponent(big)}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(Buffer.from(await ok.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([256, 171]);
    expect((await get(`size=99999&path=${encodeURIComponent(big)}`)).status).toBe(400);
    expect((await get(`size=256&path=${encodeURIComponent('/etc/hostname')}`)).status).toBe(404);
    const noToken = await fetch(`${base()}/thumbs?size=256&path=${encodeURIComponent(big)}`);
    expect(noToken.status).toBe(401);
  });
});
