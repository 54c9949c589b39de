/**
 * SinCUT, pause and the measured estimate through the Studio's contract, with the real engine
 * in its own Node process (as `patchwork serve` runs it) and a tiny SinCUT network on two
 * small generated images: a few steps take well under a second each on one core.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeTexturePng } from '../../support/texture-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PairSummary, StepEstimate, StudioEvent, StyleInfo } from '../../../shared/ipc';
import type { JobSnapshot } from '../../../shared/ipc-jobs';
import { ESTIMATES_FILE } from '../../../main/services/estimates';
import { JOBS_FILE } from '../../../main/services/job-store';
import { Studio } from '../../../main/services/studio/studio';
import { WorkerHost } from '../../../main/services/worker-host';
import { nodeWorkerSpawner } from '../../../main/services/worker-host-node';

let library: string;
let images: string;
let studio: Studio;
const events: StudioEvent[] = [];

/** A textured RGB (or one-channel) PNG. */
const png = (name: string, w: number, h: number, seed: number, gray = false) =>
  writeTexturePng(path.join(images, name), w, h, seed, gray);

const newHost = () => new WorkerHost(nodeWorkerSpawner(), { cancelGraceMs: 30_000 });

async function open(): Promise<Studio> {
  const s = await Studio.open({
    libraryDir: library,
    host: newHost(),
    transport: 'serve',
    version: 'test',
    samplesDir: null,
    allowedRoots: [images],
    spawnHost: newHost,
  });
  s.subscribe((e) => events.push(e));
  return s;
}

async function call<T>(channel: string, input: unknown): Promise<T> {
  const reply = await studio.handle({ channel, input });
  if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
  return reply.value as T;
}

async function refused(channel: string, input: unknown) {
  const reply = await studio.handle({ channel, input });
  if (reply.ok) throw new Error(`${channel} was accepted`);
  return reply.error;
}

/** Resolves with the job's snapshot once `when` holds for one of its events. */
function until(jobId: string, when: (job: JobSnapshot) => boolean, ms = 90_000) {
  return new Promise<JobSnapshot>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`job ${jobId}: timed out`)), ms);
    const check = async () => {
      const { jobs } = await call<{ jobs: JobSnapshot[] }>('jobs:list', {});
      const job = jobs.find((j) => j.id === jobId);
      if (job && when(job)) {
        clearTimeout(timer);
        resolve(job);
      } else setTimeout(() => void check(), 50);
    };
    void check();
  });
}

/** Four StyleGAN2 blocks (the default taps need two), widths of 2, 16-px crops, batch 2. */
const tiny = (name: string, iterations: number) => ({
  name,
  source: path.join(images, 'source.png'),
  target: path.join(images, 'target.png'),
  options: { ngf: 2, ndf: 2, nBlocks: 4, cropSize: 16, batchSize: 2 },
  iterations,
  backend: 'wasm',
  progressEvery: 1,
});

beforeAll(async () => {
  library = await mkdtemp(path.join(os.tmpdir(), 'pw-sincut-lib-'));
  images = await mkdtemp(path.join(os.tmpdir(), 'pw-sincut-img-'));
  await png('source.png', 48, 40, 1);
  await png('target.png', 40, 48, 2);
  await png('gray.png', 40, 40, 3, true);
  await png('strip.png', 160, 20, 4);
  await png('speck.png', 12, 12, 5);
  studio = await open();
});

afterAll(async () => {
  await studio.dispose();
  await rm(library, { recursive: true, force: true });
  await rm(images, { recursive: true, force: true });
});

