// Tiles merged must give the whole image's moments, and stay accurate where E[x²] − E[x]²
// in float32 would not (a large mean over a small spread, as biased conv outputs can have).
import { describe, expect, it } from 'vitest';
import { ChannelMoments } from '../../../../main/engine/infer/channel-stats';
import { Rng } from '../../../../main/engine/rng';

function wholeMoments(values: Float32Array, c: number) {
  const n = values.length / c;
  const mean = new Array<number>(c).fill(0);
  const variance = new Array<number>(c).fill(0);
  values.forEach((v, i) => (mean[i % c] += v / n));
  values.forEach((v, i) => (variance[i % c] += (v - mean[i % c]) ** 2 / n));
  return { mean, variance };
}

describe('ChannelMoments', () => {
  it('merging uneven tiles gives the whole-image mean and biased variance', () => {
    const c = 3;
    const rng = new Rng(1);
    // Channel 2: mean 1000, spread 0.01 — float32 sums of squares would lose it entirely.
    const values = Float32Array.from({ length: 997 * c }, (_, i) =>
      i % c === 2 ? 1000 + 0.01 * rng.normal() : rng.uniform(-1, 1) * (i % c === 0 ? 1 : 5),
    );
    const moments = new ChannelMoments(c);
    for (const [a, b] of [
      [0, 1],
      [1, 500],
      [500, 501],
      [501, 997],
    ]) {
      moments.add(values.subarray(a * c, b * c));
    }
    const want = wholeMoments(values, c);
    expect(moments.pixels).toBe(997);
    Array.from(moments.mean()).forEach((m, k) => expect(m).toBeCloseTo(want.mean[k], 9));
    Array.from(moments.variance()).forEach((v, k) =>
      expect(Math.abs(v - want.variance[k]) / want.variance[k]).toBeLessThan(1e-9),
    );
    const norm = moments.normaliser();
    expect(norm.invStd[2]).toBeCloseTo(1 / Math.sqrt(want.variance[2] + 1e-5), 3);
  });

  it('merges tiles reduced elsewhere (ONNX Runtime hands back a tile’s mean and M2) as add does', () => {
    const c = 3;
    const rng = new Rng(4);
    const values = Float32Array.from({ length: 600 * c }, () => rng.uniform(-2, 5));
    const added = new ChannelMoments(c);
    const merged = new ChannelMoments(c);
    for (const [a, b] of [
      [0, 250],
      [250, 251],
      [251, 600],
    ]) {
      const tile = values.subarray(a * c, b * c);
      added.add(tile);
      const one = new ChannelMoments(c);
      one.add(tile);
      const n = b - a;
      merged.merge(
        n,
        one.mean(),
        Float64Array.from(one.variance(), (v) => v * n),
      );
    }
    expect(merged.pixels).toBe(600);
    Array.from(merged.mean()).forEach((m, k) => expect(m).toBeCloseTo(added.mean()[k], 12));
    Array.from(merged.variance()).forEach((v, k) => expect(v).toBeCloseTo(added.variance()[k], 12));
    expect(() => merged.merge(1, [0, 0], [0, 0])).toThrow(/expected 3 channels/);
  });

  it('has nothing to normalise with before any pixels', () => {
    expect(() => new ChannelMoments(2).normaliser()).toThrow(/no pixels/);
  });
});
