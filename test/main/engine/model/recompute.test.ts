// Recomputing stages in the backward pass (gradient checkpointing) is a memory strategy, not
// a change of math: a CUT step's losses and every gradient must be those of the kept tape.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { CutModel } from '../../../../main/engine/train/cut-model';
import {
  discriminatorGradsAsync,
  drawSampling,
  generatorGradsAsync,
  gradsByName,
} from '../../../../main/engine/train/train-step';
import { Rng } from '../../../../main/engine/rng';
import { discriminatorLayers } from '../../../../main/engine/model/discriminator';
import { generatorLayerNames } from '../../../../main/engine/model/generator';
import { resolveTrainOptions } from '../../../../shared/options';

beforeAll(async () => {
  await initBackend('wasm');
});

async function halves(model: CutModel, a: tf.Tensor4D, b: tf.Tensor4D) {
  const sampling = drawSampling(model, a.shape[1], a.shape[2], new Rng(5));
  const d = await discriminatorGradsAsync(model, a, b, sampling);
  const g = await generatorGradsAsync(model, a, b, sampling);
  return { losses: { ...d.losses, ...g.losses }, grads: { ...d.grads, ...g.grads } };
}

function biasesBeforeInstanceNorm(model: CutModel): Set<string> {
  const n = generatorLayerNames(model.opts.nBlocks);
  const g = [n.stem, n.down1, n.down2, n.up1, n.up2];
  for (let i = 0; i < model.opts.nBlocks; i++) g.push(`${n.block(i)}.1`, `${n.block(i)}.5`);
  const d = discriminatorLayers(model.D.config).filter((l) => l.norm);
  return new Set([...g.map((c) => `G:${c}.bias`), ...d.map((l) => `D:${l.name}.bias`)]);
}

describe('recomputed stages', () => {
  it('give the same CUT losses and gradients as kept ones, and leak no tensor', async () => {
    const opts = resolveTrainOptions({
      preset: 'cut',
      ngf: 4,
      ndf: 4,
      nBlocks: 2,
      numPatches: 16,
      projectionDim: 16,
      flipEquivariance: true,
    });
    const model = CutModel.create(opts, 3);
    const a = tf.randomUniform([1, 28, 36, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const b = tf.randomUniform([1, 28, 36, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
    model.segmentPolicy = 'tidied';
    const kept = await halves(model, a, b);
    const before = tf.memory().numTensors;
    model.segmentPolicy = 'recomputed';
    const again = await halves(model, a, b);
    expect(model.G.segmentMode).toBe('recomputed');
    expect(model.D.segmentMode).toBe('recomputed');

    for (const [k, v] of Object.entries(kept.losses)) {
      if (v === null) continue;
      expect(again.losses[k as keyof typeof kept.losses], k).toBeCloseTo(v, 5);
    }
    const [k, r] = [gradsByName(model, kept.grads), gradsByName(model, again.grads)];
    const zeroByMath = biasesBeforeInstanceNorm(model);
    let compared = 0;
    for (const net of ['G', 'D', 'H'] as const) {
      expect([...r[net].keys()].sort(), net).toEqual([...k[net].keys()].sort());
      for (const [name, x] of k[net]) {
        // A bias followed by an instance norm has a zero gradient: both sides are rounding
        // noise (amplified by 1/σ), nothing to compare.
        if (zeroByMath.has(`${net}:${name}`)) continue;
        const y = r[net].get(name) as tf.Tensor;
        const [scale, diff] = tf.tidy(() => [
          Math.max(1e-6, tf.max(tf.abs(x)).dataSync()[0]),
          tf.max(tf.abs(tf.sub(x, y))).dataSync()[0],
        ]);
        expect(diff / scale, `${net} ${name}`).toBeLessThan(1e-5);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(30);
    tf.dispose(Object.values(again.grads));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, ...Object.values(kept.grads)]);
    model.dispose();
  });
});
