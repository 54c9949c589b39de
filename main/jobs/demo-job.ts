/**
 * The demo's second half (`patchwork demo`): a trained style applied to the held-out sample
 * photos, each compared with its graded truth by PSNR, before and after. (Its first half is
 * an ordinary training job, runTrainJob.)
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decodeImage, writeImageAtomic } from '../engine/data/image-io';
import { psnr } from '../engine/data/metrics';
import { translateImageAsync } from '../engine/infer/translate';
import { loadStyle } from '../engine/style/load-style';

export interface HeldOutSpec {
  styleDir: string;
  /** The held-out photos, and their graded truths under the same names. */
  heldOut: string;
  truth: string;
  /** Where the translations go (PNG). */
  outDir: string;
}

export interface HeldOutResult {
  file: string;
  /** PSNR to the graded truth, dB: the photo as given, and translated. */
  before: number;
  after: number;
  /** The translation written. */
  target: string;
}

export async function translateHeldOut(
  spec: HeldOutSpec,
  onResult: (result: HeldOutResult) => void,
): Promise<void> {
  const { generator } = await loadStyle(spec.styleDir, { head: false });
  await fs.mkdir(spec.outDir, { recursive: true });
  for (const file of (await fs.readdir(spec.heldOut)).sort()) {
    const input = await decodeImage(path.join(spec.heldOut, file));
    const truth = await decodeImage(path.join(spec.truth, file));
    const output = await translateImageAsync(generator, {
      data: input.rgb,
      width: input.width,
      height: input.height,
    });
    const target = path.join(spec.outDir, file.replace(/\.\w+$/, '.png'));
    await writeImageAtomic(target, output.data, output.width, output.height, { format: 'png' });
    onResult({
      file,
      before: psnr(input.rgb, truth.rgb),
      after: psnr(output.data, truth.rgb),
      target,
    });
  }
}
