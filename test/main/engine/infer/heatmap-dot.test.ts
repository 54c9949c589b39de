// The query kernel is hand-assembled wasm: it must give the plain-JS products (to float
// rounding) for every shape a session produces, and fall back where SIMD cannot apply.
import { describe, expect, it } from 'vitest';
import { createRowStore, dotRows } from '../../../../main/engine/infer/heatmap-dot';
import { Rng } from '../../../../main/engine/rng';

function filled(n: number, dim: number, kernel: 'auto' | 'js', seed: number) {
  const rng = new Rng(seed);
  const store = createRowStore(n, dim, kernel);
  for (let i = 0; i < store.rows.length; i++) store.rows[i] = rng.uniform(-1, 1);
  const v = Float32Array.from({ length: dim }, () => rng.uniform(-1, 1));
  return { store, v };
}

describe('row store products', () => {
  it.each([
    [1, 8],
    [37, 16],
    [1000, 256],
    [513, 64],
  ])('%i rows of %i: the SIMD kernel equals the JS loop', (n, dim) => {
    const { store, v } = filled(n, dim, 'auto', n + dim);
    expect(store.kernel).toBe('wasm-simd');
    const fast = new Float32Array(n);
    const plain = new Float32Array(n);
    store.dot(v, fast);
    dotRows(store.rows, dim, v, plain);
    // Exact dot products in float64, for the tolerance of both.
    for (let j = 0; j < n; j++) {
      let exact = 0;
      for (let k = 0; k < dim; k++) exact += store.rows[j * dim + k] * v[k];
      expect(Math.abs(fast[j] - exact)).toBeLessThan(1e-5 * Math.sqrt(dim));
      expect(Math.abs(plain[j] - exact)).toBeLessThan(1e-5 * Math.sqrt(dim));
    }
    // A second product with another vector: the store is reusable.
    const w = v.map((x) => -x);
    store.dot(w, fast);
    for (let j = 0; j < n; j++) expect(fast[j]).toBeCloseTo(-plain[j], 5);
  });

  it('uses plain JS where SIMD does not fit (dims not a multiple of 8) or when asked', () => {
    for (const [dim, kernel] of [
      [3, 'auto'],
      [12, 'auto'],
      [256, 'js'],
    ] as const) {
      const { store, v } = filled(20, dim, kernel, dim);
      expect(store.kernel).toBe('js');
      const out = new Float32Array(20);
      store.dot(v, out);
      const want = new Float32Array(20);
      dotRows(store.rows, dim, v, want);
      expect(Array.from(out)).toEqual(Array.from(want));
    }
  });
});
