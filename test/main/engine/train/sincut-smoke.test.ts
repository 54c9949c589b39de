// SinCUT on the Étretat pair (painting → photo, as in the reference), downscaled (160 px wide)
// and short (300 steps, tiny networks), so it fits the test suite. The whole painting
// translated by the trained generator must keep its structure (edge-map correlation with the
// painting well above the untrained generator's) while its colour and texture statistics move
// towards the photo's (Lab means, stds and patch texture closer to the photo's than the
// painting's are; the lightness mean, the largest difference between the two, moves towards
// the photo's). The run is deterministic (wasm, one thread, seeded). The full-size run is the
// `sincut-proof` benchmark. SINCUT_SMOKE_STEPS=N runs longer (and prints what it finds).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSinCutOptions } from '../../../../shared/options';
import { initBackend } from '../../../../main/engine/backend';
import { loadSingleImage } from '../../../../main/engine/data/single-image';
import { translateSinCut } from '../../../../main/engine/infer/sincut-tiled';
import { disposeParams } from '../../../../main/engine/model/params';
import { StyleGan2Generator } from '../../../../main/engine/model/stylegan2-generator';
import { runSinCutTraining } from '../../../../main/engine/train/sincut-loop';
import { loadSinCutStyle } from '../../../../main/engine/style/sincut-style';
import { SinCutModel } from '../../../../main/engine/train/sincut-model';
import {
  edgeCorrelations,
  formatEdges,
  formatStats,
  labStats,
  statsDistance,
} from '../../../support/image-stats';

const DATA = path.resolve(__dirname, '../../../../../shared/datasets/single-image-monet-etretat');
const STEPS = Number(process.env.SINCUT_SMOKE_STEPS ?? 300);
const LR = Number(process.env.SINCUT_SMOKE_LR ?? 2e-3);
let dir: string;

beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(path.join(tmpdir(), 'sincut-smoke-'));
  await sharp(path.join(DATA, 'monet.jpg'))
    .resize(160)
    .png()
    .toFile(path.join(dir, 'painting.png'));
  await sharp(path.join(DATA, 'etretat-normandy-france.jpg'))
    .resize(160)
    .png()
    .toFile(path.join(dir, 'photo.png'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SinCUT on the Étretat pair (downscaled, short)', () => {
  it(
    'keeps the painting’s structure while its colour and texture move towards the photo’s',
    async () => {
      const options = resolveSinCutOptions({
        ngf: 1,
        ndf: 2,
        nBlocks: 2,
        nceTaps: ['input', 'down1', 'res1'],
        cropSize: 32,
        dPatch: 32,
        batchSize: 4,
        lr: LR,
        seed: 1,
      });
      const painting = await loadSingleImage(path.join(dir, 'painting.png'));
      const photo = await loadSingleImage(path.join(dir, 'photo.png'));
      const src = { data: painting.rgb, width: painting.width, height: painting.height };
      // The same seed's untrained generator, for comparison.
      const initial = SinCutModel.create(options);
      const out0 = await translateSinCut(initial.G as StyleGan2Generator, src, { tile: 64 });
      initial.dispose();
      const before = tf.memory().numTensors;
      const started = performance.now();
      const result = await runSinCutTraining(
        {
          source: path.join(dir, 'painting.png'),
          target: path.join(dir, 'photo.png'),
          out: path.join(dir, 'run'),
          options,
          iterations: STEPS,
          backend: 'wasm',
          previewSide: 64,
        },
        {},
      );
      const trainSeconds = (performance.now() - started) / 1000;
      expect(tf.memory().numTensors).toBe(before);
      const style = await loadSinCutStyle(result.styleDir);
      const G = style.generator as StyleGan2Generator;
      const out = await translateSinCut(G, src, { tile: 64, noiseSeed: style.meta.noiseSeed });
      disposeParams(G.params);
      disposeParams(style.head.params);

      const edgeCorr = edgeCorrelations(src, out);
      const edgeCorr0 = edgeCorrelations(src, out0);
      const s0 = labStats(out0);
      const sSrc = labStats(src);
      const sOut = labStats(out);
      const sPhoto = labStats({ data: photo.rgb, width: photo.width, height: photo.height });
      const before_ = statsDistance(sSrc, sPhoto);
      const untrained = statsDistance(s0, sPhoto);
      const after = statsDistance(sOut, sPhoto);
      console.log(
        [
          `SinCUT smoke: ${STEPS} steps (lr ${LR}) in ${trainSeconds.toFixed(1)} s (${result.backend.name}); final losses ${JSON.stringify(result.losses)}`,
          `  painting   ${formatStats(sSrc)}`,
          `  translated ${formatStats(sOut)}`,
          `  photo      ${formatStats(sPhoto)}`,
          `  untrained  ${formatStats(s0)}`,
          `  edge-map correlation with the painting: untrained ${formatEdges(edgeCorr0)} → trained ${formatEdges(edgeCorr)}`,
          `  statistics distance to the photo: painting ${before_.toFixed(1)}, untrained ${untrained.toFixed(1)}, translated ${after.toFixed(1)}`,
        ].join('\n'),
      );
      // Structure: the finest edges change with the texture by design; the shapes stay.
      expect(edgeCorr[0]).toBeGreaterThan(edgeCorr0[0] + 0.15);
      expect(edgeCorr[1]).toBeGreaterThan(0.6);
      // Colour and texture: closer to the photo than the painting is, by a clear margin (the
      // untrained generator's output is farther than the painting), and the lightness mean,
      // 26 L* apart between the two, has moved towards the photo's.
      expect(after).toBeLessThan(before_ - 5);
      expect(Math.abs(sOut.mean[0] - sPhoto.mean[0])).toBeLessThan(
        Math.abs(sSrc.mean[0] - sPhoto.mean[0]) - 3,
      );
    },
    Math.max(300_000, STEPS * 6_000),
  );
});
