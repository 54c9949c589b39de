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
