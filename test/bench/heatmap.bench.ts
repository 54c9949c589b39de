/**
 * Bench case `heatmap`: patch-correspondence heatmaps (main/engine/infer/heatmap.ts), in two
 * parts.
 *
 * Speed. The first map, the rest of the feature pass and the latency of one query, at 0.25, 1,
 * 2.4 and 4 megapixels (`--quick`: 2.4; the elephants photo, ../shared/datasets/highres,
 * resized with sharp and written as PNG), at the default working resolution (long side 1024,
 * so 1 Mpx and up are analysed at the same size: that is what the working resolution is for),
 * on TF.js (each backend) and on ONNX Runtime (heatmap-onnx.ts, cpu provider). Timed: reading
 * the file to the working size, translating it, the first map (read + translate + the deepest
 * tap's features of both images + one query: what opening an image in the studio costs), the
 * other taps' features (every position projected by H, kept as rows), and queries: the median
 * and 90th percentile of 30 single-tap queries at random points, per tap. Kernels and ONNX
 * Runtime sessions are set up once per process on a small image, timed apart. A random-weight style: the
 * small generator of the convert case (ngf 16, 6 blocks) with a 256-dimensional H on the
 * default taps; speed does not depend on the weights, and query time depends only on the
 * number of positions and H's dimension. Each backend runs in its own child process (its own
 * peak RSS). The `cpu` backend runs only when asked for (`--backend cpu`): its translation of
 * even 0.25 Mpx takes minutes, and queries do not use the backend at all.
 *
 * Proof. Whether the encoder of a trained style finds "the same place": a FastCUT style
 * (ngf 8, 3 blocks, 64² crops of images scaled to short side 96) trains for 300 steps
 * (`--quick` 100) through runTraining on resources/samples (source → sepia-graded target);
 * then, on each source and held-out photo at the training scale, 8×8 grid points on the
 * output are queried at the res1 tap and the best match on the input compared with the same
 * position: the fraction within 2 tap pixels (8 image pixels) and the median distance. The
 * same for the untrained networks (the same seed's initial weights), with H and with raw
 * features.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { defaultTaps, resolveTrainOptions, type NceTap } from '../../shared/options';
import { BACKENDS, initBackend, type BackendName } from '../../main/engine/backend';
import {
  HeatmapSession,
  readHeatmapImage,
  type HeatmapStyle,
} from '../../main/engine/infer/heatmap';
import { OnnxHeatmapEngine } from '../../main/engine/infer/heatmap-onnx';
import { gridPoints } from '../../main/engine/infer/heatmap-render';
import { ResnetGenerator, tapChannels } from '../../main/engine/model/generator';
import { ProjectionHead } from '../../main/engine/model/projection-head';
import { Rng } from '../../main/engine/rng';
import { CutModel } from '../../main/engine/train/cut-model';
import { disposeStyle, loadStyle } from '../../main/engine/style/load-style';
import { runTraining } from '../../main/engine/train/train-loop';
import { ELEPHANTS as DEFAULT_ELEPHANTS, sizeFor } from './convert.bench';
import type { BenchArgs } from './index';
import { header, loadLine, machineLines, median, peakRssMiB, runInChild, table } from './machine';

const SAMPLES = fileURLToPath(new URL('../../resources/samples', import.meta.url));
/** The photo, from the datasets beside the checkout (a git worktree elsewhere: set the path). */
const ELEPHANTS = process.env.PATCHWORK_BENCH_ELEPHANTS ?? DEFAULT_ELEPHANTS;
const SIZES = [0.25, 1, 2.4, 4];
/** `--quick`: the size the issue's target names (the first map of a 2.4-Mpx image). */
const QUICK_SIZES = [2.4];
const SPEED_NET = { ngf: 16, nBlocks: 6, dim: 256 };
const QUERIES = 30;

// ---------------------------------------------------------------------------------------------
// Speed: child process, one backend, every size
// ---------------------------------------------------------------------------------------------

interface SpeedJob {
  backend: BackendName;
  /** Who translates and computes the features: TF.js on `backend`, or ONNX Runtime. */
  engine: 'tfjs' | 'onnx';
  files: { mpx: number; file: string }[];
}

interface SpeedRow {
  mpx: number;
  size: string;
  working: string;
  readS: number;
  translateS: number;
  /** Read, translate, the deepest tap's features of both images and one query on it. */
  firstMapS: number;
  /** The other taps' features afterwards. */
  featuresS: number;
  cacheMiB: number;
  perTap: { tap: NceTap; positions: number; medianMs: number; p90Ms: number }[];
}

