// The patch map must never be empty: a mean over nothing reads uninitialised memory on wasm
// and trains on garbage instead of failing.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { PatchDiscriminator } from '../../../../main/engine/model/discriminator';
import { Rng } from '../../../../main/engine/rng';
import { discriminatorOutputSide, minDiscriminatorSide } from '../../../../shared/geometry';

let D: PatchDiscriminator;
beforeAll(async () => {
  await initBackend('wasm');
  D = PatchDiscriminator.create({ ndf: 4, nLayers: 3 }, 0.02, new Rng(1));
});

describe('PatchDiscriminator', () => {
  it('gives the 70×70 PatchGAN map size the geometry predicts', () => {
    expect(discriminatorOutputSide(256, 3)).toBe(30);
    for (const side of [24, 37, 48]) {
      const out = tf.tidy(() => D.forward(tf.zeros([1, side, side, 3]) as tf.Tensor4D).shape);
      expect(out).toEqual([
        1,
        discriminatorOutputSide(side, 3),
        discriminatorOutputSide(side, 3),
        1,
      ]);
    }
  });

  it('refuses inputs that would leave no patch, naming the minimum', () => {
    expect(minDiscriminatorSide(3)).toBe(24);
    expect(() => D.forward(tf.zeros([1, 16, 40, 3]) as tf.Tensor4D)).toThrow(
      /at least 24×24, got 16×40/,
    );
  });
});
