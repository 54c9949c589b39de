// The output must have exactly the input's size for any side, and the padding must be
// invisible where the input already fits.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { ResnetGenerator } from '../../../../main/engine/model/generator';
import { translateImageAsync } from '../../../../main/engine/infer/translate';
import { Rng } from '../../../../main/engine/rng';

let G: ResnetGenerator;
beforeAll(async () => {
  await initBackend('wasm');
  G = ResnetGenerator.create({ ngf: 4, nBlocks: 2 }, 0.5, new Rng(3));
});

function image(width: number, height: number) {
  const rng = new Rng(width * 1000 + height);
  const data = Float32Array.from({ length: width * height * 3 }, () => rng.uniform(-1, 1));
  return { data, width, height };
}

describe('translateImageAsync', () => {
  it.each([
    [16, 12],
    [17, 13],
    [30, 9],
  ])('%i×%i in gives the same size out, in range, without leaking tensors', async (w, h) => {
    const before = tf.memory().numTensors;
    const out = await translateImageAsync(G, image(w, h));
    expect(tf.memory().numTensors).toBe(before);
    expect([out.width, out.height, out.data.length]).toEqual([w, h, w * h * 3]);
    expect(out.data.every((v) => v >= -1 && v <= 1)).toBe(true);
  });

  it('equals the generator itself when the sides are multiples of 4', async () => {
    const img = image(16, 12);
    const direct = tf.tidy(() => G.forward(tf.tensor4d(img.data, [1, 12, 16, 3])).dataSync());
    expect(Array.from((await translateImageAsync(G, img)).data)).toEqual(Array.from(direct));
  });

  it('refuses images too small for the network, and mismatched buffers', async () => {
    await expect(translateImageAsync(G, image(6, 20))).rejects.toThrow(/at least 8×8/);
    await expect(
      translateImageAsync(G, { data: new Float32Array(5), width: 8, height: 8 }),
    ).rejects.toThrow(/expected 192 values/);
  });
});
