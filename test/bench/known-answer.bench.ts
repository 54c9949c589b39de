/**
 * Bench case `known-answer`: evidence that training learns a look, on a set whose ideal
 * translation is known (test/support/known-answer.ts). The 12 photos in
 * ../shared/datasets/photos are split by name: the first 5 are the source domain, the next 5,
 * given the fixed sepia grade (`gradeImage`), the target domain, and the last 2 are held out
 * (never seen in training) with their graded versions as the truth. Every photo is first
 * brought to one brightness and contrast (`normalisedPhoto`: the generator cannot see those).
 *
 * A small CUT trains on them through `runTraining` (data loading included), then each
 * held-out photo is translated at the training scale and at full size and compared with its
 * truth: PSNR(input, truth)
 * (doing nothing) against PSNR(translation, truth), and the per-channel mean and standard
 * deviation (0–255) of input, translation and truth. A translation that learned the grade
 * moves the PSNR well above the do-nothing figure and the colour statistics towards the
 * truth's; the structure the GAN does not preserve perfectly caps the PSNR.
 *
 * Full: 3000 steps; `--quick`: 300 (a trend, not the result); the environment variable
 * KNOWN_ANSWER_STEPS sets another count. The learning rate is constant for
 * the first 60 % of the steps, then decays linearly to zero (the reference's schedule, scaled).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { promises as fs } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { TrainJobSpec } from '../../shared/jobs';
import { pixelsToFloat } from '../../main/engine/data/image-io';
import { psnr } from '../../main/engine/data/metrics';
import { translateImageAsync } from '../../main/engine/infer/translate';
import { loadStyle } from '../../main/engine/style/load-style';
import { runTraining } from '../../main/engine/train/train-loop';
import { gradeImage, normalisedPhoto } from '../support/known-answer';
import type { BenchArgs } from './index';
import { header, loadLine, machineLines, median, peakRssMiB, table } from './machine';

const PHOTOS = fileURLToPath(new URL('../../../shared/datasets/photos', import.meta.url));

/** The trained configuration: small enough for a few thousand steps in minutes on wasm. */
const BASE_NET = {
  preset: 'cut' as const,
  ngf: 16,
  ndf: 16,
  nBlocks: 3,
  cropSize: 64,
  loadSize: 160,
};

interface Rgb {
  data: Float32Array;
  width: number;
  height: number;
}

async function rawToRgb(pipeline: sharp.Sharp): Promise<Rgb> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const { rgb } = pixelsToFloat(
    { data, width: info.width, height: info.height, channels: info.channels as 3 | 4 },
    8,
  );
  return { data: rgb, width: info.width, height: info.height };
}

/** Per-channel mean and standard deviation on 0–255. */
function colourStats(im: Float32Array): { mean: number[]; std: number[] } {
  const n = im.length / 3;
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  for (let i = 0; i < im.length; i++) {
    const v = (im[i] + 1) * 127.5;
    sum[i % 3] += v;
    sq[i % 3] += v * v;
  }
  const mean = sum.map((s) => s / n);
  const std = sq.map((s, c) => Math.sqrt(Math.max(0, s / n - mean[c] ** 2)));
  return { mean, std };
}

function fmtStats(s: { mean: number[]; std: number[] }): string {
  const m = s.mean.map((v) => v.toFixed(0)).join('/');
  const d = s.std.map((v) => v.toFixed(0)).join('/');
  return `${m} ± ${d}`;
}

/** Photos are normalised (see normalisedPhoto) unless KNOWN_ANSWER_RAW=1. */
const NORMALISE = process.env.KNOWN_ANSWER_RAW !== '1';

async function photo(name: string): Promise<Buffer> {
  const file = path.join(PHOTOS, name);
  return NORMALISE ? normalisedPhoto(file) : sharp(file).rotate().removeAlpha().png().toBuffer();
}

