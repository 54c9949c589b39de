/**
 * A half of a training step (D's, or G and H's) whose losses are still scalars on the device.
 * Both step functions (train-step.ts for CUT, sincut-step.ts for SinCUT) build their halves
 * as one of these, each loss under its own name, and read them here with a single
 * `await data()`: the read every backend has, webgpu included (Node has no synchronous GPU
 * read). Keying by name, not by position, means a new loss is one more entry, not a shuffle
 * of indices in two places.
 */
import * as tf from '@tensorflow/tfjs';

export interface StepHalf<L> {
  losses: L;
  /** Gradients keyed by TF.js variable name; the caller disposes them. */
  grads: tf.NamedTensorMap;
}

/**
 * Each loss by name: a scalar still on the device, or its value where the term is off this
 * run (0, or null where the contract says "not computed", like FastCUT's NCE_Y).
 */
export type PendingLosses<L> = { [K in keyof L]: tf.Scalar | L[K] };

export interface PendingHalf<L> {
  losses: PendingLosses<L>;
  grads: tf.NamedTensorMap;
}

function onDevice(v: unknown): v is tf.Scalar {
  return v instanceof tf.Tensor;
}

export async function readLater<L>(half: PendingHalf<L>): Promise<StepHalf<L>> {
  const entries = Object.entries(half.losses) as [keyof L, tf.Scalar | L[keyof L]][];
  const pending = entries.filter((e): e is [keyof L, tf.Scalar] => onDevice(e[1]));
  try {
    const values = pending.length ? await readAll(pending.map(([, t]) => t)) : [];
    const read = new Map(pending.map(([k], i) => [k, values[i]]));
    const losses = Object.fromEntries(
      entries.map(([k, v]) => [k, read.has(k) ? read.get(k) : v]),
    ) as L;
    return { losses, grads: half.grads };
  } catch (err) {
    tf.dispose(half.grads);
    throw err;
  } finally {
    tf.dispose(pending.map(([, t]) => t));
  }
}

/** The scalars' values in one read: one stacked tensor, one `await data()`. */
async function readAll(scalars: tf.Scalar[]): Promise<Float32Array | Int32Array | Uint8Array> {
  const packed = tf.stack(scalars);
  try {
    return await packed.data();
  } finally {
    packed.dispose();
  }
}

/** a + b per variable name; disposes both inputs' tensors that it replaces. */
export function accumulate(a: tf.NamedTensorMap, b: tf.NamedTensorMap): tf.NamedTensorMap {
  if (Object.keys(a).length === 0) return b;
  const out: tf.NamedTensorMap = {};
  for (const [name, g] of Object.entries(b)) {
    out[name] = a[name] ? tf.add(a[name], g) : g;
    if (a[name]) tf.dispose([a[name], g]);
  }
  return out;
}
