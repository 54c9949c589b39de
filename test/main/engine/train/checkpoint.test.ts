// Checkpoints must give back exactly what was saved (weights, Adam moments and steps, the
// loop's state), and no failure — a damaged file, a disk that fills mid-save — may cost the
// last good checkpoint. The model is tiny so every save and load takes milliseconds.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainOptions, type TrainOptions } from '../../../../shared/options';
import { initBackend } from '../../../../main/engine/backend';
import type { LoaderState } from '../../../../main/engine/data/dataset';
import { Rng } from '../../../../main/engine/rng';
import {
  CheckpointError,
  CheckpointStore,
  type TrainState,
} from '../../../../main/engine/train/checkpoint';
import { nodeWriter, type FileWriter } from '../../../../main/engine/tensor-file';
import { CutModel } from '../../../../main/engine/train/cut-model';
import { drawSampling, trainStepAsync } from '../../../../main/engine/train/train-step';

const options = resolveTrainOptions({
  preset: 'cut',
  ngf: 4,
  ndf: 4,
  nBlocks: 2,
  projectionDim: 8,
  numPatches: 8,
  loadSize: 32,
  cropSize: 32,
});

let root: string;
let counter = 0;

beforeAll(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-ckpt-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function freshOut(): Promise<string> {
  counter += 1;
  const dir = path.join(root, `run-${counter}`);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

/** A model after `steps` real steps, so the Adam moments and steps are not trivial. */
async function trainedModel(steps: number, opts: TrainOptions = options): Promise<CutModel> {
  const model = CutModel.create(opts);
  const rng = new Rng(3);
  for (let i = 0; i < steps; i++) {
    const [a, b] = [0, 1].map(() => tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 10 + i));
    await trainStepAsync(
      model,
      a as tf.Tensor4D,
      b as tf.Tensor4D,
      drawSampling(model, 32, 32, rng),
    );
    tf.dispose([a, b]);
  }
  return model;
}

const loader: LoaderState = {
  epoch: 1,
  step: 2,
  sizeA: 5,
  sizeB: 4,
  batchSize: 1,
  shuffle: true,
  epochRng: [1, 2, 3, 4],
  rng: [5, 6, 7, 8],
};

function stateAt(iteration: number): TrainState {
  return {
    iteration,
    epoch: 2,
    samplingRng: new Rng(iteration).state(),
    loader: { ...loader, step: iteration },
    elapsedSeconds: 12.5,
    lossHistory: [
      { iteration, D: 1, D_real: 0.5, D_fake: 0.5, G: 2, G_GAN: 1, NCE: 1, NCE_Y: 0.9 },
    ],
  };
}

/** Every tensor of the model (params and moments) as bytes, keyed by name. */
function snapshot(model: CutModel): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const nets = model.networks();
  const opts = { G: model.optG, D: model.optD, H: model.optH };
  for (const net of ['G', 'D', 'H'] as const) {
    const add = (key: string, t: tf.Tensor) => {
      const d = t.dataSync() as Float32Array;
      out.set(key, Buffer.from(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)));
    };
    for (const [n, v] of nets[net]) add(`${net}/${n}`, v);
    for (const [n, v] of opts[net].m) add(`${net}.m/${n}`, v);
    for (const [n, v] of opts[net].v) add(`${net}.v/${n}`, v);
  }
  return out;
}

function expectSameTensors(a: Map<string, Buffer>, b: Map<string, Buffer>) {
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [k, v] of a) expect(v.equals(b.get(k) as Buffer), k).toBe(true);
}

async function entries(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).sort();
}

/** Saves iterations one after another with one store, as the loop does. */
async function saveSeries(out: string, model: CutModel, iterations: number[]) {
  const store = new CheckpointStore(out);
  for (const i of iterations) await store.save(model, stateAt(i));
  return store;
}

