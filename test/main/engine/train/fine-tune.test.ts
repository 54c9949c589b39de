// Fine-tuning starts a run from a style's generator. The promises: the run's first weights are
// the style's exactly (an imported reference checkpoint included); the generator's shape comes
// from the style and a contradicting one is refused by name; a head that fits is carried over,
// one that does not starts fresh with a warning; styles that cannot be trained (CycleGAN, a
// missing folder) fail before any work with a message naming the folder; a resumed run
// resumes its checkpoint rather than going back to the style; nothing leaks.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainJob, type TrainEvent, type TrainJobSpec } from '../../../../shared/jobs';
import { initBackend } from '../../../../main/engine/backend';
import { importCheckpoint } from '../../../../main/engine/import/import-style';
import type { ParamSet } from '../../../../main/engine/model/params';
import { Rng } from '../../../../main/engine/rng';
import { CutModel } from '../../../../main/engine/train/cut-model';
import {
  adoptStyleShape,
  InitStyleError,
  seedFromStyle,
} from '../../../../main/engine/train/fine-tune';
import { disposeStyle, loadStyle } from '../../../../main/engine/style/load-style';
import { runTraining } from '../../../../main/engine/train/train-loop';
import { manifest, pthPath } from '../import/import-fixtures';
import { failure } from '../../../support/failure';

let root: string;
let source: string;
let target: string;
/** A style trained here (ngf 4, 2 blocks, with a head) and two imported ones. */
let trained: string;
let importedCut: string;
let importedCycleGan: string;

async function writeImage(file: string, width: number, height: number, seed: number) {
  const rng = new Rng(seed);
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, 60 + rng.int(140));
  await sharp(data, { raw: { width, height, channels: 3 } }).toFile(file);
}

function spec(out: string, patch: Partial<TrainJobSpec> = {}, ngf?: number): TrainJobSpec {
  return {
    source,
    target,
    out: path.join(root, out),
    options: {
      preset: 'cut',
      ...(ngf !== undefined ? { ngf, nBlocks: 2 } : {}),
      ndf: 4,
      projectionDim: 64,
      numPatches: 16,
      loadSize: 36,
      cropSize: 32,
      seed: 3,
    },
    iterations: 2,
    backend: 'wasm',
    previewEvery: 0,
    previewCount: 1,
    ...patch,
  };
}

async function train(s: TrainJobSpec, resume = false) {
  const events: TrainEvent[] = [];
  const result = await runTraining(s, { resume, onEvent: (e) => events.push(e) });
  return { result, events };
}

function started(events: TrainEvent[]) {
  return events.find((e): e is Extract<TrainEvent, { type: 'started' }> => e.type === 'started')!;
}

function warnings(events: TrainEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
}

/** Largest |a − b| over every weight two parameter sets share. */
function maxDiff(a: ParamSet, b: ParamSet): number {
  let worst = 0;
  for (const [name, v] of a) {
    const w = b.get(name)!;
    expect(w.shape).toEqual(v.shape);
    worst = Math.max(
      worst,
      tf.tidy(() => tf.max(tf.abs(tf.sub(v, w))).dataSync()[0]),
    );
  }
  return worst;
}

