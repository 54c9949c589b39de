/**
 * `patchwork serve` with the real services: the engine in its own Node process, a tiny
 * network on the bundled samples. These are the paths the browser takes, checked without a
 * browser: token and origin rules, the contract's validation errors, a job to completion,
 * a cancelled job, a conversion, and the events on the WebSocket.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Reply, StudioEvent, TrainStartInput } from '../../../shared/ipc';
import type { JobSnapshot } from '../../../shared/ipc-jobs';
import { SAMPLES_DIR, serveStudio, type ServedStudio } from '../../../main/serve/index';
import { jobEnded } from '../../support/studio';

let served: ServedStudio;
let library: string;
let work: string;
const events: StudioEvent[] = [];
let socket: WebSocket;

const base = () => `http://127.0.0.1:${served.port}`;

async function call(channel: string, input: unknown, token = served.token) {
  const res = await fetch(`${base()}/api`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ channel, input }),
  });
  const text = await res.text();
  const reply = (text.startsWith('{') ? JSON.parse(text) : null) as Reply<Record<string, unknown>>;
  return { status: res.status, reply };
}

/** A network small enough to train a few steps in seconds on one core. */
const tiny = (name: string, iterations: number): TrainStartInput => ({
  name,
  source: path.join(SAMPLES_DIR, 'source'),
  target: path.join(SAMPLES_DIR, 'target'),
  preset: 'fastcut',
  options: { ngf: 4, ndf: 4, nBlocks: 2, loadSize: 36, cropSize: 32, numPatches: 32 },
  iterations,
  backend: 'wasm',
  previewEvery: 0,
  progressEvery: 1,
});

/** The job's snapshot once it has ended, from the events pushed so far. */
const finished = (jobId: string, timeoutMs?: number) => jobEnded(events, jobId, timeoutMs);

beforeAll(async () => {
  library = await mkdtemp(path.join(os.tmpdir(), 'pw-serve-lib-'));
  work = await mkdtemp(path.join(os.tmpdir(), 'pw-serve-work-'));
  served = await serveStudio({
    libraryDir: library,
    allowedRoots: [work],
    rendererDir: null,
    cancelGraceMs: 30_000,
  });
  socket = new WebSocket(`ws://127.0.0.1:${served.port}/events`, {
    headers: { Authorization: `Bearer ${served.token}` },
  });
  socket.on('message', (data) => events.push(JSON.parse(String(data)) as StudioEvent));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
});

afterAll(async () => {
  socket?.close();
  await served?.close();
  await rm(library, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe('access', () => {
  it('refuses requests without the token', async () => {
    expect((await call('app:info', {}, 'wrong')).status).toBe(401);
    const ws = new WebSocket(`ws://127.0.0.1:${served.port}/events`);
    const outcome = await new Promise((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('error', () => resolve('refused'));
    });
    expect(outcome).toBe('refused');
  });

  it('refuses another Host (DNS rebinding) and cross-origin API calls', async () => {
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>, method = 'GET', p = '/') =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: served.port, path: p, method, headers },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.on('error', reject);
        req.end(method === 'POST' ? JSON.stringify({ channel: 'app:info', input: {} }) : '');
      });
    const auth = { Authorization: `Bearer ${served.token}` };
    expect(await status({ ...auth, Host: 'evil.example:80' })).toBe(403);
    const post = { ...auth, 'Content-Type': 'application/json', Origin: 'http://evil.example' };
    expect(await status(post, 'POST', '/api')).toBe(403);
  });

  it('prints an address with the token in its fragment, which browsers do not send', () => {
    expect(served.url).toBe(`${base()}/#token=${served.token}`);
  });
});