describe('CheckpointStore', () => {
  it('round-trips weights, Adam moments and steps, and the loop state exactly', async () => {
    const out = await freshOut();
    const model = await trainedModel(2);
    const before = snapshot(model);
    const store = new CheckpointStore(out);
    const dir = await store.save(model, stateAt(7));
    expect(dir).toBe(path.join(out, 'checkpoints', 'iter-7'));
    expect(await entries(dir)).toEqual(['manifest.json', 'tensors.bin']);
    model.dispose();

    const tensorsBefore = tf.memory().numTensors;
    const loaded = await new CheckpointStore(out).loadLatest(options);
    expect(loaded).not.toBeNull();
    const { model: back, state, warnings, path: from } = loaded!;
    expect(from).toBe(dir);
    expect(warnings).toEqual([]);
    expect(state).toEqual(stateAt(7));
    expect([back.optG.step, back.optD.step, back.optH.step]).toEqual([2, 2, 2]);
    expectSameTensors(before, snapshot(back));
    back.dispose();
    // Loading leaves nothing behind once the model is gone.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('has nothing to load in a fresh folder', async () => {
    expect(await new CheckpointStore(await freshOut()).loadLatest(options)).toBeNull();
  });

  it('keeps the newest two, points latest.json at the newest and leaves no temporaries', async () => {
    const out = await freshOut();
    const model = await trainedModel(0);
    await saveSeries(out, model, [2, 4, 6]);
    model.dispose();
    const dir = path.join(out, 'checkpoints');
    expect(await entries(dir)).toEqual(['iter-4', 'iter-6', 'latest.json']);
    const pointer = JSON.parse(await fs.readFile(path.join(dir, 'latest.json'), 'utf8'));
    expect(pointer.checkpoint).toBe('iter-6');
  });

  it('passes over a truncated latest checkpoint with a warning and loads the previous one', async () => {
    const out = await freshOut();
    const model = await trainedModel(1);
    await saveSeries(out, model, [2]);
    const good = snapshot(model);
    tf.tidy(() => model.G.params.forEach((v) => v.assign(tf.add(v, 1))));
    // A second store, as after a restart: it must keep the checkpoint latest.json named.
    await new CheckpointStore(out).save(model, stateAt(4));
    model.dispose();
    const blob = path.join(out, 'checkpoints', 'iter-4', 'tensors.bin');
    const size = (await fs.stat(blob)).size;
    await fs.truncate(blob, size - 100);

    const loaded = await new CheckpointStore(out).loadLatest(options);
    expect(loaded!.state.iteration).toBe(2);
    expect(loaded!.warnings.join('\n')).toMatch(/iter-4 is unusable .*truncated.*iter-2/s);
    expectSameTensors(good, snapshot(loaded!.model));
    loaded!.model.dispose();
  });

  it('passes over a checkpoint whose data fails its checksum, or whose manifest is garbage', async () => {
    const out = await freshOut();
    const model = await trainedModel(0);
    const store = await saveSeries(out, model, [1, 2]);
    await store.save(model, stateAt(3));
    model.dispose();
    const ckpt = path.join(out, 'checkpoints');
    // iter-3: one flipped byte; iter-2: unreadable manifest. iter-1 was pruned, so nothing is left.
    const blob = path.join(ckpt, 'iter-3', 'tensors.bin');
    const bytes = await fs.readFile(blob);
    bytes[10] ^= 0xff;
    await fs.writeFile(blob, bytes);
    await fs.writeFile(path.join(ckpt, 'iter-2', 'manifest.json'), '{"format": "patch');

    const err = await new CheckpointStore(out).loadLatest(options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).code).toBe('corrupt');
    expect((err as Error).message).toMatch(/iter-3 is unusable .*checksum/);
    expect((err as Error).message).toMatch(/iter-2 is unusable .*not valid JSON/);
  });

  it('finds the newest checkpoint when latest.json is missing', async () => {
    const out = await freshOut();
    const model = await trainedModel(0);
    await saveSeries(out, model, [3, 5]);
    model.dispose();
    await fs.rm(path.join(out, 'checkpoints', 'latest.json'));
    const loaded = await new CheckpointStore(out).loadLatest(options);
    expect(loaded!.state.iteration).toBe(5);
    expect(loaded!.warnings[0]).toMatch(/latest\.json is missing/);
    loaded!.model.dispose();
  });

  it('a write error mid-save leaves the previous checkpoint intact and no partial folder', async () => {
    const out = await freshOut();
    const model = await trainedModel(1);
    await saveSeries(out, model, [2]);
    const good = snapshot(model);
    tf.tidy(() => model.G.params.forEach((v) => v.assign(tf.mul(v, 2))));

    // The disk fills after the first tensor of the blob.
    const diskFull: FileWriter = {
      async writeFile(file, chunks) {
        const handle = await fs.open(file, 'wx');
        try {
          for (const chunk of chunks) {
            await handle.writeFile(chunk);
            throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          }
        } finally {
          await handle.close();
        }
      },
    };
    const err = await new CheckpointStore(out, diskFull)
      .save(model, stateAt(4))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).code).toBe('write-failed');
    expect((err as Error).message).toMatch(/iter-4.*ENOSPC/);
    expect(await entries(path.join(out, 'checkpoints'))).toEqual(['iter-2', 'latest.json']);

    // The pointer cannot be replaced: the new folder may stay, but latest.json and iter-2 hold.
    let calls = 0;
    const pointerFails: FileWriter = {
      writeFile(file, chunks) {
        calls += 1;
        if (path.basename(file).startsWith('.latest.json')) {
          return Promise.reject(new Error('EIO: i/o error'));
        }
        return nodeWriter.writeFile(file, chunks);
      },
    };
    await expect(new CheckpointStore(out, pointerFails).save(model, stateAt(6))).rejects.toThrow(
      /EIO/,
    );
    expect(calls).toBe(3);
    model.dispose();

    const loaded = await new CheckpointStore(out).loadLatest(options);
    expect(loaded!.state.iteration).toBe(2);
    expect(loaded!.warnings).toEqual([]);
    expectSameTensors(good, snapshot(loaded!.model));
    loaded!.model.dispose();
  });

  it('refuses a checkpoint from options that change network shapes, naming them', async () => {
    const out = await freshOut();
    const model = await trainedModel(0);
    await saveSeries(out, model, [1]);
    model.dispose();
    const wider = resolveTrainOptions({ ...options, ngf: 8, nceTaps: undefined });
    const err = await new CheckpointStore(out).loadLatest(wider).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).code).toBe('incompatible');
    expect((err as Error).message).toMatch(/ngf 4 \(checkpoint\) vs 8 \(now\)/);
  });

  it('loads with other non-shape options and says what changed', async () => {
    const out = await freshOut();
    const model = await trainedModel(0);
    await saveSeries(out, model, [1]);
    model.dispose();
    const loaded = await new CheckpointStore(out).loadLatest({ ...options, lr: 1e-4 });
    expect(loaded!.warnings.join()).toMatch(/lr 0\.0002 \(checkpoint\) vs 0\.0001 \(now\)/);
    loaded!.model.dispose();
  });

  it('does not rewrite the checkpoint it just loaded, and prunes relative to it', async () => {
    const out = await freshOut();
    const model = await trainedModel(0);
    await saveSeries(out, model, [2, 4]);
    model.dispose();
    const store = new CheckpointStore(out);
    const loaded = await store.loadLatest(options);
    const manifest = path.join(out, 'checkpoints', 'iter-4', 'manifest.json');
    const before = (await fs.stat(manifest)).mtimeMs;
    await store.save(loaded!.model, stateAt(4));
    expect((await fs.stat(manifest)).mtimeMs).toBe(before);
    await store.save(loaded!.model, stateAt(6));
    loaded!.model.dispose();
    expect(await entries(path.join(out, 'checkpoints'))).toEqual([
      'iter-4',
      'iter-6',
      'latest.json',
    ]);
  });
});