describe('SinCUT in the studio', () => {
  it('trains a style from an image pair as a job: progress, then a ready style', async () => {
    const { job } = await call<{ job: JobSnapshot }>('train:sincut', tiny('Pair', 3));
    expect(['queued', 'running']).toContain(job.status);
    const done = await until(job.id, (j) => j.status === 'completed' || j.status === 'failed');
    expect(done.error).toBeNull();
    expect(done.status).toBe('completed');
    expect(done.train?.iteration).toBe(3);
    expect(done.train?.totalIterations).toBe(3);
    expect(done.train?.losses.map((l) => l.iteration)).toEqual([1, 2, 3]);
    expect(done.train?.backend).toMatch(/wasm/);
    // The source translated by the finished style, shown on the card.
    expect(done.train?.previews).toHaveLength(1);
    expect((await stat(done.train?.previews[0] ?? '')).isFile()).toBe(true);
    expect(done.train?.previewIteration).toBe(3);
    const { styles } = await call<{ styles: StyleInfo[] }>('styles:list', {});
    const style = styles.find((s) => s.id === 'pair');
    expect(style).toMatchObject({ status: 'ready', preset: 'sincut', iterations: 3 });
    expect(style?.thumbnail && (await stat(style.thumbnail)).isFile()).toBe(true);
    const stored = JSON.parse(await readFile(path.join(library, JOBS_FILE), 'utf8'));
    expect(stored.jobs[0].sincut).toMatchObject({ options: { variant: 'reference', ngf: 2 } });
  });

  it('pauses in place, lets a queued job run, resumes from the paused step, then stops', async () => {
    const { job } = await call<{ job: JobSnapshot }>('train:sincut', tiny('Long', 400));
    await until(job.id, (j) => (j.train?.iteration ?? 0) >= 2);
    const other = await call<{ job: JobSnapshot }>('train:sincut', tiny('Behind', 2));
    await call('train:pause', { jobId: job.id });
    const paused = await until(job.id, (j) => j.status !== 'running');
    expect(paused.status).toBe('paused');
    expect(paused.finishedAt).toBeNull();
    const at = paused.train?.iteration ?? 0;
    expect(at).toBeGreaterThanOrEqual(2);
    expect(at).toBeLessThan(400);
    // The engine was given back: the job queued behind runs while this one is paused.
    const behind = await until(other.job.id, (j) => j.status === 'completed');
    expect(behind.train?.iteration).toBe(2);
    const { styles } = await call<{ styles: StyleInfo[] }>('styles:list', {});
    expect(styles.find((s) => s.id === 'long')?.status).toBe('paused');
    expect((await refused('style:delete', { styleId: 'long', confirm: true })).code).toBe(
      'rejected',
    );

    events.length = 0;
    await call('train:resume', { jobId: job.id });
    await until(job.id, (j) => (j.train?.iteration ?? 0) >= at + 2);
    const started = events.find(
      (e) => e.type === 'train' && e.jobId === job.id && e.event.type === 'started',
    );
    expect(
      started?.type === 'train' && started.event.type === 'started' && started.event,
    ).toMatchObject({ resumedFrom: at });
    await call('job:cancel', { jobId: job.id });
    const stopped = await until(job.id, (j) => j.status !== 'running');
    expect(stopped.status).toBe('cancelled');
    const after = await call<{ styles: StyleInfo[] }>('styles:list', {});
    const style = after.styles.find((s) => s.id === 'long');
    expect(style?.status).toBe('ready');
    expect(style?.iterations).toBe(stopped.train?.iteration);
  });

  it('looks at a pair with the engine’s words: sizes, grayscale, shapes, too small', async () => {
    const pair = await call<PairSummary>('sincut:inspect', {
      source: path.join(images, 'gray.png'),
      target: path.join(images, 'strip.png'),
      cropSize: 64,
    });
    expect(pair.source).toMatchObject({ width: 40, height: 40, grayscale: true });
    expect(pair.target).toMatchObject({ width: 160, height: 20, grayscale: false });
    expect(pair.problem).toBeNull();
    const text = pair.warnings.join('\n');
    expect(text).toMatch(/Source image is 40×40 px, smaller than the 64-px training crop/);
    expect(text).toMatch(/Source image is grayscale and target image is in colour/);
    expect(text).toMatch(/very different shapes \(1\.0:1 and 8\.0:1\)/);
    const one = await call<PairSummary>('sincut:inspect', {
      source: path.join(images, 'speck.png'),
    });
    expect(one.target).toBeNull();
    expect(one.problem).toMatch(/12×12 px: too small to learn from/);
  });

  it('refuses what cannot train, naming the field', async () => {
    const folder = await refused('train:sincut', { ...tiny('X', 2), source: images });
    expect(folder).toMatchObject({ code: 'rejected' });
    expect(folder.message).toMatch(/^Images you have: .* is a folder; SinCUT takes one image/);
    const odd = await refused('train:sincut', {
      ...tiny('X', 2),
      options: { cropSize: 15 },
    });
    expect(odd.code).toBe('rejected');
    expect(odd.message).toMatch(/^Crop size: must be a multiple of 2/);
    const missing = await refused('train:sincut', { ...tiny('X', 2), target: undefined });
    expect(missing).toMatchObject({ code: 'invalid-input' });
    expect(missing.message).toBe('The look you want: needs to be filled in.');
    const setting = await refused('train:sincut', { ...tiny('X', 2), setting: 'huge' });
    expect(setting.issues?.[0].path).toBe('setting');
    const outside = await refused('train:sincut', { ...tiny('X', 2), target: '/etc/hostname' });
    expect(outside.code).toBe('forbidden-path');
  });

  it('measures a step on this machine, keeps it in the library, measures again on demand', async () => {
    const estimate = async (input: Record<string, unknown>) =>
      (await call<{ estimate: StepEstimate | null }>('train:estimate', input)).estimate;
    const ask = { preset: 'sincut', options: tiny('E', 1).options, backend: 'wasm' };
    expect(await estimate({ ...ask, cachedOnly: true })).toBeNull();
    const first = await estimate(ask);
    expect(first?.cached).toBe(false);
    expect(first?.secondsPerStep).toBeGreaterThan(0);
    expect(first?.backend).toMatch(/wasm/);
    // The seed changes no step's cost: the same measurement answers.
    const again = await estimate({
      ...ask,
      options: { ...ask.options, seed: 7 },
      cachedOnly: true,
    });
    expect(again).toMatchObject({ cached: true, secondsPerStep: first?.secondsPerStep });
    const file = JSON.parse(await readFile(path.join(library, ESTIMATES_FILE), 'utf8'));
    expect(Object.values(file.entries)).toHaveLength(1);
    const cutAsk = {
      preset: 'fastcut',
      options: { ngf: 4, ndf: 4, nBlocks: 2, loadSize: 36, cropSize: 32, numPatches: 32 },
      backend: 'wasm',
    };
    const cut = await estimate(cutAsk);
    expect(cut?.secondsPerStep).toBeGreaterThan(0);
    const fresh = await estimate({ ...cutAsk, remeasure: true });
    expect(fresh?.cached).toBe(false);
    expect(fresh?.measuredAt).not.toBe(cut?.measuredAt);
    console.log(
      `step measured: sincut tiny ${first?.secondsPerStep.toFixed(3)} s, fastcut tiny ` +
        `${cut?.secondsPerStep.toFixed(3)} s then ${fresh?.secondsPerStep.toFixed(3)} s (${cut?.backend})`,
    );
  });
});
