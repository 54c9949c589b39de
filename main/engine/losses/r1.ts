/**
 * The R1 gradient penalty (Mescheder et al. 2018; reference models/sincut_model.py, R1_loss):
 * ½·λ_R1 · mean over images of ‖∂ΣD(x)/∂x‖² at real images x. It sits inside the
 * discriminator's loss, so its own gradient with respect to D's weights is a second
 * derivative: the input gradient is taken with `tf.valueAndGrad` inside the outer
 * `tf.variableGrads`, and TF.js records that inner backward pass on the same tape (the
 * gradient depth stays above zero), so the outer pass differentiates through it. That holds
 * when every op of D has a gradient made of differentiable ops and no custom-gradient op is
 * on the path (a customGrad op would return its own backward as a constant): the StyleGAN2
 * discriminator is built that way. Checked against PyTorch's double backward in the parity
 * tests (test/fixtures/sincut).
 *
 * The gradients themselves are backend-independent (TF.js records them on its own tape);
 * what a backend must provide is a kernel for every op the three passes run: D's forward, its
 * input gradient (Conv2DBackpropInput, Step for |v|'s slope, Pad for Slice, Slice for Pad),
 * and the gradient of that (Conv2D and Conv2DBackpropFilter again, Mul, Sum, BatchMatMul).
 * cpu, wasm (with the engine's kernels) and webgpu all have them; on webgpu the fixture's
 * penalty matches PyTorch to 3e-9 and every D-weight gradient to 1.3e-6 of its largest value
 * (sincut-webgpu.test.ts on SwiftShader; wasm: 1.4e-6).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * @param judge the discriminator: [B, H, W, 3] → logits [B, 1]
 * @returns the penalty and the logits of `real` (for the real half of the GAN loss: one
 *   forward pass serves both, as in the reference). Call inside a scope that frees `grad`'s
 *   intermediates (a tidy, or the gradient computation's own).
 */
export function r1Penalty(
  judge: (x: tf.Tensor4D) => tf.Tensor,
  real: tf.Tensor4D,
  lambda: number,
): { penalty: tf.Scalar; logits: tf.Tensor } {
  const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => judge(x as tf.Tensor4D))(real);
  const penalty = tf.tidy(() => {
    const b = grad.shape[0];
    const perImage = tf.sum(tf.reshape(tf.square(grad), [b, -1]), 1); // [B]
    return tf.mul(tf.mean(perImage), 0.5 * lambda) as tf.Scalar;
  });
  return { penalty, logits: value };
}
