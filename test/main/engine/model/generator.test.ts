// A property of CUT's generator that the known-answer benchmark depends on: its first
// convolution is followed by an instance norm, so the output cannot depend on the input's
// global brightness or contrast (x and a·x + b, a > 0, translate identically, up to the
// norm's epsilon). Styles learn colour and texture, not absolute exposure.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { ResnetGenerator } from '../../../../main/engine/model/generator';
import { Rng } from '../../../../main/engine/rng';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('ResnetGenerator', () => {
  it('gives the same output for an input and a brighter, lower-contrast copy of it', () => {
    const G = ResnetGenerator.create({ ngf: 8, nBlocks: 2 }, 0.5, new Rng(3));
    const worst = tf.tidy(() => {
      const x = tf.randomUniform([1, 24, 28, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
      const shifted = tf.add(tf.mul(x, 0.4), 0.3) as tf.Tensor4D; // still inside [−1, 1]
      const differs = tf.max(tf.abs(tf.sub(x, shifted))).dataSync()[0];
      expect(differs).toBeGreaterThan(0.5);
      const y = G.forward(x);
      // Not a trivially constant output: it varies across the image.
      expect(tf.moments(y).variance.dataSync()[0]).toBeGreaterThan(1e-4);
      return tf.max(tf.abs(tf.sub(y, G.forward(shifted)))).dataSync()[0];
    });
    expect(worst).toBeLessThan(1e-3);
    for (const v of G.params.values()) v.dispose();
  });
});
