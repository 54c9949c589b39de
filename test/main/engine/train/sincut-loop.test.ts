// SinCUT training as a job: a run stopped after its checkpoint and resumed ends with exactly
// the weights of an uninterrupted run (weights, Adam moments and the sampling stream are all
// in the checkpoint, and live previews do not disturb it), and it leaves no tensor behind;
// the style it writes loads back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeTexturePng } from '../../../support/texture-png';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSinCutOptions } from '../../../../shared/options';
import { initBackend } from '../../../../main/engine/backend';
import { disposeParams } from '../../../../main/engine/model/params';
import { runSinCutTraining, type SinCutJob } from '../../../../main/engine/train/sincut-loop';
import { loadSinCutStyle } from '../../../../main/engine/style/sincut-style';

let dir: string;

const png = (name: string, w: number, h: number, seed: number) =>
  writeTexturePng(path.join(dir, name), w, h, seed);

beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(path.join(tmpdir(), 'sincut-loop-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runSinCutTraining', () => {
  it('resumes to exactly the weights of an uninterrupted run', async () => {
    const source = await png('a.png', 48, 40, 1);
    const target = await png('b.png', 40, 48, 2);
    const options = resolveSinCutOptions({
      ngf: 1,
      ndf: 1,
      nBlocks: 2,
      nceTaps: ['input', 'down1', 'res1'],
      cropSize: 16,
      dPatch: 16,
      batchSize: 2,
      projectionDim: 8,
    });
    const job = (out: string, iterations: number): SinCutJob => ({
      source,
      target,
      out: path.join(dir, out),
      options,
      iterations,
      backend: 'wasm',
      previewSide: 16,
    });
    const before = tf.memory().numTensors;
    // The uninterrupted run also makes a live preview after every step but the last (whose
    // preview is the style's): previews must not disturb the training.
    const previews: { iteration: number; paths: string[] }[] = [];
    await runSinCutTraining(
      { ...job('whole', 3), previewEvery: 1 },
      { onEvent: (e) => void (e.type === 'preview' && previews.push(e)) },
    );
    expect(previews.map((p) => p.iteration)).toEqual([1, 2]);
    for (const p of previews) {
      expect(p.paths).toHaveLength(1);
      const info = await sharp(p.paths[0]).metadata();
      expect([info.format, info.width, info.height]).toEqual(['png', 16, 14]);
    }
    await runSinCutTraining(job('split', 2));
    await expect(runSinCutTraining(job('split', 3))).rejects.toThrow(/already holds a SinCUT/);
    const resumed = await runSinCutTraining(job('split', 3), { resume: true });
    expect(resumed.iteration).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    const a = await loadSinCutStyle(path.join(dir, 'whole', 'style'));
    const b = await loadSinCutStyle(path.join(dir, 'split', 'style'));
    for (const [name, v] of a.generator.params) {
      const w = b.generator.params.get(name);
      expect(Array.from(w?.dataSync() ?? []), name).toEqual(Array.from(v.dataSync()));
    }
    expect(a.meta.kind).toBe('sincut');
    expect(a.meta.training.iterations).toBe(3);
    for (const s of [a, b]) {
      disposeParams(s.generator.params);
      disposeParams(s.head.params);
    }
  }, 240_000);
});
