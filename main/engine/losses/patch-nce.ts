/**
 * The PatchNCE loss (Park et al. 2020, Sec. 3.2, Eq. 2–3; reference models/patchnce.py).
 * For each sampled patch the query q (from the translated image) should pick its key k⁺ (the
 * same position of the source) out of the other sampled positions: cross-entropy over
 * [q·k⁺, q·k⁻…]/τ with the positive at index 0. The diagonal of the negatives matrix (the
 * positive itself) is set to −10, not −∞, as the reference does.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * @param q [B·np, d] unit queries (batch-major), gradients flow
 * @param k [B·np, d] unit keys, treated as constants
 * @param groups B normally; 1 for "negatives from the whole minibatch"
 * @returns per-patch losses [B·np]
 */
export function patchNceLoss(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  tau: number,
  groups: number,
): tf.Tensor1D {
  return tf.tidy(() => {
    const [m, d] = q.shape;
    const perGroup = m / groups;
    const pos = tf.sum(tf.mul(q, k), 1, true); // [M, 1]
    const qg = tf.reshape(q, [groups, perGroup, d]);
    const kg = tf.reshape(k, [groups, perGroup, d]);
    const neg = tf.matMul(qg, kg, false, true); // [G, np, np]
    const eye = tf.eye(perGroup).reshape([1, perGroup, perGroup]);
    const masked = tf.add(tf.mul(neg, tf.sub(1, eye)), tf.mul(eye, -10)); // diagonal → −10
    const logits = tf.div(tf.concat([pos, tf.reshape(masked, [m, perGroup])], 1), tau); // [M, 1+np]
    // Cross-entropy with target 0: logsumexp(row) − row[0].
    return tf.sub(
      tf.logSumExp(logits, 1),
      tf.reshape(tf.slice(logits, [0, 0], [m, 1]), [m]),
    ) as tf.Tensor1D;
  });
}

/**
 * PatchNCE with negatives from the whole minibatch for some of its queries: rows
 * [offset, offset + m) of the minibatch's queries against all M keys. Each query's loss
 * depends only on its own row and the (constant) keys, so a minibatch's losses are these over
 * disjoint row ranges: equal to `patchNceLoss(q, k, tau, 1)` on those rows. It lets the
 * generator's half of a step run in chunks of images.
 * @param q [m, d] unit queries (rows offset… of the minibatch)
 * @param k [M, d] the whole minibatch's unit keys, treated as constants
 * @returns per-patch losses [m]
 */
export function patchNceLossRows(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  tau: number,
  offset: number,
): tf.Tensor1D {
  return tf.tidy(() => {
    const [m] = q.shape;
    const total = k.shape[0];
    const own = tf.slice(k, [offset, 0], [m, -1]);
    const pos = tf.sum(tf.mul(q, own), 1, true); // [m, 1]
    const neg = tf.matMul(q, k, false, true); // [m, M]
    // Row i's positive sits in column offset + i: there the negative is set to −10.
    const diag = tf.oneHot(tf.range(offset, offset + m, 1, 'int32'), total) as tf.Tensor2D;
    const masked = tf.add(tf.mul(neg, tf.sub(1, diag)), tf.mul(diag, -10));
    const logits = tf.div(tf.concat([pos, masked], 1), tau); // [m, 1+M]
    return tf.sub(
      tf.logSumExp(logits, 1),
      tf.reshape(tf.slice(logits, [0, 0], [m, 1]), [m]),
    ) as tf.Tensor1D;
  });
}
