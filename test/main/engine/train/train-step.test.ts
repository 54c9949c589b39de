// Tensor memory is an invariant of training: fifty steps (and inference after them) must
// leave exactly the tensors they found, on the backend that runs in CI.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainOptions, type Preset } from '../../../../shared/options';
import { initBackend } from '../../../../main/engine/backend';
import { CutModel } from '../../../../main/engine/train/cut-model';
import { drawSampling, trainStepAsync } from '../../../../main/engine/train/train-step';
import { translateImageAsync } from '../../../../main/engine/infer/translate';
import { Rng } from '../../../../main/engine/rng';

beforeAll(async () => {
  await initBackend('wasm');
});

describe.each(['cut', 'fastcut'] as Preset[])('%s training steps', (preset) => {
  it('leave numTensors unchanged over 50 steps and inference, with finite losses', async () => {
    const opts = resolveTrainOptions({
      preset,
      ngf: 4,
      ndf: 4,
      nBlocks: 2,
      numPatches: 16,
      projectionDim: 32,
    });
    const model = CutModel.create(opts, 7);
    const rng = new Rng(11);
    const batch = () =>
      tf.randomUniform([1, 24, 24, 3], -1, 1, 'float32', rng.nextU32()) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) {
      const [a, b] = [batch(), batch()];
      const losses = await trainStepAsync(model, a, b, drawSampling(model, 24, 24, rng));
      tf.dispose([a, b]);
      expect(Number.isFinite(losses.G) && Number.isFinite(losses.D), `step ${i}`).toBe(true);
      expect(losses.NCE_Y === null).toBe(preset === 'fastcut');
    }
    expect(tf.memory().numTensors).toBe(before);
    const image = { data: new Float32Array(20 * 18 * 3).fill(0.25), width: 20, height: 18 };
    await translateImageAsync(model.G, image);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