async function run(args: BenchArgs): Promise<void> {
  // KNOWN_ANSWER_NET, a JSON object, overrides fields of NET (e.g. '{"ngf":16,"ndf":8}').
  const NET = { ...BASE_NET, ...(JSON.parse(process.env.KNOWN_ANSWER_NET ?? '{}') as object) };
  // KNOWN_ANSWER_STEPS overrides the step count (a busy machine, a longer run).
  const steps = Number(process.env.KNOWN_ANSWER_STEPS) || (args.quick ? 300 : 3000);
  const backend = (args.backend ?? 'wasm') as TrainJobSpec['backend'];
  const files = (await readdir(PHOTOS)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  if (files.length < 12) throw new Error(`${PHOTOS}: expected 12 photos, found ${files.length}`);
  const source = files.slice(0, 5);
  const target = files.slice(5, 10);
  const held = files.slice(10, 12);

  const work = await mkdtemp(path.join(os.tmpdir(), 'patchwork-known-answer-'));
  try {
    const dirs = { a: path.join(work, 'A'), b: path.join(work, 'B'), out: path.join(work, 'out') };
    await mkdir(dirs.a);
    await mkdir(dirs.b);
    const png = (f: string) => f.replace(/\.\w+$/, '.png');
    for (const f of source) await fs.writeFile(path.join(dirs.a, png(f)), await photo(f));
    for (const f of target) {
      await gradeImage(await photo(f))
        .png()
        .toFile(path.join(dirs.b, png(f)));
    }
    const stepsPerEpoch = 5;
    const totalEpochs = Math.ceil(steps / stepsPerEpoch);
    const epochs = Math.round(totalEpochs * 0.6);
    const options = { ...NET, epochs, decayEpochs: totalEpochs - epochs, seed: 1 };

    console.log(
      header('known-answer: does training learn a fixed colour grade?', [
        ...machineLines(),
        ['backend', `${backend} (pass --backend to choose)`],
        [
          'training',
          `${NET.preset}, ${steps} steps, crop ${NET.cropSize} (short side ${NET.loadSize}), ` +
            `ngf ${NET.ngf}, ${NET.nBlocks} blocks, ndf ${NET.ndf}, lr 2e-4 constant for ` +
            `${epochs} epochs then linear decay over ${totalEpochs - epochs} (5 steps/epoch)`,
        ],
        ['options', JSON.stringify(NET)],
        [
          'photos',
          NORMALISE
            ? 'normalised to one brightness and contrast (luminance 118 ± 55), then graded'
            : 'as they are (KNOWN_ANSWER_RAW=1)',
        ],
        ['source (A)', source.join(', ')],
        ['target (B)', `${target.join(', ')} (graded with gradeImage)`],
        ['held out', `${held.join(', ')} (truth: gradeImage of each)`],
        ['mode', args.quick ? `quick (${steps} steps: a trend only)` : `full (${steps} steps)`],
      ]),
    );

    const rates: { iteration: number; itPerSec: number }[] = [];
    let lastLog = -Infinity;
    // SIGUSR2 stops training early (within one step; runTraining still writes the style), so a
    // run that will not finish in time still yields its figures, marked as stopped early.
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.on('SIGUSR2', onSignal);
    const t0 = performance.now();
    const result = await runTraining(
      {
        source: dirs.a,
        target: dirs.b,
        out: dirs.out,
        options,
        iterations: steps,
        backend,
        checkpointEvery: steps,
        previewEvery: 0,
        previewCount: 1,
        progressEvery: 50,
      },
      {
        signal: stop.signal,
        onEvent: (e) => {
          if (e.type !== 'progress') return;
          rates.push({ iteration: e.iteration, itPerSec: e.itPerSec });
          const now = performance.now();
          if (now - lastLog > 60_000 || e.iteration === steps) {
            lastLog = now;
            const l = Object.entries(e.losses)
              .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toFixed(3) : String(v)}`)
              .join(', ');
            console.log(
              `  step ${e.iteration}/${steps}: ${e.itPerSec.toFixed(2)} it/s; ${l}; load ${loadLine()}`,
            );
          }
        },
      },
    );
    const trainS = (performance.now() - t0) / 1000;
    process.off('SIGUSR2', onSignal);
    if (result.status === 'cancelled') {
      console.log(
        `STOPPED EARLY (SIGUSR2) at step ${result.iteration} of ${steps}: the learning rate ` +
          'had not decayed as scheduled; these figures are for a shorter run',
      );
    }
    console.log(
      `trained ${result.iteration} steps in ${trainS.toFixed(0)} s ` +
        `(${(result.iteration / trainS).toFixed(2)} it/s overall incl. data loading and writing ` +
        `the style; median reported ${median(rates.map((r) => r.itPerSec)).toFixed(2)} it/s) ` +
        `on ${result.backend.detail}; load ${loadLine()}`,
    );

    const { generator } = await loadStyle(result.styleDir, { head: false });
    const rows: string[][] = [];
    for (const f of held) {
      const file = await photo(f);
      // Two scales: the one the style was trained at (short side = load size, what the
      // crops saw) and the photo's full size (5–8× larger: textures the style never saw).
      const meta = await sharp(file).rotate().metadata();
      const short = Math.min(meta.width ?? 0, meta.height ?? 0);
      const scale = NET.loadSize / short;
      const trained = {
        width: Math.round((meta.width ?? 0) * scale),
        height: Math.round((meta.height ?? 0) * scale),
      };
      const small = await sharp(file).resize(trained).png().toBuffer();
      for (const [label, src] of [
        ['training scale', small],
        ['full size', file],
      ] as const) {
        const input = await rawToRgb(sharp(src).rotate().removeAlpha());
        const truth = await rawToRgb(gradeImage(src));
        if (truth.width !== input.width || truth.height !== input.height) {
          throw new Error(
            `${f}: truth is ${truth.width}×${truth.height}, input ${input.width}×${input.height}`,
          );
        }
        const out = await translateImageAsync(generator, input);
        rows.push([
          `${f} ${label} (${input.width}×${input.height})`,
          psnr(input.data, truth.data).toFixed(2),
          psnr(out.data, truth.data).toFixed(2),
          fmtStats(colourStats(input.data)),
          fmtStats(colourStats(out.data)),
          fmtStats(colourStats(truth.data)),
        ]);
      }
    }
    console.log();
    console.log(
      table(
        [
          'held-out photo',
          'PSNR input dB',
          'PSNR translation dB',
          'input R/G/B mean ± std',
          'translation',
          'truth',
        ],
        rows,
      ),
    );
    console.log(`\npeak RSS ${peakRssMiB().toFixed(0)} MiB; load ${loadLine()}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export const knownAnswerCase = {
  summary: 'train a small CUT on photos → sepia-graded photos; PSNR on held-out vs truth',
  run,
};
