// Tiled SinCUT translation equals the untiled one: the StyleGAN2 generator has no
// normalisation, so halos as wide as its receptive field make every tile exact, and the
// noise is a function of absolute position, so tiles see what the whole image would.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import {
  chooseSinCutTile,
  styleGan2Halo,
  styleGan2TileBytes,
  translateSinCut,
} from '../../../../main/engine/infer/sincut-tiled';
import { NOISE_SEED, positionalNoise } from '../../../../main/engine/model/positional-noise';
import { StyleGan2Generator } from '../../../../main/engine/model/stylegan2-generator';
import { Rng } from '../../../../main/engine/rng';
import { randomImage, worstDiff } from '../../../support/float-images';
import { liveNoiseAndBiases } from '../../../support/tiny-sincut-style';

beforeAll(async () => {
  await initBackend('wasm');
});

/** G with non-zero noise strength and biases, so the noise and edges matter. */
function generator(c0 = 6, c1 = 8, nBlocks = 6): StyleGan2Generator {
  const G = StyleGan2Generator.create({ c0, c1, nBlocks }, new Rng(5));
  liveNoiseAndBiases(G, () => 3);
  return G;
}

/** The untiled forward pass on the whole (even-padded) image, as translateSinCut defines it. */
function untiled(
  G: StyleGan2Generator,
  image: { data: Float32Array; width: number; height: number },
) {
  const { data, width: w, height: h } = image;
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
  const ref = whole.dataSync() as Float32Array;
  whole.dispose();
  return ref;
}

