/**
 * Noise for the StyleGAN2 generator's noise input at inference: a standard normal per pixel
 * that is a function of the pixel's absolute position and a seed only, so a translation is
 * reproducible and tiles of one image agree where they overlap (a tile computes exactly the
 * noise the untiled image would see there). Box–Muller over two 32-bit hashes.
 */

/** The default seed of a style's inference noise. */
export const NOISE_SEED = 0x5c17;

function hash32(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ c, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15) ^ d, 0x165667b1);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Normals for rows [top, top + h) and columns [left, left + w): [h·w], row-major. */
export function positionalNoise(
  seed: number,
  top: number,
  left: number,
  h: number,
  w: number,
): Float32Array {
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u1 = (hash32(seed, top + y, left + x, 1) + 1) / 4294967297; // (0, 1)
      const u2 = hash32(seed, top + y, left + x, 2) / 4294967296;
      out[y * w + x] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
  }
  return out;
}
