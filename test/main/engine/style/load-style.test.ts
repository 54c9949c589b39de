// The style folder is the hand-over from training to conversion: loading it must give back a
// generator that computes bit for bit what the saved one did, and every way a folder can be
// unusable must fail with a StyleError that says which.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainingSummary } from '../../../../shared/jobs';
import { resolveTrainOptions, type NceTap } from '../../../../shared/options';
import { initBackend } from '../../../../main/engine/backend';
import { ResnetGenerator, tapChannels } from '../../../../main/engine/model/generator';
import { disposeParams } from '../../../../main/engine/model/params';
import { ProjectionHead } from '../../../../main/engine/model/projection-head';
import { Rng } from '../../../../main/engine/rng';
import { CheckpointStore } from '../../../../main/engine/train/checkpoint';
import { type FileWriter } from '../../../../main/engine/tensor-file';
import { runTraining } from '../../../../main/engine/train/train-loop';
import { disposeStyle, loadStyle } from '../../../../main/engine/style/load-style';
import {
  saveStyle,
  type RgbImage,
  type SaveStyleInput,
} from '../../../../main/engine/style/save-style';
import { StyleError } from '../../../../main/style/style-error';

const options = resolveTrainOptions({ preset: 'fastcut', ngf: 4, nBlocks: 2, cropSize: 32 });
const training: TrainingSummary = {
  iterations: 12,
  epochs: 2,
  durationSeconds: 3.5,
  finalLosses: { D: 0.5, D_real: 0.25, D_fake: 0.25, G: 3, G_GAN: 1, NCE: 2, NCE_Y: null },
  backend: 'wasm (test)',
  status: 'completed',
  datasetSizes: { source: 5, target: 4 },
};

let root: string;
let generator: ResnetGenerator;
let counter = 0;

beforeAll(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-style-'));
  generator = ResnetGenerator.create({ ngf: 4, nBlocks: 2 }, 0.02, new Rng(5));
});
afterAll(async () => {
  disposeParams(generator.params);
  await fs.rm(root, { recursive: true, force: true });
});

function image(seed: number, size = 32): RgbImage {
  const rng = new Rng(seed);
  const rgb = Float32Array.from({ length: size * size * 3 }, () => rng.uniform(-1, 1));
  return { rgb, width: size, height: size };
}

function input(g = generator): SaveStyleInput {
  return {
    name: 'Test style',
    options,
    generator: g,
    training,
    previews: [
      { source: image(1), output: image(2) },
      { source: image(3), output: image(4) },
    ],
    created: new Date('2024-05-01T12:00:00Z'),
  };
}

async function saved(): Promise<string> {
  counter += 1;
  const dir = path.join(root, `style-${counter}`);
  await saveStyle(dir, input());
  return dir;
}

function forward(g: ResnetGenerator, x: tf.Tensor4D): Float32Array {
  const y = g.forward(x);
  const data = y.dataSync() as Float32Array;
  y.dispose();
  return data;
}

