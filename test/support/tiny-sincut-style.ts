/**
 * A tiny SinCUT style written straight through the style writer (seeded, untrained): the
 * StyleGAN2 generator at widths 4/8 with 2 residual blocks, or CUT's ResNet generator at ngf 2
 * with 1 block. The noise strength and the biases are set non-zero, so the position-based noise
 * and the zero padding at the edges change the result (an untrained StyleGAN2 generator has
 * both at zero).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll } from 'vitest';
import { resolveSinCutOptions } from '../../shared/options';
import { initBackend } from '../../main/engine/backend';
import { StyleGan2Generator } from '../../main/engine/model/stylegan2-generator';
import { SinCutModel } from '../../main/engine/train/sincut-model';
import { saveSinCutStyle } from '../../main/engine/style/sincut-style';
import type { SinCutStyleMeta } from '../../main/style/style-json';
import { useTempDir, type TempDir } from './temp-dir';
import { UNTRAINED_SUMMARY } from './tiny-style';

/**
 * Sets G's noise strengths to 0.5 and its biases to N(0, 0.3²) draws, each bias drawn with the
 * seed `biasSeed` gives next, so the noise and the zero padding at the edges matter.
 */
export function liveNoiseAndBiases(G: StyleGan2Generator, biasSeed: () => number): void {
  for (const [name, v] of G.params) {
    if (name.endsWith('noise.weight')) v.assign(tf.tensor1d([0.5]));
    if (name.endsWith('bias')) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', biasSeed()));
  }
}

export async function saveTinySinCutStyle(
  dir: string,
  netG: 'stylegan2' | 'resnet' = 'stylegan2',
  seed = 7,
): Promise<SinCutStyleMeta> {
  // cropSize 1024 picks the reference's narrowest widths: ngf 8 gives c0 4, c1 8.
  const options =
    netG === 'stylegan2'
      ? resolveSinCutOptions({
          ngf: 8,
          ndf: 8,
          nBlocks: 2,
          cropSize: 1024,
          dPatch: 8,
          nceTaps: ['input', 'down1', 'res1'],
          projectionDim: 8,
          seed,
        })
      : resolveSinCutOptions({
          netG: 'resnet',
          ngf: 2,
          ndf: 8,
          nBlocks: 1,
          cropSize: 16,
          dPatch: 8,
          projectionDim: 8,
          seed,
        });
  const model = SinCutModel.create(options);
  try {
    if (model.G instanceof StyleGan2Generator) {
      let k = seed;
      liveNoiseAndBiases(model.G, () => ++k);
    }
    return await saveSinCutStyle(dir, {
      name: `Tiny SinCUT (${netG})`,
      model,
      training: UNTRAINED_SUMMARY,
      preview: null,
      noiseSeed: 0x5c17 + seed,
    });
  } finally {
    model.dispose();
  }
}

/**
 * Both tiny SinCUT styles (the StyleGAN2 generator and the ResNet variant), written on wasm
 * into a temporary folder for the test file before its own hooks run.
 */
export function useTinySinCutStyles(prefix: string): {
  tmp: TempDir;
  stylegan2: string;
  resnet: string;
} {
  const styles = { tmp: useTempDir(prefix), stylegan2: '', resnet: '' };
  beforeAll(async () => {
    await initBackend('wasm');
    styles.stylegan2 = styles.tmp.path('stylegan2');
    styles.resnet = styles.tmp.path('resnet');
    await saveTinySinCutStyle(styles.stylegan2, 'stylegan2');
    await saveTinySinCutStyle(styles.resnet, 'resnet');
  });
  return styles;
}
