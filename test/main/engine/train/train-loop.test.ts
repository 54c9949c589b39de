// The training job end to end on tiny networks and 32-pixel crops. The central promise is
// that stopping and resuming changes nothing: a run resumed from a checkpoint — after a
// normal stop, a cancel, or a fall-back past a damaged checkpoint — ends with weights and
// Adam moments identical to an uninterrupted run's (compared through the checkpoint blob's
// sha256). One uninterrupted reference run serves all of those comparisons.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainJob, type TrainEvent, type TrainJobSpec } from '../../../../shared/jobs';
import { OptionsError, resolveTrainOptions } from '../../../../shared/options';
import { initBackend } from '../../../../main/engine/backend';
import { disposeParams } from '../../../../main/engine/model/params';
import { Rng } from '../../../../main/engine/rng';
import { CheckpointError } from '../../../../main/engine/train/checkpoint';
import { loadStyle } from '../../../../main/engine/style/load-style';
import {
  runTraining,
  scheduledLr,
  totalIterations,
  type RunOptions,
  type TrainResult,
} from '../../../../main/engine/train/train-loop';
import { TrainJobError } from '../../../../main/engine/train/train-job-error';
import { failure } from '../../../support/failure';

const PHOTOS = path.resolve('../shared/datasets/photos');
/** 6 source files (one corrupt), 4 targets: an epoch is 6 steps; the run crosses into epoch 2. */
const TOTAL = 8;

let root: string;
let source: string;
let target: string;
let reference: { result: TrainResult; events: TrainEvent[]; tensors: number[]; sha: string };

/** A small image: a gradient plus noise, so instance norm has something to normalise. */
async function writeImage(file: string, width: number, height: number, seed: number) {
  const rng = new Rng(seed);
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) {
    const x = (i / 3) % width;
    data[i] = Math.min(255, Math.floor((x / width) * 160 + rng.int(96)));
  }
  await sharp(data, { raw: { width, height, channels: 3 } }).toFile(file);
}

function spec(out: string, patch: Partial<TrainJobSpec> = {}): TrainJobSpec {
  return {
    source,
    target,
    out: path.join(root, out),
    options: {
      preset: 'cut',
      ngf: 4,
      ndf: 4,
      nBlocks: 2,
      // 64, not 8: with 8 units an all-dead ReLU row projects to exactly zero, where
      // l2Normalize's gradient is NaN (the reference's Normalize has the same hazard).
      projectionDim: 64,
      numPatches: 16,
      loadSize: 36,
      cropSize: 32,
      epochs: 1,
      decayEpochs: 1,
      seed: 7,
    },
    iterations: TOTAL,
    backend: 'wasm',
    checkpointEvery: 2,
    previewEvery: 4,
    previewCount: 2,
    progressEvery: 1,
    ...patch,
  };
}

/** Runs a job, collecting its events and the tensor count at every progress event. */
async function train(s: TrainJobSpec, run: RunOptions = {}) {
  const events: TrainEvent[] = [];
  const tensors: number[] = [];
  const result = await runTraining(s, {
    ...run,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'progress') tensors.push(tf.memory().numTensors);
      run.onEvent?.(e);
    },
  });
  return { result, events, tensors };
}

async function blobSha(out: string, iteration: number): Promise<string> {
  const file = path.join(root, out, 'checkpoints', `iter-${iteration}`, 'manifest.json');
  return (JSON.parse(await fs.readFile(file, 'utf8')) as { blob: { sha256: string } }).blob.sha256;
}

function ofType<T extends TrainEvent['type']>(events: TrainEvent[], type: T) {
  return events.filter((e): e is Extract<TrainEvent, { type: T }> => e.type === type);
}