describe('translateSinCut', () => {
  it('equals the untiled forward pass, for even and odd sides, and leaves no tensor', async () => {
    const G = generator();
    for (const [w, h] of [
      [150, 118],
      [97, 61],
    ]) {
      const image = randomImage(w, h, 9);
      const before = tf.memory().numTensors;
      const tiled = await translateSinCut(G, image, { tile: 32 });
      expect(tf.memory().numTensors).toBe(before);
      expect(worstDiff(tiled.data, untiled(G, image))).toBeLessThan(1e-5);
    }
  });

  it('sizes its tiles from the memory budget: a smaller budget, smaller tiles, the same result', async () => {
    const G = generator(6, 8, 2);
    const image = randomImage(150, 118, 4);
    const ref = untiled(G, image);
    const tiles: number[] = [];
    const counts: number[] = [];
    // residentBytes 0: the budget covers this translation only, whatever the test process holds.
    for (const memoryBudgetMB of [64, 8, 3]) {
      let count = 0;
      const out = await translateSinCut(G, image, {
        memoryBudgetMB,
        residentBytes: 0,
        onTileSize: (t) => tiles.push(t),
        onTile: (_done, total) => (count = total),
      });
      counts.push(count);
      expect(worstDiff(out.data, ref)).toBeLessThan(1e-5);
    }
    console.log(`budgets 64, 8, 3 MiB → tiles ${tiles.join(', ')} px (${counts.join(', ')} tiles)`);
    expect(tiles).toHaveLength(3);
    expect(tiles[0]).toBeGreaterThanOrEqual(150); // the whole image in one tile
    expect(tiles[1]).toBeLessThan(tiles[0]);
    expect(tiles[2]).toBeLessThan(tiles[1]);
    expect(counts[0]).toBe(1);
    expect(counts[2]).toBeGreaterThan(counts[1]);
  });

  it('never lets a halo exceed its core: a budget too small for that gets the smallest such tile, and says so', async () => {
    // The end-of-training preview's case in small: the budget leaves less than any tile with
    // its halo needs. The tile used to be 4 px, each run on a 4 + 2·24-px window: 24 × 18 = 432
    // windows of 52² for a 96×72 image, 48× the untiled work. Now: 24-px cores, 4 × 3 tiles.
    const G = generator(6, 8, 2);
    expect(styleGan2Halo(2)).toBe(24);
    const image = randomImage(96, 72, 8);
    const tiles: number[] = [];
    const notes: string[] = [];
    let count = 0;
    const out = await translateSinCut(G, image, {
      memoryBudgetMB: 1,
      residentBytes: 0,
      onTileSize: (t) => tiles.push(t),
      onTile: (_done, total) => (count = total),
      onOverBudget: (m) => notes.push(m),
    });
    expect(tiles).toEqual([24]);
    expect(count).toBe(12);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/leaves 1 MiB for tiles, less than the 4 MiB of the smallest tile/);
    expect(notes[0]).toMatch(/24 px, its halo 24 px/);
    expect(worstDiff(out.data, untiled(G, image))).toBeLessThan(1e-5);
    // A budget that affords its tiles says nothing.
    await translateSinCut(G, image, {
      memoryBudgetMB: 64,
      residentBytes: 0,
      onOverBudget: (m) => notes.push(m),
    });
    expect(notes).toHaveLength(1);
  });

  it('redoes a tile that runs out of memory in smaller tiles, and keeps the smaller size', async () => {
    const G = generator(6, 8, 2);
    const image = randomImage(150, 118, 6);
    const ref = untiled(G, image);
    const forward = G.forward.bind(G);
    const windows: number[] = [];
    // A backend that cannot hold a window over 80×80 (a 64-px tile's is up to 112×112).
    G.forward = (x, n) => {
      windows.push(x.shape[1] * x.shape[2]);
      if (x.shape[1] * x.shape[2] > 80 * 80) throw new Error('failed to allocate (test)');
      return forward(x, n);
    };
    const tiles: number[] = [];
    const before = tf.memory().numTensors;
    const out = await translateSinCut(G, image, { tile: 64, onTileSize: (t) => tiles.push(t) });
    expect(tf.memory().numTensors).toBe(before);
    expect(tiles).toEqual([64, 32]);
    expect(windows[0]).toBeGreaterThan(80 * 80); // the first tile failed…
    expect(windows.filter((n) => n > 80 * 80)).toHaveLength(1); // …and only it
    expect(worstDiff(out.data, ref)).toBeLessThan(1e-5);
    // Other errors are not retried.
    G.forward = () => {
      throw new Error('broken');
    };
    await expect(translateSinCut(G, image, { tile: 64 })).rejects.toThrow('broken');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('chooses the largest tile whose estimated forward pass fits', () => {
    const cfg = { c0: 80, c1: 160, nBlocks: 6 };
    const size = { width: 1200, height: 966 };
    const halo = styleGan2Halo(cfg.nBlocks);
    const window = (t: number) =>
      Math.min(size.height, t + 2 * halo) * Math.min(size.width, t + 2 * halo);
    for (const bytes of [300e6, 1.2e9, 4e9]) {
      const t = chooseSinCutTile(cfg, size, bytes);
      expect(t % 4).toBe(0);
      expect(styleGan2TileBytes(cfg, 1, window(t))).toBeLessThanOrEqual(bytes);
      expect(styleGan2TileBytes(cfg, 1, window(t + 4))).toBeGreaterThan(bytes);
    }
    // Nothing fits: the smallest tile whose core is at least its 40-px halo, not 4 px.
    expect(chooseSinCutTile(cfg, size, 1)).toBe(40);
    expect(chooseSinCutTile(cfg, size, Infinity)).toBe(1200);
    // A GPU buffer limit bounds the largest tensor as well.
    expect(chooseSinCutTile(cfg, size, Infinity, 64 * 2 ** 20)).toBeLessThan(1200);
  });

  it('estimates at least the measured peak of a forward pass, and not far above it', async () => {
    for (const [c0, c1, side] of [
      [8, 16, 96],
      [24, 12, 64],
    ]) {
      const G = StyleGan2Generator.create({ c0, c1, nBlocks: 2 }, new Rng(1));
      const info = await tf.profile(() => {
        const y = G.forward(tf.zeros([1, side, side, 3]), tf.zeros([1, side, side, 1]));
        y.dataSync();
        y.dispose();
      });
      // The profile's peak counts what was alive before (the weights among it); not the pass.
      const measured = info.peakBytes - tf.memory().numBytes;
      const estimate = styleGan2TileBytes(G.config, side, side);
      console.log(
        `widths ${c0}/${c1}, ${side}²: forward peak ${(measured / 2 ** 20).toFixed(2)} MiB, ` +
          `estimate ${(estimate / 2 ** 20).toFixed(2)} MiB`,
      );
      expect(estimate).toBeGreaterThanOrEqual(measured);
      expect(estimate).toBeLessThan(1.25 * measured);
      for (const v of G.params.values()) v.dispose();
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
