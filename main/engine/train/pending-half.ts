/**
 * A half of a training step (D's, or G and H's) whose losses are still scalars on the device.
 * Both step functions (train-step.ts for CUT, sincut-step.ts for SinCUT) build their halves
 * as one of these and read them here: `readLater` with a single `await data()` — the read every
 * backend has, webgpu included (Node has no synchronous GPU read) — or `readNow` on cpu and
 * wasm, where the values are already in memory.
 */
import * as tf from '@tensorflow/tfjs';

export interface StepHalf<L> {
  losses: L;
  /** Gradients keyed by TF.js variable name; the caller disposes them. */
  grads: tf.NamedTensorMap;
}

export interface PendingHalf<L> {
  /** Turns the scalars' values, in order, into the losses. */
  losses: (values: number[]) => L;
  scalars: tf.Scalar[];
  grads: tf.NamedTensorMap;
  /** Disposes the scalars and anything else the half kept for reading (default: the scalars). */
  dispose?: () => void;
}

function release(half: PendingHalf<unknown>): void {
  if (half.dispose) half.dispose();
  else tf.dispose(half.scalars);
}

export function readNow<L>(half: PendingHalf<L>): StepHalf<L> {
  try {
    const values = half.scalars.map((t) => t.dataSync()[0]);
    return { losses: half.losses(values), grads: half.grads };
  } catch (err) {
    tf.dispose(half.grads);
    throw err;
  } finally {
    release(half);
  }
}

export async function readLater<L>(half: PendingHalf<L>): Promise<StepHalf<L>> {
  try {
    const packed = tf.stack(half.scalars);
    try {
      const values = Array.from(await packed.data());
      return { losses: half.losses(values), grads: half.grads };
    } finally {
      packed.dispose();
    }
  } catch (err) {
    tf.dispose(half.grads);
    throw err;
  } finally {
    release(half);
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