async function styleError(dir: string): Promise<StyleError> {
  const err = await loadStyle(dir).then(
    (s) => {
      disposeStyle(s);
      return null;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StyleError);
  return err as StyleError;
}

async function editJson(file: string, edit: (o: Record<string, unknown>) => void) {
  const o = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  edit(o);
  await fs.writeFile(file, JSON.stringify(o));
}

describe('saveStyle / loadStyle', () => {
  it('round-trips: the loaded generator computes exactly what the saved one did', async () => {
    const dir = await saved();
    expect((await fs.readdir(dir)).sort()).toEqual([
      'generator.bin',
      'generator.json',
      'previews',
      'style.json',
      'thumbnail.png',
    ]);
    expect((await fs.readdir(path.join(dir, 'previews'))).sort()).toEqual([
      '00-output.png',
      '00-source.png',
      '01-output.png',
      '01-source.png',
    ]);
    const thumb = await sharp(path.join(dir, 'thumbnail.png')).metadata();
    expect([thumb.width, thumb.height, thumb.format]).toEqual([32, 32, 'png']);

    const tensorsBefore = tf.memory().numTensors;
    const { meta, generator: back } = await loadStyle(dir);
    expect(meta).toMatchObject({
      format: 'patchwork-style-1',
      kind: 'cut',
      name: 'Test style',
      preset: 'fastcut',
      generator: { ngf: 4, nBlocks: 2 },
      training,
      created: '2024-05-01T12:00:00.000Z',
      thumbnail: 'thumbnail.png',
    });
    expect(meta.options).toEqual(options);
    // Reference state-dict names, TF layouts.
    const index = JSON.parse(await fs.readFile(path.join(dir, 'generator.json'), 'utf8'));
    expect(index.tensors[0]).toMatchObject({ name: 'model.1.weight', shape: [7, 7, 3, 4] });

    const x = tf.randomUniform([1, 32, 40, 3], -1, 1, 'float32', 9) as tf.Tensor4D;
    const a = forward(generator, x);
    const b = forward(back, x);
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    x.dispose();
    disposeParams(back.params);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('replaces an existing style folder whole, leaving nothing beside it', async () => {
    const dir = await saved();
    const other = ResnetGenerator.create({ ngf: 4, nBlocks: 2 }, 0.02, new Rng(6));
    await saveStyle(dir, { ...input(other), name: 'Second', previews: [] });
    disposeParams(other.params);
    const { meta, generator: back } = await loadStyle(dir);
    expect(meta.name).toBe('Second');
    expect(meta.thumbnail).toBeNull();
    expect(await fs.readdir(path.join(dir, 'previews'))).toEqual([]);
    disposeParams(back.params);
    expect((await fs.readdir(root)).filter((e) => e.startsWith('.'))).toEqual([]);
  });

  it('a write error leaves the previous style as it was', async () => {
    const dir = await saved();
    const before = await fs.readFile(path.join(dir, 'generator.bin'));
    const failing: FileWriter = {
      writeFile: () => Promise.reject(new Error('ENOSPC: no space left on device')),
    };
    const err = await saveStyle(dir, input(), failing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StyleError);
    expect((err as StyleError).code).toBe('write-failed');
    expect((await fs.readFile(path.join(dir, 'generator.bin'))).equals(before)).toBe(true);
    expect((await fs.readdir(root)).filter((e) => e.startsWith('.'))).toEqual([]);
  });

  it('says when the folder is missing or is not a style', async () => {
    expect((await styleError(path.join(root, 'nope'))).code).toBe('missing-folder');
    const empty = path.join(root, 'empty');
    await fs.mkdir(empty);
    const err = await styleError(empty);
    expect(err.code).toBe('not-a-style');
    expect(err.message).toMatch(/not a Patchwork style folder \(no style\.json\)/);
  });

  it('refuses a format it does not know', async () => {
    const dir = await saved();
    await editJson(path.join(dir, 'style.json'), (o) => (o.format = 'patchwork-style-9'));
    const err = await styleError(dir);
    expect(err.code).toBe('unsupported-format');
    expect(err.message).toMatch(/"patchwork-style-9" is not one this version reads/);
  });

  it('says when the weights are missing or damaged', async () => {
    const missing = await saved();
    await fs.rm(path.join(missing, 'generator.bin'));
    expect((await styleError(missing)).code).toBe('missing-weights');

    const noIndex = await saved();
    await fs.rm(path.join(noIndex, 'generator.json'));
    expect((await styleError(noIndex)).code).toBe('missing-weights');

    const damaged = await saved();
    const file = path.join(damaged, 'generator.bin');
    const bytes = await fs.readFile(file);
    bytes[100] ^= 1;
    await fs.writeFile(file, bytes);
    const err = await styleError(damaged);
    expect(err.code).toBe('corrupt-weights');
    expect(err.message).toMatch(/checksum mismatch/);
  });

  it('says when the weights do not fit the generator the style describes', async () => {
    const dir = await saved();
    await editJson(path.join(dir, 'style.json'), (o) => (o.generator = { ngf: 8, nBlocks: 2 }));
    const err = await styleError(dir);
    expect(err.code).toBe('shape-mismatch');
    expect(err.message).toMatch(/style\.json describes ngf 8.*weights are for ngf 4/);

    await editJson(path.join(dir, 'generator.json'), (o) => (o.config = { ngf: 8, nBlocks: 2 }));
    const err2 = await styleError(dir);
    expect(err2.code).toBe('shape-mismatch');
    expect(err2.message).toMatch(/model\.1\.weight has shape \[7,7,3,4\], expected \[7,7,3,8\]/);
  });
});

// Heatmaps project encoder features through the trained H, so a style carries it; a style
// without one (older, or an imported generator) must still load, and a damaged head must
// fail as loudly as damaged generator weights.
describe('the projection head in a style', () => {
  const taps = options.nceTaps as NceTap[];
  let head: ProjectionHead;
  beforeAll(() => {
    const widths = taps.map((t) => tapChannels(t, 4));
    head = ProjectionHead.create(widths, 8, 0.02, new Rng(11));
  });
  afterAll(() => disposeParams(head.params));

  async function withHead(): Promise<string> {
    counter += 1;
    const dir = path.join(root, `style-head-${counter}`);
    await saveStyle(dir, { ...input(), head });
    return dir;
  }

  it('round-trips H with its taps, widths and dimension in style.json', async () => {
    const dir = await withHead();
    expect((await fs.readdir(dir)).sort()).toContain('head.bin');
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'style.json'), 'utf8'));
    expect(meta.head).toEqual({
      taps,
      channels: [3, 8, 16, 16, 16],
      dim: 8,
      weights: { config: 'head.json', data: 'head.bin' },
    });
    const before = tf.memory().numTensors;
    const style = await loadStyle(dir);
    expect(style.headTaps).toEqual(taps);
    expect(style.head?.tapChannels).toEqual([3, 8, 16, 16, 16]);
    expect(style.head?.dim).toBe(8);
    for (const [name, v] of head.params) {
      const back = style.head?.params.get(name);
      expect(back?.shape).toEqual(v.shape);
      expect(Array.from(back?.dataSync() ?? [])).toEqual(Array.from(v.dataSync()));
    }
    disposeStyle(style);
    expect(tf.memory().numTensors).toBe(before);

    const without = await loadStyle(dir, { head: false });
    expect(without.head).toBeNull();
    disposeStyle(without);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a style without a head still loads, with head null', async () => {
    const style = await loadStyle(await saved());
    expect(style.head).toBeNull();
    expect(style.headTaps).toEqual([]);
    disposeStyle(style);
  });

  it('refuses to save a head that does not fit the taps', async () => {
    const wrong = ProjectionHead.create([3, 8], 8, 0.02, new Rng(1));
    const err = await saveStyle(path.join(root, 'wrong-head'), { ...input(), head: wrong }).catch(
      (e: unknown) => e,
    );
    disposeParams(wrong.params);
    expect((err as StyleError).code).toBe('write-failed');
    expect((err as StyleError).message).toMatch(/do not fit the taps/);
  });

  it('missing or damaged head weights are StyleErrors', async () => {
    const noBlob = await withHead();
    await fs.rm(path.join(noBlob, 'head.bin'));
    expect((await styleError(noBlob)).code).toBe('missing-weights');

    const noIndex = await withHead();
    await fs.rm(path.join(noIndex, 'head.json'));
    const err = await styleError(noIndex);
    expect(err.code).toBe('missing-weights');
    expect(err.message).toMatch(/head\.json is missing/);

    const damaged = await withHead();
    const file = path.join(damaged, 'head.bin');
    const bytes = await fs.readFile(file);
    bytes[10] ^= 1;
    await fs.writeFile(file, bytes);
    const err2 = await styleError(damaged);
    expect(err2.code).toBe('corrupt-weights');
    expect(err2.message).toMatch(/projection head weights are unusable.*checksum/);
  });

  it('a head entry that does not fit the generator or its index is refused', async () => {
    const widths = await withHead();
    await editJson(path.join(widths, 'style.json'), (o) => {
      (o.head as { channels: number[] }).channels[1] = 9;
    });
    const err = await styleError(widths);
    expect(err.code).toBe('shape-mismatch');
    expect(err.message).toMatch(/widths \[3,9,16,16,16\] do not fit/);

    const unknownTap = await withHead();
    await editJson(path.join(unknownTap, 'style.json'), (o) => {
      (o.head as { taps: string[] }).taps[4] = 'res7';
    });
    const err2 = await styleError(unknownTap);
    expect(err2.code).toBe('not-a-style');
    expect(err2.message).toMatch(/"res7" is not a tap of a generator with 2 blocks/);

    const index = await withHead();
    await editJson(path.join(index, 'head.json'), (o) => {
      (o.config as { dim: number }).dim = 16;
    });
    expect((await styleError(index)).code).toBe('shape-mismatch');

    const shapes = await withHead();
    await editJson(path.join(shapes, 'head.json'), (o) => {
      (o.tensors as { shape: number[] }[])[0].shape = [8, 3];
    });
    const err3 = await styleError(shapes);
    expect(err3.code).toBe('shape-mismatch');
    expect(err3.message).toMatch(/mlp_0\.0\.weight has shape \[8,3\], expected \[3,8\]/);
  });
});

