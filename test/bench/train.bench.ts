/**
 * Bench case `train`: training iterations per second of CUT and FastCUT through the whole
 * training loop (`runTraining` on ../shared/datasets/photos: decoding, resizing, cropping and
 * flipping included, as an artist's run pays them), at the paper configuration (256² crops of
 * a 286 short side, ngf 64, 9 blocks, ndf 64) and a small one (128² crops, ngf 16, 3 blocks,
 * ndf 16), with each run's peak RSS. The paper's networks also run on 96² crops (`paper@96`,
 * short side 108), a quicker figure for the same networks. The first 2 steps are warm-up
 * (kernel set-up, heap growth, Adam's moments) and not counted: the figure is (N − 2) steps over the time from the
 * end of step 2 to the end of step N, from per-step progress events.
 *
 * Beside it, PyTorch on the CPU (step_reference.py, threads = cores) times the same step on
 * random tensors: data loading is NOT included there, so the ratio slightly flatters PyTorch.
 * Each TF.js run is its own child process (its own peak RSS).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Preset } from '../../shared/options';
import type { TrainJobSpec } from '../../shared/jobs';
import { runTraining } from '../../main/engine/train/train-loop';
import type { BenchArgs } from './index';
import {
  benchThreads,
  header,
  loadLine,
  machineLines,
  median,
  peakRssMiB,
  runInChild,
  scaling,
  table,
} from './machine';
import { NOT_INSTALLED, benchScript, runPython, torchStatus } from './pytorch';

const PHOTOS = fileURLToPath(new URL('../../../shared/datasets/photos', import.meta.url));
const WARMUP = 2;

interface Config {
  key: string;
  cropSize: number;
  loadSize: number;
  ngf: number;
  ndf: number;
  nBlocks: number;
  numPatches: number;
}
const CONFIGS: Config[] = [
  { key: 'small', cropSize: 128, loadSize: 144, ngf: 16, ndf: 16, nBlocks: 3, numPatches: 256 },
  { key: 'paper@96', cropSize: 96, loadSize: 108, ngf: 64, ndf: 64, nBlocks: 9, numPatches: 256 },
  { key: 'paper', cropSize: 256, loadSize: 286, ngf: 64, ndf: 64, nBlocks: 9, numPatches: 256 },
];
const PRESETS: Preset[] = ['fastcut', 'cut'];

function timedSteps(cfg: Config, quick: boolean): number {
  if (cfg.key.startsWith('paper')) return quick ? 2 : 5;
  return quick ? 10 : 30;
}

interface Job {
  backend: string;
  threads: number;
  config: Config;
  preset: Preset;
  steps: number;
}

type Result =
  | { ok: true; itPerSec: number; peakRssMiB: number; detail: string; load: string }
  | { ok: false; error: string; peakRssMiB: number; load: string };

const WORKER_FLAG = '--train-bench-worker';

async function worker(job: Job): Promise<Result> {
  process.env.PATCHWORK_THREADS = String(job.threads);
  const out = await mkdtemp(path.join(os.tmpdir(), 'patchwork-train-bench-'));
  try {
    const c = job.config;
    const ends = new Map<number, number>();
    const result = await runTraining(
      {
        source: PHOTOS,
        target: PHOTOS,
        out,
        options: {
          preset: job.preset,
          cropSize: c.cropSize,
          loadSize: c.loadSize,
          ngf: c.ngf,
          ndf: c.ndf,
          nBlocks: c.nBlocks,
          numPatches: c.numPatches,
          seed: 3,
        },
        iterations: job.steps,
        backend: job.backend as TrainJobSpec['backend'],
        checkpointEvery: 1_000_000,
        previewEvery: 0,
        previewCount: 1,
        progressEvery: 1,
      },
      {
        onEvent: (e) => {
          if (e.type === 'progress') ends.set(e.iteration, performance.now());
        },
      },
    );
    const t0 = ends.get(WARMUP);
    const t1 = ends.get(job.steps);
    if (t0 === undefined || t1 === undefined) throw new Error('missing progress events');
    return {
      ok: true,
      itPerSec: (job.steps - WARMUP) / ((t1 - t0) / 1000),
      peakRssMiB: peakRssMiB(),
      detail: result.backend.detail,
      load: loadLine(),
    };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

if (process.argv[2] === WORKER_FLAG) {
  const job = JSON.parse(process.argv[3]) as Job;
  worker(job)
    .catch((err: unknown): Result => ({
      ok: false,
      error: (err instanceof Error ? err.message : String(err)).split('\n')[0],
      peakRssMiB: peakRssMiB(),
      load: loadLine(),
    }))
    .then((result) => {
      if (process.send) process.send(result, () => process.disconnect());
      else console.log(JSON.stringify(result));
    });
}

async function runJob(job: Job): Promise<Result> {
  const self = fileURLToPath(import.meta.url);
  const out = await runInChild(self, [WORKER_FLAG, JSON.stringify(job)], 3_600_000);
  if (out.message) return out.message as Result;
  const tail = out.outputTail ? `: ${out.outputTail.replace(/\n/g, ' | ')}` : '';
  return {
    ok: false,
    error: `worker ended with ${out.exit}${tail}`,
    peakRssMiB: NaN,
    load: loadLine(),
  };
}

interface PyResult {
  torch: string;
  threads: number;
  times: number[];
  peak_rss_mib: number;
}

async function run(args: BenchArgs): Promise<void> {
  const backend = args.backend ?? 'wasm';
  // wasm and PyTorch at each count; another backend picks its own threads: once.
  const counts = backend === 'wasm' ? benchThreads(args.threads) : [benchThreads().at(-1) ?? 1];
  const torch = torchStatus();
  console.log(
    header('train: iterations/s through runTraining (data loading included)', [
      ...machineLines(),
      ['backend', `${backend} (pass --backend to choose; the default is wasm)`],
      ['data', `${PHOTOS} as both domains (12 photos), batch 1, flips on`],
      ['counted', `steps ${WARMUP + 1}…N (the first ${WARMUP} are warm-up)`],
      [
        'PyTorch',
        torch.available
          ? `${torch.version}, CPU, ${counts.join(' and ')} threads, step_reference.py: one ` +
            'step on random ' +
            'tensors, data loading excluded, 1 warm-up'
          : NOT_INSTALLED,
      ],
      ['mode', args.quick ? 'quick' : 'full'],
    ]),
  );
  const rows: string[][] = [];
  const notes: string[] = [];
  const single = new Map<string, number>();
  const scale = (key: string, threads: number, itPerSec: number | null): string => {
    if (itPerSec === null) return '–';
    if (threads === 1) single.set(key, itPerSec);
    // it/s: the speed-up is the ratio the other way round from seconds.
    return scaling(itPerSec, single.get(key) ?? NaN, threads);
  };
  for (const c of CONFIGS) {
    for (const preset of PRESETS) {
      for (const threads of counts) {
        const steps = WARMUP + timedSteps(c, args.quick);
        const label = `${c.key}: ${c.cropSize}², ngf ${c.ngf}, ${c.nBlocks} blocks, ndf ${c.ndf}`;
        const r = await runJob({ backend, threads, config: c, preset, steps });
        let torchCell = ['–', '–'];
        let torchIt: number | null = null;
        if (torch.available) {
          try {
            const py = await runPython<PyResult>(
              benchScript('step_reference.py'),
              Object.entries({
                what: preset,
                size: c.cropSize,
                ngf: c.ngf,
                ndf: c.ndf,
                blocks: c.nBlocks,
                patches: c.numPatches,
                warmup: 1,
                steps: c.key.startsWith('paper') ? (args.quick ? 1 : 3) : args.quick ? 3 : 10,
                threads,
              }).flatMap(([k, v]) => [`--${k}`, String(v)]),
            );
            torchIt = 1 / median(py.times);
            torchCell = [torchIt.toFixed(3), py.peak_rss_mib.toFixed(0)];
          } catch (err) {
            notes.push(`PyTorch ${label} ${preset}: ${(err as Error).message}`);
            torchCell = ['failed', '–'];
          }
        }
        const torchScale = scale(`torch ${label} ${preset}`, threads, torchIt);
        if (!r.ok) {
          notes.push(`${label} ${preset} ×${threads}: ${r.error}`);
          rows.push([
            label,
            preset,
            String(threads),
            'failed',
            '–',
            '–',
            ...torchCell,
            torchScale,
            '–',
            r.load,
          ]);
          continue;
        }
        console.log(`  done: ${label} ${preset}: ${r.itPerSec.toFixed(3)} it/s (${r.detail})`);
        rows.push([
          label,
          preset,
          String(threads),
          r.itPerSec.toFixed(3),
          scale(`wasm ${label} ${preset}`, threads, r.itPerSec),
          r.peakRssMiB.toFixed(0),
          ...torchCell,
          torchScale,
          torchIt === null ? '–' : `${(torchIt / r.itPerSec).toFixed(1)}×`,
          r.load,
        ]);
      }
    }
  }
  console.log();
  console.log(
    table(
      [
        'configuration',
        'preset',
        'threads',
        'it/s',
        'vs 1 thread',
        'peak RSS MiB',
        'torch it/s (no data)',
        'torch RSS MiB',
        'torch vs 1 thread',
        'torch/TF.js speed',
        'load after (1/5/15)',
      ],
      rows,
    ),
  );
  if (notes.length) console.log(['', 'notes:', ...notes.map((n) => `  - ${n}`)].join('\n'));
}

export const trainCase = {
  summary: 'CUT/FastCUT iterations/s through runTraining (data loading incl.), vs PyTorch',
  run,
};