type SpeedResult =
  | {
      ok: true;
      detail: string;
      setupS: number;
      rows: SpeedRow[];
      peakRssMiB: number;
      cpuS: number;
      load: string;
    }
  | { ok: false; error: string; rows: SpeedRow[]; peakRssMiB: number; load: string };

const WORKER_FLAG = '--heatmap-bench-worker';

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function speedWorker(job: SpeedJob): Promise<SpeedResult> {
  const report = await initBackend(job.backend);
  const { ngf, nBlocks, dim } = SPEED_NET;
  const taps = defaultTaps(nBlocks);
  const style: HeatmapStyle = {
    generator: ResnetGenerator.create({ ngf, nBlocks }, 0.02, new Rng(7)),
    head: ProjectionHead.create(
      taps.map((t) => tapChannels(t, ngf)),
      dim,
      0.02,
      new Rng(8),
    ),
    headTaps: taps,
  };
  const onnx = job.engine === 'onnx' ? (await OnnxHeatmapEngine.open('onnx', 'cpu')).engine : null;
  const detail = onnx ? `${onnx.detail}; TF.js ${report.detail} for the weights` : report.detail;
  const deepest = taps[taps.length - 1];
  // Kernels and ONNX Runtime sessions set up once, outside the clock (timed on their own).
  const setup = performance.now();
  const warm = await HeatmapSession.create(
    style,
    { data: new Float32Array(32 * 32 * 3), width: 32, height: 32 },
    { onnx },
  );
  await warm.load([deepest]);
  await warm.load(taps);
  const setupS = (performance.now() - setup) / 1000;
  const rows: SpeedRow[] = [];
  try {
    for (const { mpx, file } of job.files) {
      const t0 = performance.now();
      let t = t0;
      const image = await readHeatmapImage(file);
      const readS = (performance.now() - t) / 1000;
      t = performance.now();
      // A budget that holds every tap of both images, so no query recomputes features.
      const session = await HeatmapSession.create(style, image, {
        memoryBudgetMB: 16384,
        onnx,
      });
      const translateS = (performance.now() - t) / 1000;
      await session.load([deepest]);
      session.query({ x: image.width / 2, y: image.height / 2 }, { taps: [deepest] });
      const firstMapS = (performance.now() - t0) / 1000;
      t = performance.now();
      await session.load(taps);
      const featuresS = (performance.now() - t) / 1000;
      const rng = new Rng(mpx * 100);
      const perTap = taps.map((tap) => {
        const ms: number[] = [];
        for (let i = 0; i < QUERIES; i++) {
          const p = { x: rng.int(image.width), y: rng.int(image.height) };
          const q0 = performance.now();
          session.query(p, { taps: [tap] });
          ms.push(performance.now() - q0);
        }
        const g = session.grid(tap);
        return {
          tap,
          positions: g.width * g.height,
          medianMs: median(ms),
          p90Ms: quantile(ms, 0.9),
        };
      });
      rows.push({
        mpx,
        size: `${image.width}×${image.height}`,
        working: `${image.working.width}×${image.working.height}`,
        readS,
        translateS,
        firstMapS,
        featuresS,
        cacheMiB: session.cacheBytes / 2 ** 20,
        perTap,
      });
      session.clear();
      process.stderr.write(`  ${job.engine} ${job.backend} ${mpx} Mpx done\n`);
    }
  } catch (err) {
    const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    return { ok: false, error: msg, rows, peakRssMiB: peakRssMiB(), load: loadLine() };
  }
  const u = process.cpuUsage();
  return {
    ok: true,
    detail,
    setupS,
    rows,
    peakRssMiB: peakRssMiB(),
    cpuS: (u.user + u.system) / 1e6,
    load: loadLine(),
  };
}

if (process.argv[2] === WORKER_FLAG) {
  const job = JSON.parse(process.argv[3]) as SpeedJob;
  speedWorker(job)
    .catch((err: unknown): SpeedResult => ({
      ok: false,
      error: (err instanceof Error ? err.message : String(err)).split('\n')[0],
      rows: [],
      peakRssMiB: peakRssMiB(),
      load: loadLine(),
    }))
    .then((result) => {
      if (process.send) process.send(result, () => process.disconnect());
      else console.log(JSON.stringify(result));
    });
}