beforeAll(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-finetune-'));
  source = path.join(root, 'a');
  target = path.join(root, 'b');
  await fs.mkdir(source);
  await fs.mkdir(target);
  for (let i = 0; i < 3; i++) {
    await writeImage(path.join(source, `s${i}.png`), 40, 36, i);
    await writeImage(path.join(target, `t${i}.png`), 36, 44, 10 + i);
  }
  trained = (await train(spec('trained', {}, 4))).result.styleDir;
  importedCut = path.join(root, 'imported-cut');
  importedCycleGan = path.join(root, 'imported-cyclegan');
  await importCheckpoint(pthPath('cut'), { name: 'cut', out: importedCut });
  await importCheckpoint(pthPath('cyclegan'), { name: 'cyclegan', out: importedCycleGan });
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('seedFromStyle', () => {
  it('copies the generator and a fitting head exactly, leaving no tensor behind', async () => {
    const job = await adoptStyleShape(
      resolveTrainJob(spec('x', { initFrom: trained })),
      spec('x', { initFrom: trained }),
    );
    expect([job.options.ngf, job.options.nBlocks]).toEqual([4, 2]);
    const before = tf.memory().numTensors;
    const model = CutModel.create(job.options);
    const notes = await seedFromStyle(model, trained);
    const style = await loadStyle(trained);
    expect(notes).toEqual([]);
    expect(maxDiff(model.G.params, style.generator.params)).toBe(0);
    expect(maxDiff(model.H.params, style.head!.params)).toBe(0);
    disposeStyle(style);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('seeds from an imported reference checkpoint, whose missing head starts fresh', async () => {
    const s = spec('x', { initFrom: importedCut });
    const job = await adoptStyleShape(resolveTrainJob(s), s);
    const { ngf, nBlocks } = manifest.models.cut;
    expect([job.options.ngf, job.options.nBlocks]).toEqual([ngf, nBlocks]);
    const model = CutModel.create(job.options);
    const notes = await seedFromStyle(model, importedCut);
    expect(notes.join()).toMatch(/projection head starts fresh .*no projection head/);
    const style = await loadStyle(importedCut);
    expect(maxDiff(model.G.params, style.generator.params)).toBe(0);
    disposeStyle(style);
    model.dispose();
  });
});

describe('a fine-tuning run', () => {
  it('starts from the style: two steps stay near it, a fresh run does not', async () => {
    const before = tf.memory().numTensors;
    const tuned = await train(spec('tuned', { initFrom: importedCut }));
    expect(started(tuned.events).initFrom).toBe(path.resolve(importedCut));
    expect(warnings(tuned.events).join()).toMatch(/projection head starts fresh/);
    const { ngf, nBlocks } = manifest.models.cut;
    const fresh = await train(spec('fresh', {}, ngf));
    expect(started(fresh.events).initFrom).toBeNull();
    expect(tf.memory().numTensors).toBe(before);

    const origin = await loadStyle(importedCut);
    const a = await loadStyle(tuned.result.styleDir);
    const b = await loadStyle(fresh.result.styleDir);
    expect(a.meta.generator).toMatchObject({ ngf, nBlocks });
    // Two Adam steps at lr 2e-4 move a weight by at most ~4e-4; a fresh draw is far away.
    expect(maxDiff(a.generator.params, origin.generator.params)).toBeLessThan(1e-3);
    expect(maxDiff(b.generator.params, origin.generator.params)).toBeGreaterThan(0.05);
    for (const s of [origin, a, b]) disposeStyle(s);
  });

  it('resumes its own checkpoint, not the style', async () => {
    const s = spec('resumed', { initFrom: trained, iterations: 1 });
    await train(s);
    const again = await train({ ...s, iterations: 2 }, true);
    expect(started(again.events).resumedFrom).toBe(1);
    expect(started(again.events).initFrom).toBeNull();
  });

  it('refuses a width or block count that contradicts the style, naming both', async () => {
    const err = await failure(train(spec('wide', { initFrom: trained }, 8)));
    expect(err).toBeInstanceOf(InitStyleError);
    expect(err.message).toMatch(/ngf 4, the run asks for 8\. Leave ngf unset/);
    await expect(fs.access(path.join(root, 'wide'))).rejects.toThrow();
  });

  it('refuses a CycleGAN style and a missing folder before any work', async () => {
    const cycle = await failure(train(spec('cycle', { initFrom: importedCycleGan })));
    expect(cycle).toBeInstanceOf(InitStyleError);
    expect(cycle.message).toMatch(/Cannot fine-tune from .*imported-cyclegan.*cyclegan/i);
    await expect(fs.access(path.join(root, 'cycle'))).rejects.toThrow();
    const missing = await failure(train(spec('missing', { initFrom: path.join(root, 'nope') })));
    expect(missing).toBeInstanceOf(InitStyleError);
    expect(missing.message).toContain(path.join(root, 'nope'));
  });
});
