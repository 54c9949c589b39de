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
 *
 * PyTorch beside it (test/bench/sincut_reference.py, Debian's torch on the CPU): the same step
 * at the same settings and thread counts (`torch.set_num_threads`), with the ratio. Before the
 * timings, a check that it is the same computation: the parameter count of each network on
 * both sides, and the losses of one step from the same weights, crops and random draws (the
 * PyTorch side in float64, `SINCUT_BENCH_CHECK_BATCH` crops, default min(5, batch); 0 skips).
 *
 * Any backend, webgpu included: a step reads its losses with `await data()`, which also waits
 * for the GPU, so a step's time is its work. On a software adapter (SwiftShader: about
 * 0.4 GFLOP/s, a reference step would take hours) the case checks that everything runs, on
 * the `tiny` setting and a 128-px copy of the painting; its times say nothing of a GPU.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { resolveSinCutOptions, type SinCutOptions } from '../../shared/options';
import { initBackend, type BackendName } from '../../main/engine/backend';
import {
  loadSingleImage,
  SingleImageSampler,
  type SingleImage,
} from '../../main/engine/data/single-image';
import { translateSinCut } from '../../main/engine/infer/sincut-tiled';
import { StyleGan2Generator, styleGan2Widths } from '../../main/engine/model/stylegan2-generator';
import { disposeParams } from '../../main/engine/model/params';
import { Rng } from '../../main/engine/rng';
import { SinCutModel } from '../../main/engine/train/sincut-model';
import { drawSinCutSampling, sincutTrainStep } from '../../main/engine/train/sincut-step';
import type { BenchArgs } from './index';
import {
  DISTURBED,
  benchThreads,
  header,
  loadLine,
  machineLines,
  median,
  peakRssMiB,
  scaling,
  seconds,
  table,
  watched,
} from './machine';
import { NOT_INSTALLED, PYTHON, torchStatus } from './pytorch';
import {
  TORCH_SCRIPT,
  errorText,
  processCpuS,
  sameComputation,
  torchStepTimes,
  torchUnsupported,
} from './sincut-torch';

const DATA = fileURLToPath(
  new URL('../../../shared/datasets/single-image-monet-etretat/', import.meta.url),
);

/**
 * Crops per step: the settings' 16 by default (both halves of a step run a few images at a
 * time, so 16 fit the wasm heap: 2.5 GiB resident for a reference step); `SINCUT_BENCH_BATCH`
 * sets another (the cpu backend is slow enough to want fewer).
 */
export function benchBatch(fallback: number): number {
  const n = Number(process.env.SINCUT_BENCH_BATCH ?? fallback);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`SINCUT_BENCH_BATCH must be a whole number of crops, got ${n}`);
  }
  return n;
}

export interface SinCutBenchSetting {
  key: string;
  opts: SinCutOptions;
}

/**
 * The timed settings: the reference's and the paper's, or on a software adapter `tiny`
 * (ngf 1 at 32² crops: G widths 16/32, 2 blocks; D on 16² windows at ndf 1; batch 1).
 */
export function sincutBenchSettings(tiny: boolean, batch: number): SinCutBenchSetting[] {
  if (tiny) {
    const opts = resolveSinCutOptions({
      ngf: 1,
      ndf: 1,
      nBlocks: 2,
      nceTaps: ['input', 'down1', 'res1'],
      cropSize: 32,
      dPatch: 16,
      batchSize: 1,
      projectionDim: 16,
      numPatches: 16,
    });
    return [{ key: 'tiny', opts }];
  }
  return (['reference', 'paper'] as const).map((variant) => ({
    key: variant,
    opts: resolveSinCutOptions({ variant, batchSize: batch }),
  }));
}

/** One cell of the settings' table: crops, G's widths, D's window. */
export function describeSetting(s: SinCutBenchSetting): string {
  const o = s.opts;
  const { c0, c1 } = styleGan2Widths(o.ngf, o.cropSize);
  return `${o.cropSize}² ×${o.batchSize}, G ${c0}/${c1} ${o.nBlocks} blocks, D ${o.dPatch}²`;
}

/**
 * Seconds of each timed step (after one warm-up) of a fresh model of `setting`, on crops of
 * `a` and `b` drawn as training draws them. `log` hears of every step; `cpu`, where given,
 * receives each timed step's CPU seconds (the whole process: every engine thread).
 */