beforeAll(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-train-'));
  source = path.join(root, 'photos');
  target = path.join(root, 'paintings');
  await fs.mkdir(source);
  await fs.mkdir(target);
  await writeImage(path.join(source, 'a.png'), 48, 40, 1);
  await writeImage(path.join(source, 'b.png'), 40, 56, 2);
  await writeImage(path.join(source, 'c.jpg'), 64, 64, 3);
  await fs.copyFile(path.join(PHOTOS, 'dune.jpg'), path.join(source, 'dune.jpg'));
  await fs.copyFile(path.join(PHOTOS, 'ladybird.jpg'), path.join(source, 'ladybird.jpg'));
  await fs.writeFile(path.join(source, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1]));
  await fs.writeFile(path.join(source, 'notes.txt'), 'not an image');
  for (let i = 0; i < 4; i++)
    await writeImage(path.join(target, `t${i}.png`), 44, 36 + 4 * i, 10 + i);

  const before = tf.memory().numTensors;
  const run = await train(spec('reference'));
  expect(tf.memory().numTensors).toBe(before);
  reference = { ...run, sha: await blobSha('reference', TOTAL) };
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('runTraining', () => {
  it('reports start, progress, previews, checkpoints and the end in order', () => {
    const { events, result } = reference;
    const started = ofType(events, 'started');
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      totalIterations: TOTAL,
      resumedFrom: null,
      datasetSizes: { source: 6, target: 4 },
      stepsPerEpoch: 6,
      backend: { name: 'wasm' },
    });
    const skipped = started[0].skipped.map((s) => [path.basename(s.path), s.reason]);
    expect(skipped).toContainEqual(['notes.txt', 'not-an-image']);
    // The corrupt file is met before or during training, and reported once either way.
    const broken = [
      ...skipped.filter(([p]) => p === 'broken.jpg'),
      ...ofType(events, 'skipped-file').filter((e) => path.basename(e.path) === 'broken.jpg'),
    ];
    expect(broken).toHaveLength(1);

    const progress = ofType(events, 'progress');
    expect(progress.map((p) => p.iteration)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Epoch 1 at the base rate, epoch 2 (the decay epoch) at 1 − 1/(1+1) of it.
    expect(progress.map((p) => p.epoch)).toEqual([1, 1, 1, 1, 1, 1, 2, 2]);
    expect(progress.map((p) => p.lr)).toEqual([...Array(6).fill(2e-4), 1e-4, 1e-4]);
    for (const p of progress) {
      expect(Number.isFinite(p.losses.G) && Number.isFinite(p.losses.NCE_Y ?? NaN)).toBe(true);
      expect(p.itPerSec).toBeGreaterThan(0);
    }
    expect(progress.at(-1)?.etaSeconds).toBe(0);

    expect(ofType(events, 'preview').map((e) => e.iteration)).toEqual([4, 8]);
    expect(ofType(events, 'checkpoint').map((e) => e.iteration)).toEqual([2, 4, 6, 8]);
    expect(ofType(events, 'warning')).toEqual([]);
    expect(events.at(-1)).toEqual({
      type: 'finished',
      status: 'completed',
      iteration: TOTAL,
      styleDir: path.join(root, 'reference', 'style'),
    });
    expect(result).toMatchObject({ status: 'completed', iteration: TOTAL });
  });

  it('leaves the tensor count unchanged from iteration to iteration', () => {
    expect(reference.tensors).toHaveLength(TOTAL);
    expect(new Set(reference.tensors).size).toBe(1);
  });

  it('writes previews, the last two checkpoints and a loadable style folder', async () => {
    const out = path.join(root, 'reference');
    expect((await fs.readdir(path.join(out, 'checkpoints'))).sort()).toEqual([
      'iter-6',
      'iter-8',
      'latest.json',
    ]);
    expect((await fs.readdir(path.join(out, 'previews'))).sort()).toEqual([
      'iter-4',
      'iter-8',
      'source',
    ]);
    expect((await fs.readdir(path.join(out, 'previews', 'iter-8'))).sort()).toEqual([
      '00.png',
      '01.png',
    ]);
    const { meta, generator } = await loadStyle(reference.result.styleDir);
    expect(meta).toMatchObject({
      name: 'reference',
      preset: 'cut',
      generator: { ngf: 4, nBlocks: 2 },
      training: { iterations: TOTAL, epochs: 2, status: 'completed' },
    });
    expect(meta.previews).toHaveLength(2);
    expect(meta.training.backend).toMatch(/^wasm/);
    disposeParams(generator.params);
  });

  it('resumed from a checkpoint, ends with exactly the weights of an uninterrupted run', async () => {
    const first = await train(spec('resumed', { iterations: 5 }));
    expect(first.result).toMatchObject({ status: 'completed', iteration: 5 });
    // A copy of this state for the damaged-checkpoint test below.
    await fs.cp(path.join(root, 'resumed'), path.join(root, 'damaged'), { recursive: true });

    const second = await train(spec('resumed'), { resume: true });
    expect(ofType(second.events, 'started')[0].resumedFrom).toBe(5);
    expect(ofType(second.events, 'progress').map((p) => p.iteration)).toEqual([6, 7, 8]);
    expect(second.result.iteration).toBe(TOTAL);
    expect(await blobSha('resumed', TOTAL)).toBe(reference.sha);
  });

  it('a cancel stops within one step, leaves a checkpoint, and the run resumes exactly', async () => {
    const controller = new AbortController();
    const cancelled = await train(spec('cancelled'), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'progress' && e.iteration === 3) controller.abort();
      },
    });
    expect(cancelled.result).toMatchObject({ status: 'cancelled', iteration: 3 });
    expect(cancelled.events.at(-1)).toMatchObject({ type: 'finished', status: 'cancelled' });
    expect(ofType(cancelled.events, 'checkpoint').map((e) => e.iteration)).toEqual([2, 3]);
    const { meta, generator } = await loadStyle(cancelled.result.styleDir);
    expect(meta.training).toMatchObject({ iterations: 3, status: 'cancelled' });
    disposeParams(generator.params);

    const resumed = await train(spec('cancelled'), { resume: true });
    expect(ofType(resumed.events, 'started')[0].resumedFrom).toBe(3);
    expect(await blobSha('cancelled', TOTAL)).toBe(reference.sha);
  });

  it('a resumed run keeps the same loss history as an uninterrupted one', async () => {
    // The history is thinned to every progressEvery-th step; the step a session starts with
    // must not add an entry of its own, or a run killed and resumed (the kill -9 soak) ends
    // with a checkpoint that differs from an uninterrupted run's.
    const sparse = { progressEvery: 3 };
    await train(spec('history-whole', sparse));
    const controller = new AbortController();
    await train(spec('history-resumed', sparse), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'progress' && e.iteration === 3) controller.abort();
      },
    });
    await train(spec('history-resumed', sparse), { resume: true });
    const history = async (out: string) => {
      const file = path.join(root, out, 'checkpoints', `iter-${TOTAL}`, 'manifest.json');
      return (JSON.parse(await fs.readFile(file, 'utf8')) as { state: { lossHistory: unknown } })
        .state.lossHistory;
    };
    expect(await history('history-resumed')).toEqual(await history('history-whole'));
    expect(await blobSha('history-resumed', TOTAL)).toBe(reference.sha);
  });

  it('passes over a damaged latest checkpoint with a warning and resumes from the one before', async () => {
    const blob = path.join(root, 'damaged', 'checkpoints', 'iter-5', 'tensors.bin');
    await fs.truncate(blob, 1000);
    // This time the cancel arrives from outside, between events: wherever it lands (at the
    // loop's check or while the next batch decodes), the resumed run must still match.
    const controller = new AbortController();
    const run = await train(spec('damaged'), {
      resume: true,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'progress' && e.iteration === 6) setImmediate(() => controller.abort());
      },
    });
    const warnings = ofType(run.events, 'warning').map((w) => w.message);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/iter-5 is unusable .*truncated.*previous good one, iter-4/s);
    expect(ofType(run.events, 'started')[0].resumedFrom).toBe(4);
    expect(run.result.status).toBe('cancelled');
    expect([6, 7]).toContain(run.result.iteration);

    await train(spec('damaged'), { resume: true });
    expect(await blobSha('damaged', TOTAL)).toBe(reference.sha);
  });

  it('refuses to resume with options that change the networks', async () => {
    const s = spec('reference');
    const err = await failure(
      runTraining({ ...s, options: { ...s.options, ngf: 8 } }, { resume: true }),
    );
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/ngf 4 \(checkpoint\) vs 8 \(now\)/);
  });

  it('will not start a new run over an existing one', async () => {
    const err = await failure(runTraining(spec('reference')));
    expect(err).toBeInstanceOf(TrainJobError);
    expect((err as TrainJobError).code).toBe('out-in-use');
  });

  it('says clearly when a folder is missing, empty, or holds no readable image', async () => {
    const missing = await failure(runTraining({ ...spec('x1'), source: path.join(root, 'nope') }));
    expect(missing).toBeInstanceOf(TrainJobError);
    expect((missing as TrainJobError).code).toBe('missing-folder');
    expect(missing.message).toMatch(/^Source folder \(A, the images you have\): No folder at /);

    const emptyDir = path.join(root, 'empty');
    await fs.mkdir(emptyDir);
    await fs.writeFile(path.join(emptyDir, 'readme.md'), '#');
    const empty = await failure(runTraining({ ...spec('x2'), target: emptyDir }));
    expect((empty as TrainJobError).code).toBe('no-images');
    expect(empty.message).toMatch(/^Target folder \(B, the look you want\): No images in /);

    const junk = path.join(root, 'junk');
    await fs.mkdir(junk);
    await fs.writeFile(path.join(junk, 'one.jpg'), 'not a jpeg');
    await fs.writeFile(path.join(junk, 'two.png'), Buffer.alloc(0));
    const unreadable = await failure(runTraining({ ...spec('x3'), source: junk }));
    expect((unreadable as TrainJobError).code).toBe('no-readable-images');
    expect(unreadable.message).toContain(`Source folder (A, the images you have) ${junk}: `);
    expect(unreadable.message).toMatch(/None of the 2 images could be used/);

    const bad = spec('x4');
    const options = await failure(runTraining({ ...bad, options: { ...bad.options, ngf: 0 } }));
    expect(options).toBeInstanceOf(OptionsError);
    // Nothing was written for jobs that could not start.
    const made = await fs.readdir(root);
    expect(made.filter((d) => /^x\d$/.test(d))).toEqual([]);
  });
});

describe('the schedule', () => {
  it('is the reference linear decay, held at its last value when training until stopped', () => {
    const o = resolveTrainOptions({ preset: 'fastcut', lr: 1, epochs: 2, decayEpochs: 3 });
    const lrs = [1, 2, 3, 4, 5, 6, 50].map((epoch) => scheduledLr(o, epoch));
    expect(lrs).toEqual([1, 1, 0.75, 0.5, 0.25, 0.25, 0.25]);
  });

  it('counts iterations from the schedule unless told otherwise', () => {
    const base = { source: 'a', target: 'b', out: 'o', options: { preset: 'fastcut' as const } };
    expect(totalIterations(resolveTrainJob(base), 10)).toBe((150 + 50) * 10);
    expect(totalIterations(resolveTrainJob({ ...base, iterations: 7 }), 10)).toBe(7);
    expect(totalIterations(resolveTrainJob({ ...base, untilStopped: true }), 10)).toBeNull();
  });
});
