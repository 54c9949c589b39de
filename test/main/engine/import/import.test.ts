// An imported reference generator must translate exactly as PyTorch does (within 1e-4 on
// wasm), whichever way the checkpoint was saved: zip or legacy stream, with or without the
// DataParallel `module.` prefix, with stale instance-norm statistics; and on odd sizes after
// the app's reflect padding. The expected outputs come from make_import_fixtures.py.
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import {
  generatorFromRecognized,
  importCheckpoint,
  readGeneratorCheckpoint,
} from '../../../../main/engine/import/import-style';
import { translateImageAsync } from '../../../../main/engine/infer/translate';
import { disposeParams } from '../../../../main/engine/model/params';
import { loadStyle, loadStyleGenerator } from '../../../../main/engine/style/load-style';
import { image, INPUTS, manifest, maxAbsDiff, MODELS, pthPath } from './import-fixtures';

const TOL = 1e-4;
let root: string;

beforeAll(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-import-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('imported generators match PyTorch', () => {
  for (const model of MODELS) {
    it(`${model} (${manifest.models[model].saved})`, async () => {
      const r = await readGeneratorCheckpoint(pthPath(model));
      const want = manifest.models[model];
      expect(r.architecture).toBe(want.architecture);
      expect(r.config).toEqual({ ngf: want.ngf, nBlocks: want.nBlocks });
      const G = generatorFromRecognized(r);
      const before = tf.memory().numTensors;
      for (const input of INPUTS) {
        const x = image(`input.${input}`);
        const y = await translateImageAsync(G, x);
        const diff = maxAbsDiff(y.data, image(`${model}.out.${input}`).data);
        expect(diff, `${model} on ${input} (${x.width}×${x.height})`).toBeLessThan(TOL);
      }
      expect(tf.memory().numTensors).toBe(before);
      disposeParams(G.params);
    });
  }

  it('notes what it set aside: the prefix, stale statistics, the blur buffers', async () => {
    expect((await readGeneratorCheckpoint(pthPath('cut_module'))).notes.join('\n')).toMatch(
      /module\..*\n.*filt/s,
    );
    expect((await readGeneratorCheckpoint(pthPath('cyclegan_legacy'))).notes).toEqual([
      'ignored 3 stale instance-norm statistics',
    ]);
  });
});

describe('the imported style folder', () => {
  it('holds only G, records the architecture, and converts like the checkpoint', async () => {
    const out = path.join(root, 'cyc');
    const r = await importCheckpoint(pthPath('cyclegan'), { name: 'Monet-ish', out });
    expect(r.meta.generator).toEqual({ ngf: 3, nBlocks: 2, architecture: 'cyclegan-resnet' });
    expect(existsSync(path.join(out, 'head.json'))).toBe(false);
    const loaded = await loadStyleGenerator(out);
    expect(loaded.architecture).toBe('cyclegan-resnet');
    const y = await translateImageAsync(loaded.generator, image('input.odd'));
    expect(maxAbsDiff(y.data, image('cyclegan.out.odd').data)).toBeLessThan(TOL);
    disposeParams(loaded.generator.params);
    // Heatmaps and training need CUT's encoder: a clear refusal, not a crash later.
    await expect(loadStyle(out)).rejects.toThrow(/cyclegan-resnet generator \(imported\)/);
  });

  it('a CUT import is an ordinary style (no architecture field), loadable by loadStyle', async () => {
    const out = path.join(root, 'cut');
    const r = await importCheckpoint(pthPath('cut'), { name: 'Zebra', out, preset: 'fastcut' });
    expect(r.meta.generator).toEqual({ ngf: 4, nBlocks: 2 });
    expect(r.meta.preset).toBe('fastcut');
    const style = await loadStyle(out);
    expect(style.head).toBeNull();
    const y = await translateImageAsync(style.generator, image('input.a'));
    expect(maxAbsDiff(y.data, image('cut.out.a').data)).toBeLessThan(TOL);
    disposeParams(style.generator.params);
  });

  it('refuses a style.json naming an unknown architecture', async () => {
    const out = path.join(root, 'cut2');
    await importCheckpoint(pthPath('cut_module'), { name: 'x', out });
    const file = path.join(out, 'style.json');
    const meta = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    meta.generator = { ngf: 2, nBlocks: 1, architecture: 'unet-256' };
    await fs.writeFile(file, JSON.stringify(meta));
    await expect(loadStyleGenerator(out)).rejects.toThrow(/architecture "unet-256" is unknown/);
  });
});
