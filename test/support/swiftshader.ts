// The webgpu tests run on SwiftShader (Chromium's CPU Vulkan driver), so they need no GPU;
// where it or Dawn's binding is missing they are skipped with the reason printed.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { initBackend } from '../../main/engine/backend';
import { listGpuAdapters, useSwiftShader } from '../../main/engine/webgpu';

/** Points this process at SwiftShader; null when ready, else why the webgpu tests skip. */
export async function swiftShaderUnavailable(): Promise<string | null> {
  const icd = useSwiftShader();
  if (!icd) return 'no SwiftShader Vulkan driver (Debian: apt-get install chromium libvulkan1)';
  const adapters = await listGpuAdapters();
  if (adapters.length === 0) return `Dawn found no adapter with ${icd} (is libvulkan1 installed?)`;
  return null;
}

export async function onSwiftShader(): Promise<boolean> {
  const why = await swiftShaderUnavailable();
  if (why) {
    console.warn(`webgpu tests skipped: ${why}`);
    return false;
  }
  await initBackend('webgpu');
  return true;
}

/** Reads the largest value of a tensor the way webgpu allows, disposing it. */
export async function maxOf(t: tf.Tensor): Promise<number> {
  try {
    const m = tf.max(t);
    const v = (await m.data())[0];
    m.dispose();
    return v;
  } finally {
    t.dispose();
  }
}

/** |a − b| / max(1, |b|) (element) or / max(1, max|b|) (tensor), read asynchronously. */
export async function relErrorAsync(
  actual: tf.Tensor,
  expected: tf.Tensor,
  scale: 'element' | 'tensor' = 'element',
): Promise<number> {
  if (!tf.util.arraysEqual(actual.shape, expected.shape)) {
    throw new Error(`shape mismatch: [${actual.shape}] vs [${expected.shape}]`);
  }
  return maxOf(
    tf.tidy(() => {
      const denom = scale === 'element' ? tf.abs(expected) : tf.max(tf.abs(expected));
      return tf.div(tf.abs(tf.sub(actual, expected)), tf.maximum(denom, 1));
    }),
  );
}

/**
 * The webgpu parity tests' checks: each records its worst error per kind (printed at the end)
 * and expects it under `tol`. `near` compares two tensors and disposes both; `scalar` two
 * numbers, relative to max(1, |expected|).
 */
export function parityChecks(tol: number) {
  const worst: Record<string, number> = {};
  const check = (what: string, err: number, limit = tol, label = what) => {
    worst[what] = Math.max(worst[what] ?? 0, err);
    expect(err, label).toBeLessThan(limit);
  };
  const near = async (
    what: string,
    actual: tf.Tensor,
    expected: tf.Tensor,
    label = what,
    scale: 'element' | 'tensor' = 'element',
  ) => {
    check(what, await relErrorAsync(actual, expected, scale), tol, label);
    tf.dispose([actual, expected]);
  };
  const scalar = (what: string, actual: number, expected: number) =>
    check(what, Math.abs(actual - expected) / Math.max(1, Math.abs(expected)));
  return { worst, check, near, scalar };
}
