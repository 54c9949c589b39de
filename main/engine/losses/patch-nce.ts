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
