// PatchNCE for a range of a minibatch's queries (what lets SinCUT's generator half run in
// chunks) equals the whole minibatch's loss on those rows, values and gradients.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { patchNceLoss, patchNceLossRows } from '../../../../main/engine/losses/patch-nce';
import { Rng } from '../../../../main/engine/rng';

beforeAll(async () => {
  await initBackend('cpu');
});

function unitRows(rng: Rng, m: number, d: number): tf.Tensor2D {
  const v = new Float32Array(m * d).map(() => rng.normal());
  return tf.tidy(() => {
    const t = tf.tensor2d(v, [m, d]);
    return tf.div(t, tf.norm(t, 2, 1, true)) as tf.Tensor2D;
  });
}

describe('patchNceLossRows', () => {
  it('equals the whole minibatch’s PatchNCE on its rows, with the same gradients', () => {
    const rng = new Rng(7);
    const q = unitRows(rng, 12, 5);
    const k = unitRows(rng, 12, 5);
    const whole = patchNceLoss(q, k, 0.07, 1);
    const gWhole = tf.grad((x) => tf.sum(patchNceLoss(x as tf.Tensor2D, k, 0.07, 1)))(q);
    const pieces: tf.Tensor1D[] = [];
    const grads: tf.Tensor[] = [];
    for (const [at, m] of [
      [0, 4],
      [4, 5],
      [9, 3],
    ]) {
      const rows = tf.slice(q, [at, 0], [m, -1]) as tf.Tensor2D;
      pieces.push(patchNceLossRows(rows, k, 0.07, at));
      grads.push(tf.grad((x) => tf.sum(patchNceLossRows(x as tf.Tensor2D, k, 0.07, at)))(rows));
    }
    const joined = tf.concat(pieces);
    const gJoined = tf.concat(grads, 0);
    expect(tf.max(tf.abs(tf.sub(joined, whole))).dataSync()[0]).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(tf.sub(gJoined, gWhole))).dataSync()[0]).toBeLessThan(1e-4);
    // The positive's column really is masked: a wrong offset changes the losses.
    const rows = tf.slice(q, [4, 0], [5, -1]) as tf.Tensor2D;
    const wrong = patchNceLossRows(rows, k, 0.07, 3);
    const right = tf.slice(whole, [4], [5]);
    expect(tf.max(tf.abs(tf.sub(wrong, right))).dataSync()[0]).toBeGreaterThan(1e-2);
  });
});
