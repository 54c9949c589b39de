// Tiled SinCUT translation equals the untiled one: the StyleGAN2 generator has no
// normalisation, so halos as wide as its receptive field make every tile exact, and the
// noise is a function of absolute position, so tiles see what the whole image would.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { translateSinCut } from '../../../../main/engine/infer/sincut-tiled';
import { NOISE_SEED, positionalNoise } from '../../../../main/engine/model/positional-noise';
import { StyleGan2Generator } from '../../../../main/engine/model/stylegan2-generator';
import { Rng } from '../../../../main/engine/rng';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('translateSinCut', () => {
  it('equals the untiled forward pass, for even and odd sides, and leaves no tensor', async () => {
    const G = StyleGan2Generator.create({ c0: 6, c1: 8, nBlocks: 6 }, new Rng(5));
    // Non-zero noise strength and biases, so the noise and edges matter.
    for (const [name, v] of G.params) {
      if (name.endsWith('noise.weight')) v.assign(tf.tensor1d([0.5]));
      if (name.endsWith('bias')) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 3));
    }
    const rng = new Rng(9);
    for (const [w, h] of [
      [150, 118],
      [97, 61],
    ]) {
      const data = new Float32Array(w * h * 3).map(() => rng.uniform(-1, 1));
      const before = tf.memory().numTensors;
      const tiled = await translateSinCut(G, { data, width: w, height: h }, { tile: 32 });
      expect(tf.memory().numTensors).toBe(before);
      const W = w + (w % 2);
      const H = h + (h % 2);
      const whole = tf.tidy(() => {
        const x = tf.tensor3d(data, [h, w, 3]);
        // Replicate the last row/column as translateSinCut does.
        const rows = H > h ? tf.concat([x, tf.slice(x, [h - 1, 0, 0], [1, w, 3])], 0) : x;
        const full = W > w ? tf.concat([rows, tf.slice(rows, [0, w - 1, 0], [H, 1, 3])], 1) : rows;
        const noise = tf.tensor4d(positionalNoise(NOISE_SEED, 0, 0, H, W), [1, H, W, 1]);
        const y = G.forward(full.reshape([1, H, W, 3]) as tf.Tensor4D, noise);
        return tf.clipByValue(tf.slice(y, [0, 0, 0, 0], [1, h, w, 3]), -1, 1);
      });
      const ref = whole.dataSync();
      whole.dispose();
      let worst = 0;
      for (let i = 0; i < ref.length; i++)
        worst = Math.max(worst, Math.abs(ref[i] - tiled.data[i]));
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('noise depends on position and seed only', () => {
    const a = positionalNoise(1, 10, 20, 4, 5);
    const b = positionalNoise(1, 12, 21, 2, 3);
    expect(b[0]).toBe(a[2 * 5 + 1]);
    const c = positionalNoise(2, 10, 20, 4, 5);
    expect(c[0]).not.toBe(a[0]);
    const many = positionalNoise(3, 0, 0, 100, 100);
    const mean = many.reduce((s, v) => s + v, 0) / many.length;
    const sd = Math.sqrt(many.reduce((s, v) => s + (v - mean) ** 2, 0) / many.length);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(sd - 1)).toBeLessThan(0.05);
  });
});
