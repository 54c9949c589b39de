/**
 * A two-domain set with a known answer (shared/datasets/README.md): photos, and photos given
 * a fixed colour grade. The ideal translation of a held-out photo is the same grade applied
 * to it, so translation quality is measurable (PSNR against the graded truth).
 */
import sharp from 'sharp';

/**
 * The "look": a strong sepia tone with lifted blacks, as a colour matrix and an offset on
 * 0–255 values. Strong on purpose: an untranslated photo is far from it (about 13–16 dB), so
 * a translation that learned it shows clearly.
 */
const MATRIX: [[number, number, number], [number, number, number], [number, number, number]] = [
  [0.39, 0.69, 0.17],
  [0.35, 0.61, 0.15],
  [0.27, 0.48, 0.12],
];
const OFFSET = [30, 18, 8];

export function gradeImage(input: string | Buffer): sharp.Sharp {
  return sharp(input).rotate().removeAlpha().recomb(MATRIX).linear([1, 1, 1], OFFSET);
}

/**
 * A photo brought to one common brightness and contrast (luminance mean 118, standard
 * deviation 55 on 0–255; one gain and offset for all channels), as PNG bytes. CUT's generator
 * cannot see its input's global brightness or contrast (its first convolution is followed by
 * an instance norm, so x and a·x + b, a > 0, translate identically); a grade whose result
 * depends on absolute brightness, like this sepia, is learnable only up to them. On photos
 * normalised first, the known answer is one the architecture can learn.
 */
export async function normalisedPhoto(file: string): Promise<Buffer> {
  const base = sharp(file).rotate().removeAlpha();
  const { data } = await base.clone().raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  let sq = 0;
  for (let i = 0; i + 2 < data.length; i += 3) {
    const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    sum += y;
    sq += y * y;
  }
  const n = data.length / 3;
  const mean = sum / n;
  const std = Math.sqrt(Math.max(1, sq / n - mean * mean));
  const gain = 55 / std;
  return base
    .linear(gain, 118 - gain * mean)
    .png()
    .toBuffer();
}