async function speed(args: BenchArgs, work: string): Promise<void> {
  const backends = args.backend
    ? [args.backend as BackendName]
    : BACKENDS.filter((b) => b !== 'cpu');
  const files: SpeedJob['files'] = [];
  for (const mpx of args.quick ? QUICK_SIZES : SIZES) {
    const { width, height } = sizeFor(mpx);
    const file = path.join(work, `elephants-${mpx}mpx.png`);
    await sharp(ELEPHANTS, { limitInputPixels: false })
      .removeAlpha()
      .resize(width, height, { fit: 'fill' })
      .png({ compressionLevel: 1 })
      .toFile(file);
    files.push({ mpx, file });
  }
  const self = fileURLToPath(import.meta.url);
  // TF.js on each backend, then ONNX Runtime once (its speed does not depend on TF.js's backend).
  const runs: Pick<SpeedJob, 'backend' | 'engine'>[] = [
    ...backends.map((backend) => ({ backend, engine: 'tfjs' as const })),
    { backend: 'wasm', engine: 'onnx' },
  ];
  for (const { backend, engine } of runs) {
    const out = await runInChild(
      self,
      [WORKER_FLAG, JSON.stringify({ backend, engine, files } satisfies SpeedJob)],
      3_600_000,
    );
    const r = (out.message as SpeedResult | null) ?? {
      ok: false as const,
      error: `worker ended with ${out.exit} and no result: ${out.outputTail.replace(/\n/g, ' | ')}`,
      rows: [],
      peakRssMiB: NaN,
      load: loadLine(),
    };
    const what = engine === 'onnx' ? 'engine onnx' : `engine tfjs, backend ${backend}`;
    console.log(
      `\n${what}: ${r.ok ? `${r.detail}; set-up ${r.setupS.toFixed(2)} s` : `failed: ${r.error}`}`,
    );
    if (!r.rows.length) continue;
    const taps = r.rows[0].perTap.map((p) => p.tap);
    console.log(
      table(
        [
          'Mpx',
          'image',
          'working',
          'read s',
          'translate s',
          `first map s (${r.rows[0].perTap.at(-1)?.tap})`,
          'other taps s',
          'cache MiB',
        ],
        r.rows.map((row) => [
          String(row.mpx),
          row.size,
          row.working,
          row.readS.toFixed(2),
          row.translateS.toFixed(2),
          row.firstMapS.toFixed(2),
          row.featuresS.toFixed(2),
          row.cacheMiB.toFixed(0),
        ]),
      ),
    );
    console.log('\nper-query latency, ms (median / 90th percentile of 30; one tap per query)');
    console.log(
      table(
        ['Mpx', ...taps.map((t) => `${t} (positions)`)],
        r.rows.map((row) => [
          String(row.mpx),
          ...row.perTap.map(
            (p) => `${p.medianMs.toFixed(1)} / ${p.p90Ms.toFixed(1)} (${p.positions})`,
          ),
        ]),
      ),
    );
    console.log(`peak RSS ${r.peakRssMiB.toFixed(0)} MiB; load at the end ${r.load}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Proof: trained vs untrained correspondence at res1
// ---------------------------------------------------------------------------------------------

const PROOF_NET = {
  preset: 'fastcut' as const,
  ngf: 8,
  ndf: 16,
  nBlocks: 3,
  cropSize: 64,
  loadSize: 96,
  seed: 1,
};
const GRID = 8;
const WITHIN = 2;

interface Agreement {
  fraction: number;
  median: number;
  points: number;
}

/** Best matches at res1 of GRID×GRID points on each output, against the same position. */
async function agreement(style: HeatmapStyle, files: string[], raw: boolean): Promise<Agreement> {
  const distances: number[] = [];
  for (const file of files) {
    const meta = await sharp(file).rotate().metadata();
    const short = Math.min(meta.width ?? 1, meta.height ?? 1);
    const long = Math.max(meta.width ?? 1, meta.height ?? 1);
    // The training scale: short side = load size.
    const image = await readHeatmapImage(file, Math.round((long * PROOF_NET.loadSize) / short));
    const session = await HeatmapSession.create(style, image, { raw });
    for (const p of gridPoints(GRID, image.width, image.height)) {
      const [m] = session.query(p, { taps: ['res1'] });
      distances.push(Math.hypot(m.best.tapX - m.query.tapX, m.best.tapY - m.query.tapY));
    }
  }
  return {
    fraction: distances.filter((d) => d <= WITHIN).length / distances.length,
    median: median(distances),
    points: distances.length,
  };
}

async function proof(args: BenchArgs, work: string): Promise<void> {
  const steps = args.quick ? 100 : 300;
  const backend = (args.backend ?? 'wasm') as BackendName;
  await initBackend(backend);
  const source = path.join(SAMPLES, 'source');
  const target = path.join(SAMPLES, 'target');
  const list = async (dir: string) =>
    (await readdir(dir)).filter((f) => /\.jpe?g$/i.test(f)).map((f) => path.join(dir, f));
  const seen = await list(source);
  const held = await list(path.join(SAMPLES, 'held-out'));
  console.log(
    `\nproof: FastCUT ${JSON.stringify(PROOF_NET)}, ${steps} steps on resources/samples ` +
      `(source → sepia-graded target), backend ${backend}; load ${loadLine()}`,
  );
  const t0 = performance.now();
  const result = await runTraining({
    source,
    target,
    out: path.join(work, 'proof'),
    options: PROOF_NET,
    iterations: steps,
    backend,
    checkpointEvery: steps,
    previewEvery: 0,
    previewCount: 1,
  });
  console.log(
    `trained ${result.iteration} steps in ${((performance.now() - t0) / 1000).toFixed(0)} s ` +
      `(final NCE ${result.losses?.NCE?.toFixed(3)}, G_GAN ${result.losses?.G_GAN?.toFixed(3)}); ` +
      `load ${loadLine()}`,
  );
  const trained = await loadStyle(result.styleDir);
  const initial = CutModel.create(resolveTrainOptions(PROOF_NET));
  const untrained: HeatmapStyle = { generator: initial.G, head: initial.H, headTaps: initial.taps };
  const rows: string[][] = [];
  const cell = (a: Agreement) => [`${(100 * a.fraction).toFixed(0)}%`, a.median.toFixed(2)];
  try {
    for (const [label, style] of [
      ['trained', trained],
      ['untrained (initial weights)', untrained],
    ] as const) {
      for (const raw of [false, true]) {
        const a = await agreement(style, seen, raw);
        const b = await agreement(style, held, raw);
        rows.push([label, raw ? 'raw' : 'H', ...cell(a), ...cell(b), String(a.points + b.points)]);
      }
    }
  } finally {
    disposeStyle(trained);
    initial.dispose();
  }
  console.log(
    `\nres1 best match of ${GRID}×${GRID} output points per image vs the same input position ` +
      `(within ${WITHIN} tap px = ${4 * WITHIN} image px; distances in tap px)`,
  );
  console.log(
    table(
      [
        'weights',
        'features',
        `source: within ${WITHIN}`,
        'median',
        `held out: within ${WITHIN}`,
        'median',
        'points',
      ],
      rows,
    ),
  );
  console.log(`live tensors at the end: ${tf.memory().numTensors}`);
}

async function run(args: BenchArgs): Promise<void> {
  console.log(
    header('heatmap: feature pass, query latency, and correspondence of a trained style', [
      ...machineLines(),
      [
        'speed',
        `random-weight style: G ngf ${SPEED_NET.ngf}, ${SPEED_NET.nBlocks} blocks; H dim ` +
          `${SPEED_NET.dim} on ${defaultTaps(SPEED_NET.nBlocks).join(', ')}; working long side ` +
          `1024; ${QUERIES} queries per tap`,
      ],
      [
        'images',
        `${ELEPHANTS} resized with sharp to ${(args.quick ? QUICK_SIZES : SIZES).join(', ')} Mpx (PNG)`,
      ],
      ['engines', 'TF.js on each backend, then ONNX Runtime (cpu provider) in its own process'],
      ['backends', args.backend ?? 'every one that loads except cpu (ask with --backend cpu)'],
      ['mode', args.quick ? 'quick (proof: 100 training steps)' : 'full (proof: 300 steps)'],
    ]),
  );
  const work = await mkdtemp(path.join(os.tmpdir(), 'patchwork-heatmap-bench-'));
  try {
    await speed(args, work);
    await proof(args, work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export const heatmapCase = {
  summary:
    'heatmap first map, feature pass and query latency at 0.25/1/2.4/4 Mpx on TF.js and ONNX ' +
    'Runtime; trained vs random res1 matches',
  run,
};