// Training is where H comes from: the style a run writes must hold the H it trained, exactly.
describe('a style written by training', () => {
  it('carries the trained projection head', async () => {
    const dir = path.join(root, 'training');
    for (const domain of ['a', 'b']) {
      await fs.mkdir(path.join(dir, domain), { recursive: true });
      for (let i = 0; i < 2; i++) {
        const rng = new Rng(i + (domain === 'a' ? 0 : 10));
        const px = Buffer.from(Array.from({ length: 40 * 36 * 3 }, () => rng.int(256)));
        await sharp(px, { raw: { width: 40, height: 36, channels: 3 } }).toFile(
          path.join(dir, domain, `${i}.png`),
        );
      }
    }
    const spec = {
      preset: 'fastcut' as const,
      ngf: 2,
      ndf: 2,
      nBlocks: 1,
      projectionDim: 16,
      numPatches: 8,
      loadSize: 32,
      cropSize: 32,
    };
    const result = await runTraining({
      source: path.join(dir, 'a'),
      target: path.join(dir, 'b'),
      out: path.join(dir, 'out'),
      options: spec,
      iterations: 2,
      backend: 'wasm',
      previewCount: 0,
    });
    const style = await loadStyle(result.styleDir);
    const saved = await new CheckpointStore(path.join(dir, 'out')).loadLatest(
      resolveTrainOptions(spec),
    );
    try {
      expect(style.headTaps).toEqual(['input', 'down1', 'down2', 'res1']);
      expect(style.head?.dim).toBe(16);
      const trainedH = saved?.model.H.params;
      expect(trainedH?.size).toBe(style.head?.params.size);
      for (const [name, v] of trainedH ?? []) {
        expect(Array.from(style.head?.params.get(name)?.dataSync() ?? [])).toEqual(
          Array.from(v.dataSync()),
        );
      }
    } finally {
      disposeStyle(style);
      saved?.model.dispose();
    }
  });
});
