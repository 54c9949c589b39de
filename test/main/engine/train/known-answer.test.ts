// Smoke version of the known-answer benchmark (test/bench/known-answer.bench.ts): training
// must learn, not just run. From ../shared/datasets/photos, brought to one brightness and
// contrast (normalisedPhoto: the generator is blind to those), five photos are the source,
// five others given a fixed sepia grade the target, and two are held out with their graded
// versions as the truth. A tiny CUT trained for 150 steps on 48-pixel crops must move
// the held-out translations towards the truth: PSNR against it above the untranslated input's.
// (Measured here: wood 12.37 → 18.72 dB, yellowflower 14.15 → 19.19 dB; asserted: +1 dB.)
// The longer run and its figures come from the benchmark.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { pixelsToFloat } from '../../../../main/engine/data/image-io';
import { psnr } from '../../../../main/engine/data/metrics';
import { translateImageAsync } from '../../../../main/engine/infer/translate';
import { disposeStyle, loadStyle } from '../../../../main/engine/style/load-style';
import { runTraining } from '../../../../main/engine/train/train-loop';
import { gradeImage, normalisedPhoto } from '../../../support/known-answer';

const PHOTOS = path.resolve('../shared/datasets/photos');
const STEPS = Number(process.env.KNOWN_ANSWER_SMOKE_STEPS) || 150;
const LOAD = 64;

let root: string;

beforeAll(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-known-answer-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** Encoded image bytes at the training scale (short side LOAD), as floats in [−1, 1]. */
async function atTrainingScale(bytes: Buffer) {
  const meta = await sharp(bytes).metadata();
  const scale = LOAD / Math.min(meta.width ?? 0, meta.height ?? 0);
  const { data, info } = await sharp(bytes)
    .removeAlpha()
    .resize(Math.round((meta.width ?? 0) * scale), Math.round((meta.height ?? 0) * scale))
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { rgb } = pixelsToFloat(
    { data, width: info.width, height: info.height, channels: info.channels as 3 | 4 },
    8,
  );
  return { data: rgb, width: info.width, height: info.height };
}

describe('training on a known answer (normalised photos → sepia)', () => {
  it(
    `moves held-out translations towards the graded truth in ${STEPS} steps`,
    { timeout: 900_000 },
    async () => {
      const files = (await fs.readdir(PHOTOS)).filter((f) => /\.jpe?g$/i.test(f)).sort();
      const [source, target, held] = [files.slice(0, 5), files.slice(5, 10), files.slice(10, 12)];
      const dirs = { a: path.join(root, 'A'), b: path.join(root, 'B') };
      await fs.mkdir(dirs.a);
      await fs.mkdir(dirs.b);
      for (const f of source) {
        await fs.writeFile(
          path.join(dirs.a, `${f}.png`),
          await normalisedPhoto(path.join(PHOTOS, f)),
        );
      }
      for (const f of target) {
        const graded = await gradeImage(await normalisedPhoto(path.join(PHOTOS, f)))
          .png()
          .toBuffer();
        await fs.writeFile(path.join(dirs.b, `${f}.png`), graded);
      }
      const result = await runTraining({
        source: dirs.a,
        target: dirs.b,
        out: path.join(root, 'style'),
        options: {
          preset: 'cut',
          ngf: 8,
          ndf: 8,
          nBlocks: 2,
          cropSize: 48,
          loadSize: LOAD,
          numPatches: 64,
          seed: 1,
        },
        iterations: STEPS,
        backend: 'wasm',
        checkpointEvery: STEPS,
        previewEvery: 0,
      });
      expect(result.status).toBe('completed');
      const style = await loadStyle(result.styleDir, { head: false });
      const rows: { name: string; p0: number; p1: number }[] = [];
      try {
        for (const f of held) {
          const photo = await normalisedPhoto(path.join(PHOTOS, f));
          const input = await atTrainingScale(photo);
          const truth = await atTrainingScale(await gradeImage(photo).png().toBuffer());
          const out = await translateImageAsync(style.generator, input);
          const [p0, p1] = [psnr(input.data, truth.data), psnr(out.data, truth.data)];
          console.info(`${f}: PSNR to the graded truth ${p0.toFixed(2)} → ${p1.toFixed(2)} dB`);
          rows.push({ name: f, p0, p1 });
        }
      } finally {
        disposeStyle(style);
      }
      for (const r of rows) expect(r.p1, r.name).toBeGreaterThan(r.p0 + 1);
    },
  );
});
