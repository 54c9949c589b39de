// TF.js's threaded wasm build is started outside TF.js's own loader (which cannot start it in
// Node), so these check what that loader would have: the pool really has the threads asked
// for, results do not depend on the count, a count change between jobs leaves nothing behind,
// and heap views follow memory that another thread grew.
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { engineThreads, initBackend } from '../../../../main/engine/backend';
import { Rng } from '../../../../main/engine/rng';
import { followHeapGrowth } from '../../../../main/engine/threads/threaded-wasm';

const before = process.env.PATCHWORK_THREADS;
afterAll(() => {
  if (before === undefined) delete process.env.PATCHWORK_THREADS;
  else process.env.PATCHWORK_THREADS = before;
});

function values(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
}

/** A forward conv and both its gradients (the engine's own kernels) on the current backend. */
function convAndGrads(): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(2 * 24 * 24 * 16, 1), [2, 24, 24, 16]);
    const w = tf.tensor4d(values(3 * 3 * 16 * 32, 2), [3, 3, 16, 32]);
    const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.conv2d(a, b, 2, 'same').square().sum();
    const y = tf.conv2d(x, w, 1, 'same');
    const [dx, dw] = tf.grads(f as (...t: tf.Tensor[]) => tf.Tensor)([x, w]);
    return [y, dx, dw].map((t) => t.dataSync() as Float32Array);
  });
}

async function runWith(threads: number): Promise<Float32Array[]> {
  process.env.PATCHWORK_THREADS = String(threads);
  const report = await initBackend('wasm');
  expect(report.threads).toBe(threads);
  expect(report.detail).toContain(threads === 1 ? '1 thread;' : `${threads} threads;`);
  expect(getThreadsCount()).toBe(threads);
  return convAndGrads();
}

describe('wasm on several threads', () => {
  it('starts the pool with the count asked for, even where cores / 2 is 1', async () => {
    await runWith(2);
    await runWith(3);
  });

  it('gives the same results on 1 and 2 threads, and switching leaks no tensor', async () => {
    const two = await runWith(2);
    const tensors = tf.memory().numTensors;
    const one = await runWith(1);
    const twoAgain = await runWith(2);
    expect(tf.memory().numTensors).toBe(tensors);
    for (let k = 0; k < two.length; k++) {
      const scale = Math.max(1, ...one[k].map(Math.abs));
      let worst = 0;
      for (let i = 0; i < one[k].length; i++) {
        worst = Math.max(worst, Math.abs(two[k][i] - one[k][i]) / scale);
      }
      expect(worst).toBeLessThan(1e-6);
      // For a given count the run repeats exactly (resume relies on it).
      expect(Array.from(twoAgain[k])).toEqual(Array.from(two[k]));
    }
  });

  it('reads the count from PATCHWORK_THREADS, auto less the spare cores', () => {
    expect(engineThreads({ PATCHWORK_THREADS: '3' })).toBe(3);
    const all = engineThreads({ PATCHWORK_THREADS: 'auto' });
    expect(all).toBeGreaterThanOrEqual(1);
    expect(engineThreads({ PATCHWORK_THREADS_SPARE: '1' })).toBe(Math.max(1, all - 1));
    expect(() => engineThreads({ PATCHWORK_THREADS: 'many' })).toThrow(/PATCHWORK_THREADS/);
  });

  it('a bad PATCHWORK_THREADS fails the backend with its message, not a fallback to cpu', async () => {
    process.env.PATCHWORK_THREADS = 'many';
    await expect(initBackend('auto')).rejects.toThrow(/PATCHWORK_THREADS must be a whole number/);
    process.env.PATCHWORK_THREADS = '1';
  });
});

it('heap views follow shared memory grown elsewhere', () => {
  const { WebAssembly: wasm } = globalThis as unknown as {
    WebAssembly: {
      Memory: new (d: { initial: number; maximum: number; shared: boolean }) => {
        buffer: ArrayBufferLike;
        grow(pages: number): number;
      };
    };
  };
  const memory = new wasm.Memory({ initial: 1, maximum: 4, shared: true });
  const module: { wasmMemory: typeof memory; [key: string]: unknown } = { wasmMemory: memory };
  module.HEAPU8 = new Uint8Array(memory.buffer);
  module.HEAPF32 = new Float32Array(memory.buffer);
  followHeapGrowth(module);
  // Another thread grows the memory: the old views still see one page.
  memory.grow(1);
  expect((module.HEAPU8 as Uint8Array).length).toBe(2 * 65536);
  expect((module.HEAPF32 as Float32Array).length).toBe(2 * 16384);
  (module.HEAPU8 as Uint8Array)[65536 + 7] = 9;
  expect(new Uint8Array(memory.buffer)[65536 + 7]).toBe(9);
});
