/** Image-quality figures used by the demo and the benchmarks. */

/** PSNR in dB between two equally sized images with values in [−1, 1]. */
export function psnr(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`psnr: sizes differ (${a.length} vs ${b.length})`);
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] - b[i]) / 2; // [−1, 1] → [0, 1] scale
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}
