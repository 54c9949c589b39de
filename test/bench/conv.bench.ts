/**
 * Bench case `conv`: how fast the wasm engine does a convolution's arithmetic, against PyTorch
 * on the same cores. For the largest convolutions of the paper's networks (256² crop, batch 1,
 * unpadded: the engine pads before it convolves) it times the forward convolution (XNNPACK),
 * the input gradient and the filter gradient (the engine's own kernels, wasm-kernels.ts), in
 * GFLOP/s (2 × multiply-adds per second), at 1 thread and every core, each thread count in a
 * fresh process; PyTorch (conv_reference.py) times the same three at the same thread count.
 *
 * A training step is mostly these three, so the ratio here is the floor under the `step`
 * case's ratio: whatever the rest of the step costs comes on top.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../main/engine/backend';
import type { BenchArgs } from './index';
import {
  benchThreads,
  header,
  loadLine,
  machineLines,
  median,
  QuietRunner,
  runInChild,
  scaling,
  table,
} from './machine';
import { NOT_INSTALLED, benchScript, runPython, torchStatus } from './pytorch';

export interface ConvCase {
  label: string;
  /** NHWC input, already padded. */
  x: [number, number, number, number];
  outC: number;
  k: number;
}

/** The largest convolutions of the paper's G (ngf 64, 9 blocks) and D (ndf 64) at 256². */
export const CONV_CASES: ConvCase[] = [
  { label: 'G residual 3×3 256→256 at 64²', x: [1, 66, 66, 256], outC: 256, k: 3 },
  { label: 'G stem 7×7 3→64 at 256²', x: [1, 262, 262, 3], outC: 64, k: 7 },
  { label: 'G encoder 3×3 64→128 at 256²', x: [1, 258, 258, 64], outC: 128, k: 3 },
  { label: 'G output 7×7 64→3 at 256²', x: [1, 262, 262, 64], outC: 3, k: 7 },
  { label: 'D 4×4 64→128 at 128²', x: [1, 131, 131, 64], outC: 128, k: 4 },
];

export const OPS = ['forward', 'input_grad', 'filter_grad'] as const;
type Op = (typeof OPS)[number];
const OP_NAMES: Record<Op, string> = {
  forward: 'forward (Conv2D)',
  input_grad: 'input gradient',
  filter_grad: 'filter gradient',
};

/** Floating-point operations of one convolution (each gradient has the same count). */
export function convFlops(c: ConvCase): number {
  const [n, h, w, cin] = c.x;
  return 2 * n * (h - c.k + 1) * (w - c.k + 1) * c.outC * cin * c.k * c.k;
}

type Times = Record<Op, number[]>;
interface Job {
  threads: number;
  repeats: number;
  cases: ConvCase[];
}
type Result =
  { ok: true; detail: string; rows: Times[]; cpuS: number } | { ok: false; error: string };

const WORKER_FLAG = '--conv-bench-worker';

function timed(run: () => tf.Tensor, repeats: number): number[] {
  run().dispose(); // operator set-up, heap growth
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    const t = run();
    times.push((performance.now() - start) / 1000);
    t.dispose();
  }
  return times;
}

async function worker(job: Job): Promise<Result> {
  process.env.PATCHWORK_THREADS = String(job.threads);
  const report = await initBackend('wasm');
  const rows = job.cases.map((c): Times => {
    const [n, h, w, cin] = c.x;
    const ho = h - c.k + 1;
    const wo = w - c.k + 1;
    const x = tf.randomNormal(c.x) as tf.Tensor4D;
    const filter = tf.randomNormal([c.k, c.k, cin, c.outC]) as tf.Tensor4D;
    const dy = tf.randomNormal([n, ho, wo, c.outC]) as tf.Tensor4D;
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined };
    const times = {
      forward: timed(() => tf.conv2d(x, filter, 1, 'valid'), job.repeats),
      input_grad: timed(
        () =>
          tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, {
            ...attrs,
            inputShape: c.x,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        job.repeats,
      ),
      filter_grad: timed(
        () =>
          tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
            ...attrs,
            filterShape: [c.k, c.k, cin, c.outC],
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        job.repeats,
      ),
    };
    tf.dispose([x, filter, dy]);
    return times;
  });
  const u = process.cpuUsage();
  return { ok: true, detail: report.detail, rows, cpuS: (u.user + u.system) / 1e6 };
}

if (process.argv[2] === WORKER_FLAG) {
  const job = JSON.parse(process.argv[3]) as Job;
  worker(job)
    .catch((err: unknown): Result => ({ ok: false, error: (err as Error).message }))
    .then((result) => {
      if (process.send) process.send(result, () => process.disconnect());
      else console.log(JSON.stringify(result));
    });
}

