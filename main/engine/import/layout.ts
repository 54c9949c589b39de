/**
 * Weight layouts between PyTorch and TF.js. Conv2d weights are [out, in, kh, kw] in torch and
 * [kh, kw, in, out] in TF.js; ConvTranspose2d weights are [in, out, kh, kw] in torch and
 * [kh, kw, out, in] in TF.js's conv2dTranspose. Both are the same permutation of axes.
 */

/** torch [a, b, kh, kw] → TF.js [kh, kw, b, a]. */
export function torchToTfKernel(data: Float32Array, shape: number[]): Float32Array {
  const [a, b, kh, kw] = shape;
  const out = new Float32Array(data.length);
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          out[((y * kw + x) * b + j) * a + i] = data[((i * b + j) * kh + y) * kw + x];
        }
      }
    }
  }
  return out;
}

/** TF.js [kh, kw, b, a] → torch [a, b, kh, kw]. */
export function tfToTorchKernel(data: Float32Array, tfShape: number[]): Float32Array {
  const [kh, kw, b, a] = tfShape;
  const out = new Float32Array(data.length);
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          out[((i * b + j) * kh + y) * kw + x] = data[((y * kw + x) * b + j) * a + i];
        }
      }
    }
  }
  return out;
}

/** The torch shape of a TF.js kernel shape (or a bias, unchanged). */
export function torchShapeOf(tfShape: number[]): number[] {
  if (tfShape.length !== 4) return tfShape;
  const [kh, kw, b, a] = tfShape;
  return [a, b, kh, kw];
}
