/**
 * The non-saturating GAN loss (Goodfellow et al. 2014; the reference's GANLoss
 * 'nonsaturating'): softplus(−D(x)) for images that should look real, softplus(D(x)) for
 * fakes, averaged per image and then over the batch. The discriminator outputs logits.
 */
import * as tf from '@tensorflow/tfjs';

export function nonSaturating(logits: tf.Tensor, targetIsReal: boolean): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.softplus(targetIsReal ? tf.neg(logits) : logits)));
}