describe('the contract', () => {
  it('answers app:info', async () => {
    const { status, reply } = await call('app:info', {});
    expect(status).toBe(200);
    expect(reply.ok && reply.value).toMatchObject({ transport: 'serve', libraryDir: library });
  });

  it('rejects malformed and unknown messages with a specific error', async () => {
    const res = await fetch(`${base()}/api`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${served.token}` },
      body: '{"channel": ',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Reply<never>).ok).toBe(false);
    const unknown = await call('styles:delete-everything', {});
    expect(unknown.status).toBe(400);
    expect(!unknown.reply.ok && unknown.reply.error.code).toBe('invalid-message');
    const bad = await call('train:start', { ...tiny('x', 1), preset: 'slowcut', extra: 1 });
    expect(bad.status).toBe(400);
    expect(!bad.reply.ok && bad.reply.error.issues?.map((i) => i.path).sort()).toEqual([
      '(input)',
      'preset',
    ]);
  });

  it('looks into a folder: count, thumbnails, warnings', async () => {
    const { status, reply } = await call('folder:inspect', {
      path: path.join(SAMPLES_DIR, 'source'),
    });
    expect(status).toBe(200);
    const info = (reply.ok ? reply.value : {}) as {
      images: number;
      samples: string[];
      warnings: string[];
    };
    expect(info.images).toBe(5);
    expect(info.samples).toHaveLength(5);
    expect(info.warnings.join(' ')).toMatch(/Only 5 images/);
    expect((await call('folder:inspect', { path: '/etc' })).status).toBe(403);
  });

  it('refuses folders outside the allowed roots', async () => {
    const { status, reply } = await call('train:start', { ...tiny('x', 1), source: '/etc' });
    expect(status).toBe(403);
    expect(!reply.ok && reply.error.code).toBe('forbidden-path');
  });

  it('answers option errors before a job is made', async () => {
    const input = tiny('x', 1);
    const { status, reply } = await call('train:start', {
      ...input,
      options: { ...input.options, cropSize: 30 },
    });
    expect(status).toBe(422);
    expect(!reply.ok && reply.error.message).toMatch(/^Crop size: must be a multiple of 4/);
  });
});

describe('jobs', () => {
  it('trains a tiny style to the end, lists it and converts with it', async () => {
    const { reply } = await call('train:start', tiny('Sepia test', 3));
    expect(reply.ok).toBe(true);
    const job = (reply.ok ? reply.value.job : null) as JobSnapshot;
    const done = await finished(job.id);
    expect(done.status).toBe('completed');
    const progress = events.filter((e) => e.type === 'train' && e.jobId === job.id);
    expect(progress.some((e) => e.type === 'train' && e.event.type === 'progress')).toBe(true);

    const list = await call('styles:list', {});
    const styles = (list.reply.ok ? list.reply.value.styles : []) as {
      id: string;
      status: string;
      thumbnail: string | null;
    }[];
    const style = styles.find((s) => s.id === 'sepia-test');
    expect(style?.status).toBe('ready');
    expect(style?.thumbnail).toBeTruthy();
    const thumb = await fetch(`${base()}/files?path=${encodeURIComponent(style!.thumbnail!)}`, {
      headers: { Authorization: `Bearer ${served.token}` },
    });
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toMatch(/^image\//);

    const out = path.join(work, 'converted');
    const convert = await call('convert:start', {
      styleId: 'sepia-test',
      input: path.join(SAMPLES_DIR, 'held-out'),
      output: out,
      format: 'png',
    });
    expect(convert.reply.ok).toBe(true);
    const cjob = (convert.reply.ok ? convert.reply.value.job : null) as JobSnapshot;
    const cdone = await finished(cjob.id);
    expect(cdone.status).toBe('completed');
    const jobs = await call('jobs:list', {});
    const listed = (jobs.reply.ok ? jobs.reply.value.jobs : []) as JobSnapshot[];
    const files = listed.find((j) => j.id === cjob.id)?.convert?.files ?? [];
    expect(files.map((f) => f.status)).toEqual(['done', 'done']);
  });

  it('cancels a running job gracefully: it stops, and the style is still written', async () => {
    const { reply } = await call('train:start', tiny('Long one', 100_000));
    const job = (reply.ok ? reply.value.job : null) as JobSnapshot;
    await new Promise<void>((resolve) => {
      const check = () =>
        events.some((e) => e.type === 'train' && e.jobId === job.id && e.event.type === 'progress')
          ? resolve()
          : setTimeout(check, 100);
      check();
    });
    const cancel = await call('job:cancel', { jobId: job.id });
    expect(cancel.status).toBe(200);
    const done = await finished(job.id);
    expect(done.status).toBe('cancelled');
    const list = await call('styles:list', {});
    const styles = (list.reply.ok ? list.reply.value.styles : []) as {
      id: string;
      status: string;
    }[];
    expect(styles.find((s) => s.id === 'long-one')?.status).toBe('ready');
  });

  it('fails a job whose folder has no images, with the reason', async () => {
    const { reply } = await call('train:start', { ...tiny('Empty', 2), source: work });
    const job = (reply.ok ? reply.value.job : null) as JobSnapshot;
    const done = await finished(job.id);
    expect(done.status).toBe('failed');
    expect(done.error?.message).toMatch(/Source folder/);
  });

  it('survives the engine process dying mid-training: the job fails, the next one runs', async () => {
    const { reply } = await call('train:start', tiny('Doomed', 100_000));
    const job = (reply.ok ? reply.value.job : null) as JobSnapshot;
    await new Promise<void>((resolve) => {
      const check = () =>
        events.some((e) => e.type === 'train' && e.jobId === job.id && e.event.type === 'progress')
          ? resolve()
          : setTimeout(check, 100);
      check();
    });
    const pid = served.studio.enginePid;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    const done = await finished(job.id);
    expect(done.status).toBe('failed');
    expect(done.error?.message).toMatch(/engine process stopped unexpectedly/);
    expect(done.error?.detail).toMatch(/SIGKILL/);

    const next = await call('train:start', tiny('After the crash', 2));
    const nextJob = (next.reply.ok ? next.reply.value.job : null) as JobSnapshot;
    expect((await finished(nextJob.id)).status).toBe('completed');
    expect(served.studio.enginePid).not.toBe(pid);
  });

  it('survives the engine process dying mid-conversion: finished files stay, a rerun does the rest', async () => {
    // Six 640-px copies of a held-out photo, so a file takes long enough to kill between.
    const input = path.join(work, 'crash-in');
    const out = path.join(work, 'crash-out');
    await mkdir(input, { recursive: true });
    const photo = path.join(SAMPLES_DIR, 'held-out', 'twowings.jpg');
    for (let i = 0; i < 6; i++) {
      await sharp(photo)
        .resize(640)
        .jpeg()
        .toFile(path.join(input, `p${i}.jpg`));
    }
    const request = { styleId: 'sepia-test', input, output: out, format: 'png' };
    const first = await call('convert:start', request);
    const job = (first.reply.ok ? first.reply.value.job : null) as JobSnapshot;
    await new Promise<void>((resolve) => {
      const check = () =>
        events.some(
          (e) => e.type === 'convert-file' && e.jobId === job.id && e.file.status === 'done',
        )
          ? resolve()
          : setTimeout(check, 20);
      check();
    });
    process.kill(served.studio.enginePid!, 'SIGKILL');
    const failed = await finished(job.id);
    expect(failed.status).toBe('failed');
    expect(failed.error?.message).toMatch(/engine process stopped unexpectedly/);
    // What was finished is there, whole (written under a temporary name, then renamed).
    const kept = (await readdir(out)).filter((f) => f.endsWith('.png'));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(6);
    for (const f of kept) {
      const meta = await sharp(path.join(out, f)).metadata();
      expect([meta.format, meta.width]).toEqual(['png', 640]);
    }
    // The same conversion again skips those and converts only the rest.
    const again = await call('convert:start', request);
    const rerun = (again.reply.ok ? again.reply.value.job : null) as JobSnapshot;
    expect((await finished(rerun.id)).status).toBe('completed');
    const jobs = await call('jobs:list', {});
    const listed = (jobs.reply.ok ? jobs.reply.value.jobs : []) as JobSnapshot[];
    const files = listed.find((j) => j.id === rerun.id)?.convert?.files ?? [];
    const skipped = files.filter((f) => f.status === 'skipped').map((f) => path.basename(f.output));
    expect(skipped.sort()).toEqual([...kept].sort());
    expect(files.filter((f) => f.status === 'done')).toHaveLength(6 - kept.length);
    expect((await readdir(out)).filter((f) => f.endsWith('.png'))).toHaveLength(6);
  });

  it('resumes a stopped job from its checkpoint to the end', async () => {
    const { reply } = await call('train:start', tiny('Resumable', 12));
    const job = (reply.ok ? reply.value.job : null) as JobSnapshot;
    await new Promise<void>((resolve) => {
      const check = () =>
        events.some((e) => e.type === 'train' && e.jobId === job.id && e.event.type === 'progress')
          ? resolve()
          : setTimeout(check, 50);
      check();
    });
    await call('job:cancel', { jobId: job.id });
    const stopped = await finished(job.id);
    expect(stopped.status).toBe('cancelled');
    const stoppedAt = stopped.train?.iteration ?? 0;
    events.length = 0;
    const resumed = await call('train:resume', { jobId: job.id });
    expect(resumed.status).toBe(200);
    const done = await finished(job.id);
    expect(done.status).toBe('completed');
    const started = events.find(
      (e) => e.type === 'train' && e.jobId === job.id && e.event.type === 'started',
    );
    expect(
      started?.type === 'train' && started.event.type === 'started' && started.event.resumedFrom,
    ).toBeGreaterThan(0);
    expect(done.train?.iteration).toBe(12);
    expect(stoppedAt).toBeLessThan(12);
    const again = await call('train:resume', { jobId: job.id });
    expect(again.status).toBe(422);
  });
});