async function runWasm(job: Job): Promise<Result> {
  const self = fileURLToPath(import.meta.url);
  const out = await runInChild(self, [WORKER_FLAG, JSON.stringify(job)], 1_800_000);
  if (out.message) return out.message as Result;
  return { ok: false, error: `worker ended with ${out.exit}: ${out.outputTail}` };
}

interface PyConv {
  torch: string;
  threads: number;
  rows: ({ label: string } & Times)[];
  cpu_s: number;
}

async function runTorch(job: Job): Promise<Result> {
  try {
    const r = await runPython<PyConv>(benchScript('conv_reference.py'), [
      '--threads',
      String(job.threads),
      '--repeats',
      String(job.repeats),
      '--cases',
      JSON.stringify(job.cases),
    ]);
    return { ok: true, detail: `PyTorch ${r.torch}`, rows: r.rows, cpuS: r.cpu_s };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

const gflops = (c: ConvCase, s: number) => (convFlops(c) / s / 1e9).toFixed(1);

async function run(args: BenchArgs): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const counts = benchThreads(args.threads);
  const repeats = args.quick ? 3 : 7;
  const torch = torchStatus();
  const runner = new QuietRunner(args.quick ? 60 : 180, log);
  const ownCpu = (r: Result) => (r.ok ? r.cpuS : null);
  const wasm = new Map<number, { r: Result; load: number | null }>();
  const py = new Map<number, { r: Result; load: number | null }>();
  for (const threads of counts) {
    const job = { threads, repeats, cases: CONV_CASES };
    log(`conv: wasm at ${threads} thread(s)…`);
    const w = await runner.run(`wasm ×${threads}`, () => runWasm(job), ownCpu);
    wasm.set(threads, { r: w.result, load: w.otherLoad });
    if (torch.available) {
      log(`conv: PyTorch at ${threads} thread(s)…`);
      const p = await runner.run(`PyTorch ×${threads}`, () => runTorch(job), ownCpu);
      py.set(threads, { r: p.result, load: p.otherLoad });
    }
  }
  const first = [...wasm.values()][0]?.r;
  console.log(
    header('conv: one convolution’s arithmetic rate, wasm engine vs PyTorch (GFLOP/s)', [
      ...machineLines(),
      ['wasm', first?.ok ? first.detail : `failed: ${first && !first.ok ? first.error : ''}`],
      [
        'PyTorch',
        torch.available ? `${torch.version}, CPU, torch.set_num_threads(n)` : NOT_INSTALLED,
      ],
      ['timing', `median of ${repeats} after one untimed run; batch 1, unpadded (valid)`],
      ['load', loadLine()],
    ]),
  );
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const [i, c] of CONV_CASES.entries()) {
    for (const op of OPS) {
      const w1 = wasm.get(counts[0])?.r;
      const w1s = w1?.ok ? median(w1.rows[i][op]) : NaN;
      for (const threads of counts) {
        const w = wasm.get(threads);
        const p = py.get(threads);
        const ws = w?.r.ok ? median(w.r.rows[i][op]) : NaN;
        const ps = p?.r.ok ? median(p.r.rows[i][op]) : NaN;
        rows.push([
          c.label,
          OP_NAMES[op],
          String(threads),
          Number.isFinite(ws) ? (ws * 1000).toFixed(1) : 'failed',
          Number.isFinite(ws) ? gflops(c, ws) : '–',
          Number.isFinite(ps) ? (ps * 1000).toFixed(1) : '–',
          Number.isFinite(ps) ? gflops(c, ps) : '–',
          Number.isFinite(ws) && Number.isFinite(ps) ? `${(ws / ps).toFixed(2)}×` : '–',
          threads === counts[0] ? '–' : scaling(w1s, ws, threads),
          `${w?.load?.toFixed(2) ?? '–'} / ${p?.load?.toFixed(2) ?? '–'}`,
        ]);
      }
    }
  }
  for (const [side, m] of [
    ['wasm', wasm],
    ['PyTorch', py],
  ] as const) {
    for (const [threads, { r }] of m) if (!r.ok) notes.push(`${side} ×${threads}: ${r.error}`);
  }
  console.log(
    table(
      [
        'convolution',
        'op',
        'threads',
        'wasm ms',
        'wasm GFLOP/s',
        'PyTorch ms',
        'PyTorch GFLOP/s',
        'wasm/PyTorch',
        'wasm vs 1 thread',
        'other load (wasm / PyTorch)',
      ],
      rows,
    ),
  );
  if (notes.length) console.log(`\nnotes:\n${notes.map((n) => `- ${n}`).join('\n')}`);
}

export const convCase = {
  summary:
    'GFLOP/s of the paper networks’ largest convolutions (forward, input and filter gradient), wasm vs PyTorch, per thread count',
  run,
};