export async function sincutStepSeconds(
  setting: SinCutBenchSetting,
  a: SingleImage,
  b: SingleImage,
  timed: number,
  log: (line: string) => void = () => undefined,
  cpu?: number[],
): Promise<number[]> {
  const model = SinCutModel.create(setting.opts);
  const sampler = new SingleImageSampler(a, b, setting.opts);
  const rng = new Rng(1);
  const times: number[] = [];
  try {
    for (let i = 0; i <= timed; i++) {
      const batch = sampler.next(rng);
      const { n, crop } = batch;
      const s = drawSinCutSampling(model, n, crop, crop, rng);
      const realA = tf.tensor4d(batch.a, [n, crop, crop, 3]);
      const realB = tf.tensor4d(batch.b, [n, crop, crop, 3]);
      try {
        const [t0, c0] = [performance.now(), processCpuS()];
        await sincutTrainStep(model, realA, realB, s);
        if (i > 0) times.push((performance.now() - t0) / 1000);
        if (i > 0) cpu?.push(processCpuS() - c0);
      } finally {
        tf.dispose([realA, realB]);
      }
      log(`  ${setting.key}: step ${i}${i === 0 ? ' (warm-up)' : ''}; load ${loadLine()}`);
    }
  } finally {
    model.dispose();
  }
  return times;
}

/** The reference schedule's length at `t` s/step, in days. */
export function scheduleDays(o: SinCutOptions, t: number): string {
  const steps = (o.epochs + o.decayEpochs) * Math.floor(o.cropsPerEpoch / o.batchSize);
  return `${((steps * t) / 86400).toFixed(1)} days`;
}

const ratio = (a: number, b: number) => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : '–');
const load = (v: number | null) => (v === null ? '–' : v.toFixed(2));

// ---------------------------------------------------------------------------------------------
// The case
// ---------------------------------------------------------------------------------------------

