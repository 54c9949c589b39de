/**
 * The least-squares GAN loss (Mao et al. 2017) as the reference's GANLoss('lsgan'): the mean
 * squared distance of the discriminator's patch map to 1 (real) or 0 (fake).
 */
import * as tf from '@tensorflow/tfjs';

export function lsgan(pred: tf.Tensor, targetIsReal: boolean): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(pred, targetIsReal ? 1 : 0))));
}
