/**
 * The parity checks' arithmetic, free of Vitest so the GPU benchmark bundle shares it with the
 * tests: errors read asynchronously (the read webgpu allows), and a set of checks that keeps
 * the worst error per kind and hands each one over the tolerance to `onFail` (the tests
 * `expect`, the bundle collects a list).
 */
import * as tf from '@tensorflow/tfjs';

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

/** max|a − b| / max|b| (b's own scale): for small values such as R1's gradients. */
export async function ownScaleError(actual: tf.Tensor, expected: tf.Tensor): Promise<number> {
  const diff = await maxOf(tf.tidy(() => tf.abs(tf.sub(actual, expected))));
  return diff / Math.max(await maxOf(tf.abs(expected)), 1e-12);
}

/** Called for a check whose error is not under its limit. */
export type ParityFailure = (label: string, err: number, limit: number) => void;

/**
 * Checks that record their worst error per kind. `near` compares two tensors and disposes
 * both; `scalar` two numbers, relative to max(1, |expected|).
 */
export function parityChecks(tol: number, onFail: ParityFailure) {
  const worst: Record<string, number> = {};
  const check = (what: string, err: number, limit = tol, label = what) => {
    worst[what] = Math.max(worst[what] ?? 0, err);
    if (!(err < limit)) onFail(label, err, limit);
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

/** A failure as one line of the bundle's report. */
export function failureLine(label: string, err: number, limit: number): string {
  return `${label}: ${err.toExponential(2)} (tolerance ${limit})`;
}
