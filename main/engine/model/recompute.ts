/**
 * Segments of a network, run so that memory stays bounded during training.
 *
 * TF.js keeps, until a gradient computation ends, every intermediate of the forward pass that
 * is not inside an inner `tidy`, every tensor a kernel saved for its gradient, and every
 * intermediate gradient of the backward pass. At 256² with the paper's generator that is
 * several GiB, more than the wasm backend's 4 GiB heap. Two remedies, per segment:
 *
 * - `tidied`: the segment runs in its own `tidy`, so only its output and what its kernels
 *   saved outlive it (no extra work);
 * - `recomputed` (gradient checkpointing): the segment is one custom-gradient op that keeps
 *   only its input; its backward pass runs the segment's forward again on a fresh tape and
 *   differentiates it there, so the segment's saved tensors and intermediate gradients live
 *   only while that segment is differentiated. Costs one more forward of the segment.
 *
 * Both compute the same values and gradients as running the segment inline.
 */
import * as tf from '@tensorflow/tfjs';
import { getParam, type ParamSet } from './params';

export type Segment = (x: tf.Tensor4D) => tf.Tensor4D;

/** How a network runs its segments: inline in a tidy, or recomputed in the backward pass. */
export type SegmentMode = 'tidied' | 'recomputed';

export function runSegment(
  mode: SegmentMode,
  fn: Segment,
  weights: readonly tf.Variable[],
  x: tf.Tensor4D,
): tf.Tensor4D {
  return mode === 'recomputed' ? recomputed(fn, weights, x) : tf.tidy(() => fn(x));
}

/** A stage that reads the convs named `convs` (weight and bias each) from `params`. */
export function runStage(
  mode: SegmentMode,
  params: ParamSet,
  convs: readonly string[],
  fn: Segment,
  x: tf.Tensor4D,
): tf.Tensor4D {
  const weights = convs.flatMap((c) => [
    getParam(params, `${c}.weight`),
    getParam(params, `${c}.bias`),
  ]);
  return runSegment(mode, fn, weights, x);
}

/**
 * `fn(x)` as one op whose gradient, for x and for every weight `fn` reads, comes from running
 * `fn` again on the saved input. `weights` must list every variable `fn` uses, or those
 * variables get no gradient through this segment.
 */
export function recomputed(
  fn: Segment,
  weights: readonly tf.Variable[],
  x: tf.Tensor4D,
): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor4D;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const value = tf.tidy(() => fn(input));
    save([input]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => regrad(fn, weights, saved[0], dy),
    };
  });
  return op(x, ...weights) as tf.Tensor4D;
}

/** Gradients of Σ dy·fn(x) for x and each weight, from a fresh forward pass of fn. */
function regrad(
  fn: Segment,
  weights: readonly tf.Variable[],
  x: tf.Tensor,
  dy: tf.Tensor,
): tf.Tensor[] {
  // A gradient computation started inside another one's backward pass ends by dropping the
  // engine's active tape, which the outer computation still reads when it finishes (to free
  // its saved tensors): hand it back afterwards.
  const state = tf.engine().state;
  const outerTape = state.activeTape;
  try {
    return tf.tidy(() => {
      const grads = tf.grads((input: tf.Tensor) => fn(input as tf.Tensor4D));
      return grads([x, ...weights], dy);
    });
  } finally {
    state.activeTape = outerTape;
  }
}