async function run(args: BenchArgs): Promise<void> {
  const backend = (args.backend ?? 'wasm') as BackendName;
  // wasm runs the steps at each thread count (the translation at the most); others once.
  const cores = benchThreads(args.threads);
  const counts = backend === 'wasm' ? cores : [1];
  const most = counts[counts.length - 1];
  process.env.PATCHWORK_THREADS = String(most);
  const report = await initBackend(backend);
  const software = /software adapter/.test(report.detail);
  const timed = args.quick ? 1 : 3;
  const settings = sincutBenchSettings(software, benchBatch(16));
  const torch = torchStatus();
  // PyTorch beside wasm at each count; beside another backend (its own threads) at all cores.
  const torchThreads = (n: number) => (backend === 'wasm' ? n : cores[cores.length - 1]);
  const withTorch = torch.available && !software;
  const torchLine = !torch.available
    ? NOT_INSTALLED
    : software
      ? 'not run (software adapter: the times say nothing of a GPU)'
      : `${torch.version} (${PYTHON}, ${TORCH_SCRIPT}), torch.set_num_threads(n) for n in ` +
        `${[...new Set(counts.map(torchThreads))].join(', ')}; 1 warm-up + ` +
        `${Math.max(3, timed)} timed`;
  console.log(
    header('sincut: training steps and the full-resolution translation', [
      ...machineLines(),
      ['load before', loadLine()],
      ['backend', report.detail],
      ['pytorch', torchLine],
      [
        'steps',
        `1 warm-up + ${timed} timed per setting, batch ${settings[0].opts.batchSize}` +
          (software
            ? ' (software adapter: the tiny setting, correctness only)'
            : ' (SINCUT_BENCH_BATCH)'),
      ],
      ['other load', `cores other processes used meanwhile (> ${DISTURBED}: suspect)`],
      [
        'CPU s/step',
        'CPU seconds of the step (all its threads); at 1 thread about its time alone, so the ' +
          '1-thread CPU ratio holds on a shared machine',
      ],
    ]),
  );
  const painting = await loadSingleImage(`${DATA}monet.jpg`, software ? 128 * 104 : Infinity);
  // ngf 10 at 64² crops; on a software adapter the tiny setting's generator.
  const widths = software ? { c0: 16, c1: 32, nBlocks: 2 } : { c0: 80, c1: 160, nBlocks: 6 };
  const tile = software ? 64 : 256;
  const G = StyleGan2Generator.create(widths, new Rng(3));
  const rssBefore = peakRssMiB();
  const t0 = performance.now();
  try {
    await translateSinCut(
      G,
      { data: painting.rgb, width: painting.width, height: painting.height },
      { tile },
    );
  } finally {
    disposeParams(G.params);
  }
  const wall = (performance.now() - t0) / 1000;
  console.log(
    table(
      ['image', 'generator', 'tile', 'time', 'peak RSS (MiB)'],
      [
        [
          `${painting.width}×${painting.height}`,
          `StyleGAN2, widths ${widths.c0}/${widths.c1}, ${widths.nBlocks} blocks`,
          `${tile} + ${16 + 4 * widths.nBlocks} halo`,
          seconds(wall),
          `${peakRssMiB().toFixed(0)} (before: ${rssBefore.toFixed(0)})`,
        ],
      ],
    ),
  );
  console.log(`load after translation: ${loadLine()}`);
  if (!torch.available) console.log(`\n${NOT_INSTALLED}`);
  else if (withTorch) await sameComputation(settings, most, torchThreads(most));

  const a = await loadSingleImage(`${DATA}monet.jpg`);
  const b = await loadSingleImage(`${DATA}etretat-normandy-france.jpg`);
  const rows: string[][] = [];
  const notes: string[] = [];
  const single = new Map<string, number>();
  let suspect = 0;
  for (const threads of counts) {
    process.env.PATCHWORK_THREADS = String(threads);
    await initBackend(backend);
    for (const setting of settings) {
      const ours = await watched(
        async () => {
          const cpu0 = processCpuS();
          const cpu: number[] = [];
          const log = (l: string) => console.error(l);
          const times = await sincutStepSeconds(setting, a, b, timed, log, cpu);
          return { times, cpu, cpuS: processCpuS() - cpu0 };
        },
        (r) => r.cpuS,
      );
      const t = median(ours.result.times);
      if (threads === 1) single.set(setting.key, t);
      const cpu = median(ours.result.cpu);
      let py = NaN;
      let pyCpu = NaN;
      let pyLoad: number | null = null;
      const pyThreads = torchThreads(threads);
      const pyKey = `torch ${setting.key}`;
      const pyWhy = torchUnsupported(setting.opts);
      if (withTorch && pyWhy) notes.push(`${setting.key}: no PyTorch figure: ${pyWhy}`);
      else if (withTorch) {
        console.error(`  ${setting.key}: PyTorch, torch.set_num_threads(${pyThreads}) …`);
        try {
          const r = await watched(
            () => torchStepTimes(setting, pyThreads, 1, Math.max(3, timed)),
            (x) => x.cpu_s,
          );
          py = median(r.result.times);
          pyCpu = median(r.result.cpu_times);
          pyLoad = r.otherLoad;
          if (pyThreads === 1) single.set(pyKey, py);
        } catch (err) {
          notes.push(`${setting.key} PyTorch ×${pyThreads}: ${errorText(err)}`);
        }
      }
      for (const l of [ours.otherLoad, pyLoad]) if ((l ?? 0) > DISTURBED) suspect++;
      rows.push([
        setting.key,
        backend === 'wasm' ? String(threads) : '–',
        describeSetting(setting),
        seconds(t),
        withTorch ? seconds(py) : '–',
        withTorch ? ratio(t, py) : '–',
        (1 / t).toFixed(3),
        scaling(single.get(setting.key) ?? NaN, t, threads),
        withTorch ? scaling(single.get(pyKey) ?? NaN, py, pyThreads) : '–',
        `${seconds(cpu)} / ${seconds(pyCpu)}`,
        threads === 1 && pyThreads === 1 ? ratio(cpu, pyCpu) : '–',
        `${load(ours.otherLoad)} / ${load(pyLoad)}`,
        software ? '–' : scheduleDays(setting.opts, t),
      ]);
    }
  }
  console.log(
    table(
      [
        'setting',
        'threads',
        'crops',
        's/step',
        'PyTorch s/step',
        'TF.js/PyTorch',
        'steps/s',
        'vs 1 thread',
        'PyTorch vs 1 thread',
        'CPU s/step TF.js / PyTorch',
        'CPU ratio',
        'other load TF.js / PyTorch',
        'whole schedule',
      ],
      rows,
    ),
  );
  console.log(`load after steps: ${loadLine()}`);
  if (suspect > 0) {
    console.log(
      `${suspect} of the figures above ran while other processes used more than ${DISTURBED} ` +
        `cores: treat them (and their ratios) as suspect`,
    );
  }
  if (notes.length) console.log(['notes:', ...notes.map((n) => `  - ${n}`)].join('\n'));
}

export const sincutCase = {
  summary:
    'SinCUT: s/step at the reference and paper settings beside PyTorch; full-resolution painting, tiled',
  run,
};
