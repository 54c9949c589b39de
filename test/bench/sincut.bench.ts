/**
 * Bench case `sincut`: SinCUT's cost. Seconds per training step (and steps/s) at the
 * reference code's setting (64² crops, batch 16, ngf 10 → widths 80/160, ndf 8, D on 64²) and
 * at the paper's (128² crops for G, ngf 10 → widths 40/80, D on random 64² windows, batch 16),
 * each one warm-up step then timed steps, with the time the reference schedule (100,000 steps)
 * would take at that rate; then the time and peak RSS of translating the full-resolution
 * painting of the Étretat pair (the dataset's Monet, 1200×966) with the reference setting's
 * generator, tile by tile, in this process. Seeded random weights: speed does not depend on
 * training. The translation runs first, so its peak RSS is its own (the wasm heap never
 * shrinks after the training steps). `--quick`: one timed step per setting.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { resolveSinCutOptions, type SinCutPreset } from '../../shared/options';
import { initBackend, type BackendName } from '../../main/engine/backend';
import { loadSingleImage, SingleImageSampler } from '../../main/engine/data/single-image';
import { translateSinCut } from '../../main/engine/infer/sincut-tiled';
import { StyleGan2Generator } from '../../main/engine/model/stylegan2-generator';
import { Rng } from '../../main/engine/rng';
import { SinCutModel } from '../../main/engine/train/sincut-model';
import { drawSinCutSampling, sincutTrainStep } from '../../main/engine/train/sincut-step';
import type { BenchArgs } from './index';
import { header, loadLine, machineLines, median, peakRssMiB, seconds, table } from './machine';

const DATA = fileURLToPath(
  new URL('../../../shared/datasets/single-image-monet-etretat/', import.meta.url),
);

/**
 * Crops per step. The settings' 16 do not fit the wasm backend's 4 GiB heap: G's half of a
 * reference step (G on 32 crops of 64², widths 80/160, with gradient checkpointing) runs out
 * of memory; `SINCUT_BENCH_BATCH` sets it (a native backend can take 16).
 */
const BATCH = Number(process.env.SINCUT_BENCH_BATCH ?? 4);

async function stepSeconds(setting: SinCutPreset, timed: number): Promise<number[]> {
  const opts = resolveSinCutOptions({ variant: setting, batchSize: BATCH });
  const model = SinCutModel.create(opts);
  const a = await loadSingleImage(`${DATA}monet.jpg`);
  const b = await loadSingleImage(`${DATA}etretat-normandy-france.jpg`);
  const sampler = new SingleImageSampler(a, b, opts);
  const rng = new Rng(1);
  const times: number[] = [];
  try {
    for (let i = 0; i <= timed; i++) {
      const batch = sampler.next(rng);
      const { n, crop } = batch;
      const s = drawSinCutSampling(model, n, crop, crop, rng);
      const realA = tf.tensor4d(batch.a, [n, crop, crop, 3]);
      const realB = tf.tensor4d(batch.b, [n, crop, crop, 3]);
      const t0 = performance.now();
      sincutTrainStep(model, realA, realB, s);
      if (i > 0) times.push((performance.now() - t0) / 1000);
      tf.dispose([realA, realB]);
      console.error(`  ${setting}: step ${i}${i === 0 ? ' (warm-up)' : ''}; load ${loadLine()}`);
    }
  } finally {
    model.dispose();
  }
  return times;
}

async function run(args: BenchArgs): Promise<void> {
  const backend = (args.backend ?? 'wasm') as BackendName;
  const report = await initBackend(backend);
  const timed = args.quick ? 1 : 3;
  console.log(
    header('sincut: training steps and the full-resolution translation', [
      ...machineLines(),
      ['load before', loadLine()],
      ['backend', report.detail],
      ['steps', `1 warm-up + ${timed} timed per setting, batch ${BATCH} (SINCUT_BENCH_BATCH)`],
    ]),
  );
  const painting = await loadSingleImage(`${DATA}monet.jpg`, Infinity);
  const widths = { c0: 80, c1: 160, nBlocks: 6 }; // ngf 10 at 64² crops
  const G = StyleGan2Generator.create(widths, new Rng(3));
  const rssBefore = peakRssMiB();
  const t0 = performance.now();
  await translateSinCut(G, { data: painting.rgb, width: painting.width, height: painting.height });
  const wall = (performance.now() - t0) / 1000;
  console.log(
    table(
      ['image', 'generator', 'tile', 'time', 'peak RSS (MiB)'],
      [
        [
          `${painting.width}×${painting.height}`,
          'StyleGAN2, widths 80/160, 6 blocks',
          '256 + 40 halo',
          seconds(wall),
          `${peakRssMiB().toFixed(0)} (before: ${rssBefore.toFixed(0)})`,
        ],
      ],
    ),
  );
  console.log(`load after translation: ${loadLine()}`);
  const rows: string[][] = [];
  for (const setting of ['reference', 'paper'] as const) {
    const o = resolveSinCutOptions({ variant: setting, batchSize: BATCH });
    const t = median(await stepSeconds(setting, timed));
    const schedule = (o.epochs + o.decayEpochs) * Math.floor(o.cropsPerEpoch / o.batchSize);
    rows.push([
      setting,
      `${o.cropSize}² ×${o.batchSize}, D ${o.dPatch}²`,
      seconds(t),
      (1 / t).toFixed(3),
      `${((schedule * t) / 86400).toFixed(1)} days`,
    ]);
  }
  console.log(table(['setting', 'crops', 's/step', 'steps/s', 'whole schedule'], rows));
  console.log(`load after steps: ${loadLine()}`);
}

export const sincutCase = {
  summary: 'SinCUT: s/step at the reference and paper settings; full-resolution painting, tiled',
  run,
};
