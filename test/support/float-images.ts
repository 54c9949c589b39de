/** Seeded float images and their comparison, for tests of translations and encoders. */
import { expect } from 'vitest';
import type { RgbFloatImage } from '../../main/engine/infer/translate';
import { Rng } from '../../main/engine/rng';

/** A width×height HWC RGB image of seeded uniform values in [−1, 1]. */
export function randomImage(width: number, height: number, seed: number): RgbFloatImage {
  const rng = new Rng(seed);
  const data = Float32Array.from({ length: width * height * 3 }, () => rng.uniform(-1, 1));
  return { data, width, height };
}

/** The largest absolute difference between two arrays, which must be of one length. */
export function worstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
