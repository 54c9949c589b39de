/**
 * (Over 600 lines: the case's child-process worker, PyTorch side, table and --profile mode
 * share its Job and Config types; split the profile mode out when the case grows further.)
 *
 * Bench case `step`: seconds per training step of CUT and of FastCUT (one `trainStep`: the D
 * update, then the G+H update) and seconds per generator forward, on each TF.js backend that
 * loads, beside PyTorch on the CPU running the same model and step
 * (test/fixtures/reference/cut_reference.py, through step_reference.py).
 *
 * Configurations: the paper's (256², ngf 64, 9 blocks, ndf 64, 256 patches); the same
 * networks on 96² crops (for comparison with figures from before the paper-size step fitted
 * the wasm heap); a small one (128², ngf 16, 2 blocks, ndf 16); and the studio's sample
 * configuration ("Try it with the sample images": FastCUT, 64², ngf 16, 4 blocks, ndf 16).
 * `--config` picks configurations and measures by name (`--config sample,fastcut`). Each row
 * is printed as soon as it is measured; each configuration's table follows its last row.
 * Every measurement runs in a fresh child process, so its peak RSS is its own and a backend
 * that fails to load, aborts or crashes takes only its own rows with it. Warm-up iterations
 * (kernel set-up, heap growth, Adam's lazily made moments) are not timed; the figure is the
 * median of the timed ones.
 *
 * Thread counts (`--threads`, default 1 and every physical core): the wasm engine and PyTorch
 * run at each, side by side, with the speed-up over 1 thread and its efficiency; the other
 * backends, which pick their own threads, run once.
 *
 * With `--profile` it instead profiles one wasm CUT step of the paper networks with
 * `tf.profile` and ranks kernels by total time: what bounds a wasm step.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { resolveTrainOptions, type Preset } from '../../shared/options';
import { BACKENDS, initBackend, type BackendName } from '../../main/engine/backend';
import { ResnetGenerator } from '../../main/engine/model/generator';
import { Rng } from '../../main/engine/rng';
import { CutModel } from '../../main/engine/train/cut-model';
import {
  discriminatorGradsAsync,
  drawSampling,
  generatorGradsAsync,
  trainStepAsync,
} from '../../main/engine/train/train-step';
import {
  DISTURBED,
  QuietRunner,
  benchThreads,
  scaling,
  header,
  machineLines,
  median,
  peakRssMiB,
  runInChild,
  seconds,
  table,
} from './machine';
import { NOT_INSTALLED, PYTHON, benchScript, runPython, torchStatus } from './pytorch';

// ---------------------------------------------------------------------------------------------
// What is measured
// ---------------------------------------------------------------------------------------------

interface Config {
  key: string;
  size: number;
  ngf: number;
  ndf: number;
  nBlocks: number;
  numPatches: number;
  /** Seconds per step, not tenths: fewer iterations. */
  heavy: boolean;
  /** What is measured when `--config` names no measure; default all of MEASURES. */
  measures?: Measure[];
  /** Shown in the header beside the configuration. */
  note?: string;
}

const PAPER_NETS = { ngf: 64, ndf: 64, nBlocks: 9, numPatches: 256, heavy: true };
const CONFIGS: Config[] = [
  { key: 'paper', size: 256, ...PAPER_NETS },
  { key: 'paper@96', size: 96, ...PAPER_NETS },
  { key: 'small', size: 128, ngf: 16, ndf: 16, nBlocks: 2, numPatches: 256, heavy: false },
  {
    key: 'sample',
    size: 64,
    ngf: 16,
    ndf: 16,
    nBlocks: 4,
    numPatches: 256,
    heavy: false,
    measures: ['forward', 'fastcut'],
    note: 'the studio sample ("Try it with the sample images"): FastCUT, 300 steps',
  },
];
/** For a software GPU adapter (SwiftShader): a correctness run, not a speed figure. */
const SOFTWARE_CONFIGS: Config[] = [
  { key: 'tiny', size: 32, ngf: 4, ndf: 4, nBlocks: 1, numPatches: 16, heavy: true },
];

type Measure = 'forward' | Preset;
const MEASURES: Measure[] = ['forward', 'fastcut', 'cut'];
const MEASURE_LABEL: Record<Measure, string> = {
  forward: 'G forward',
  fastcut: 'FastCUT step',
  cut: 'CUT step',
};

function iterations(cfg: Config, m: Measure, quick: boolean, backend = '') {
  if (backend === 'cpu') return { warmup: 1, timed: 2 }; // seconds per forward even when small
  if (cfg.heavy && m === 'forward') return { warmup: 1, timed: quick ? 1 : 3 };
  if (cfg.heavy) return { warmup: 1, timed: quick ? 1 : 3 };
  if (m === 'forward') return { warmup: 2, timed: quick ? 3 : 10 };
  return { warmup: 1, timed: quick ? 2 : 5 };
}

/** Why the `cpu` backend does not run a measurement, or null where it does. */
function cpuSkipReason(cfg: Config, m: Measure): string | null {
  if (cfg.heavy) {
    return 'cpu: skipped for the paper networks: its plain-JavaScript kernels need minutes per forward';
  }
  if (m !== 'forward') {
    return (
      'cpu: training steps skipped: one step needs many minutes even at the small ' +
      'configuration (Conv2DBackpropFilter and UnsortedSegmentSum in plain JavaScript; ' +
      'see test/bench/README.md)'
    );
  }
  return null;
}

function describeConfig(c: Config): string {
  return (
    `${c.size}×${c.size}, ngf ${c.ngf}, ${c.nBlocks} blocks, ndf ${c.ndf}, ` +
    `${c.numPatches} patches, batch 1` +
    (c.note ? ` (${c.note})` : '')
  );
}

/** What `--config` selects: configurations and measures by name; the defaults where absent. */
export interface StepSelection {
  configs: Config[];
  /** Measures named on the command line; null: each configuration's own. */
  measures: Measure[] | null;
}

/**
 * Parses `--config` names (configuration keys and measure names, in any mix). Throws, listing
 * the known names, on an unknown one.
 */
export function selectStep(names: string[] | undefined, all: Config[] = CONFIGS): StepSelection {
  if (!names?.length) return { configs: all, measures: null };
  const configs: Config[] = [];
  const measures: Measure[] = [];
  for (const name of names) {
    const cfg = all.find((c) => c.key === name);
    if (cfg) configs.push(cfg);
    else if ((MEASURES as string[]).includes(name)) measures.push(name as Measure);
    else {
      const known = [...all.map((c) => c.key), ...MEASURES].join(', ');
      throw new Error(`--config: unknown name "${name}" (known: ${known})`);
    }
  }
  return { configs: configs.length ? configs : all, measures: measures.length ? measures : null };
}

export function measuresOf(cfg: Config, sel: StepSelection): Measure[] {
  return sel.measures ?? cfg.measures ?? MEASURES;
}

// ---------------------------------------------------------------------------------------------
// Child process: one measurement
// ---------------------------------------------------------------------------------------------

type Job =
  | { kind: 'probe'; backend: BackendName; threads: number }
  | {
      kind: 'time';
      backend: BackendName;
      threads: number;
      config: Config;
      measure: Measure;
      warmup: number;
      timed: number;
    }
  | { kind: 'profile'; backend: BackendName; threads: number; config: Config; preset: Preset };

interface KernelRow {
  name: string;
  calls: number;
  ms: number;
  /** The slowest single call: its time and input shapes, to tell which layer it was. */
  slowestMs: number;
  slowestShapes: string;
  /** Not a kernel but a custom-gradient scope: its time is that of the kernels inside it,
   * which the profile lists as well. */
  scope: boolean;
}

type JobResult =
  | {
      ok: true;
      detail: string;
      /** Process CPU seconds (user + system), for the other-load estimate. */
      cpuS: number;
      peakRssMiB: number;
      times?: number[];
      leakedTensors?: number;
      profile?: KernelRow[];
      profiledWallMs?: number;
      /** tf.profile's peak of live tensor bytes during the profiled step. */
      peakTensorBytes?: number;
      /** Milliseconds of each phase of a step, per unprofiled step (profile mode). */
      phases?: Record<Phase, number[]>;
    }
  | { ok: false; error: string; outOfMemory?: boolean; peakRssMiB?: number };

const WORKER_FLAG = '--step-bench-worker';
const SEED = 7;

async function worker(job: Job): Promise<JobResult> {
  process.env.PATCHWORK_THREADS = String(job.threads);
  const report = await initBackend(job.backend);
  const done = (extra: object): JobResult => ({
    ok: true,
    detail: report.detail,
    cpuS: cpuSeconds(),
    peakRssMiB: peakRssMiB(),
    ...extra,
  });
  if (job.kind === 'probe') return done({});

  const c = job.config;
  const [realA, realB] = [1, 2].map(
    (s) => tf.randomUniform([1, c.size, c.size, 3], -1, 1, 'float32', SEED + s) as tf.Tensor4D,
  );

  if (job.kind === 'time' && job.measure === 'forward') {
    const G = ResnetGenerator.create({ ngf: c.ngf, nBlocks: c.nBlocks }, 0.02, new Rng(SEED));
    const times = await repeat(job.warmup, job.timed, async () => {
      const y = G.forward(realA); // [1, size, size, 3]
      await y.data(); // webgpu has no synchronous read in Node
      y.dispose();
    });
    return done({ times });
  }

  const preset: Preset = job.kind === 'time' ? (job.measure as Preset) : job.preset;
  const opts = resolveTrainOptions({
    preset,
    ngf: c.ngf,
    ndf: c.ndf,
    nBlocks: c.nBlocks,
    numPatches: c.numPatches,
    cropSize: c.size,
    loadSize: c.size,
    seed: SEED,
  });
  const model = CutModel.create(opts, SEED);
  const rng = new Rng(SEED + 3);
  // The sampling is drawn before the clock starts, as the PyTorch side draws its ids.
  const step = async () => {
    const sampling = drawSampling(model, c.size, c.size, rng);
    const start = performance.now();
    await trainStepAsync(model, realA, realB, sampling);
    return (performance.now() - start) / 1000;
  };

  if (job.kind === 'profile') {
    await step(); // warm-up: Adam's moments, kernel set-up, heap growth
    const phases = await timePhases(model, realA, realB, rng, PHASE_STEPS);
    const sampling = drawSampling(model, c.size, c.size, rng);
    const start = performance.now();
    const info = await tf.profile(async () => {
      await trainStepAsync(model, realA, realB, sampling);
    });
    const profiledWallMs = performance.now() - start;
    return done({
      profile: kernelsByName(info.kernels),
      profiledWallMs,
      peakTensorBytes: info.peakBytes,
      phases,
    });
  }

  const times: number[] = [];
  let before = 0;
  for (let i = 0; i < job.warmup + job.timed; i++) {
    if (i === job.warmup) before = tf.memory().numTensors;
    const s = await step();
    if (i >= job.warmup) times.push(s);
  }
  return done({ times, leakedTensors: tf.memory().numTensors - before });
}

const PHASES = ['sampling', 'D grads', 'D Adam', 'G+H grads', 'G+H Adam', 'step'] as const;
type Phase = (typeof PHASES)[number];
/** Unprofiled steps whose phases are timed in profile mode. */
const PHASE_STEPS = 3;

/**
 * Wall milliseconds of each phase of `steps` steps, run as `trainStepAsync` runs them (D's
 * gradients and their loss read, D's Adam, then G and H's), without the profiler's overhead.
 */
async function timePhases(
  model: CutModel,
  realA: tf.Tensor4D,
  realB: tf.Tensor4D,
  rng: Rng,
  steps: number,
): Promise<Record<Phase, number[]>> {
  const out = Object.fromEntries(PHASES.map((p) => [p, [] as number[]])) as Record<Phase, number[]>;
  const size = realA.shape[1];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    let last = start;
    const lap = (phase: Phase) => {
      const now = performance.now();
      out[phase].push(now - last);
      last = now;
    };
    const sampling = drawSampling(model, size, size, rng);
    lap('sampling');
    const d = await discriminatorGradsAsync(model, realA, realB, sampling);
    lap('D grads');
    model.applyD(d.grads);
    lap('D Adam');
    const g = await generatorGradsAsync(model, realA, realB, sampling);
    lap('G+H grads');
    model.applyGH(g.grads);
    lap('G+H Adam');
    out.step.push(performance.now() - start);
  }
  return out;
}

type ProfiledKernel = Awaited<ReturnType<typeof tf.profile>>['kernels'][number];

function kernelsByName(kernels: ProfiledKernel[]): KernelRow[] {
  const byName = new Map<string, KernelRow>();
  for (const k of kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    let row = byName.get(k.name);
    if (!row) {
      const scope = !tf.getKernel(k.name, tf.getBackend());
      row = { name: k.name, calls: 0, ms: 0, slowestMs: -1, slowestShapes: '', scope };
      byName.set(k.name, row);
    }
    row.calls += 1;
    row.ms += ms;
    if (ms > row.slowestMs) {
      row.slowestMs = ms;
      row.slowestShapes = k.inputShapes
        .map((sh: number[] | null) => `[${sh?.join(',') ?? ''}]`)
        .join(' ');
    }
  }
  return [...byName.values()];
}

/** Seconds of each timed call of `run`, after `warmup` untimed ones. */
async function repeat(warmup: number, timed: number, run: () => Promise<void>) {
  const times: number[] = [];
  for (let i = 0; i < warmup + timed; i++) {
    const start = performance.now();
    await run();
    if (i >= warmup) times.push((performance.now() - start) / 1000);
  }
  return times;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * The wasm module's heap stops at 4 GiB (wasm32). Running into it shows up as an abort, or, when
 * a kernel got no buffer, as a trap in the next kernel (out-of-bounds access, division by zero):
 * any trap with the heap near its cap counts as out of memory.
 */
const WASM_HEAP_CAP = 4 * 2 ** 30;

function wasmHeapBytes(): number | null {
  try {
    const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
    return backend.wasm?.HEAPU8?.byteLength ?? null;
  } catch {
    return null;
  }
}

/** A failure, with what the process knew about its memory when it happened. */
function failure(job: Job, err: unknown): JobResult {
  let error = errorText(err);
  const heap = job.backend === 'wasm' ? wasmHeapBytes() : null;
  const trapped = (err instanceof Error && err.name === 'RuntimeError') || /^Aborted\(/.test(error);
  const outOfMemory = trapped && heap !== null && heap > 0.9 * WASM_HEAP_CAP;
  if (outOfMemory) {
    let live = '';
    try {
      live = `, live tensors ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MiB`;
    } catch {
      // The engine's bookkeeping may be unreadable after the trap; the heap size says enough.
    }
    const gib = ((heap ?? 0) / 2 ** 30).toFixed(2);
    error = `wasm out of memory: "${error}" with its heap at ${gib} of 4 GiB${live}`;
  } else if (trapped && heap !== null) {
    error = `${error} (wasm heap ${(heap / 2 ** 20).toFixed(0)} MiB)`;
  }
  return { ok: false, error, outOfMemory, peakRssMiB: peakRssMiB() };
}

function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0];
}

if (process.argv[2] === WORKER_FLAG) {
  const job = JSON.parse(process.argv[3]) as Job;
  worker(job)
    .catch((err: unknown) => failure(job, err))
    .then((result) => {
      // Forked by the harness: answer over IPC. Run by hand: print the result.
      if (process.send) process.send(result, () => process.disconnect());
      else console.log(JSON.stringify(result));
    });
}

// ---------------------------------------------------------------------------------------------
// Parent: runs the jobs, each in its own process, and prints
// ---------------------------------------------------------------------------------------------

async function runJob(job: Job, timeoutMs = 900_000): Promise<JobResult> {
  const self = fileURLToPath(import.meta.url);
  const out = await runInChild(self, [WORKER_FLAG, JSON.stringify(job)], timeoutMs);
  if (out.message) return out.message as JobResult;
  const tail = out.outputTail ? `: ${out.outputTail.replace(/\n/g, ' | ')}` : '';
  return { ok: false, error: `worker ended with ${out.exit} and no result${tail}` };
}

interface PyResult {
  torch: string;
  threads: number;
  times: number[];
  peak_rss_mib: number;
  cpu_s: number;
}

function pythonJob(cfg: Config, m: Measure, quick: boolean, threads: number) {
  const { warmup, timed } = iterations(cfg, m, quick);
  const args = Object.entries({
    what: m,
    size: cfg.size,
    ngf: cfg.ngf,
    ndf: cfg.ndf,
    blocks: cfg.nBlocks,
    patches: cfg.numPatches,
    warmup,
    steps: timed,
    threads,
  }).flatMap(([k, v]) => [`--${k}`, String(v)]);
  return async (): Promise<JobResult> => {
    try {
      const r = await runPython<PyResult>(benchScript('step_reference.py'), args);
      return {
        ok: true,
        detail: r.torch,
        cpuS: r.cpu_s,
        peakRssMiB: r.peak_rss_mib,
        times: r.times,
      };
    } catch (err) {
      return { ok: false, error: errorText(err) };
    }
  };
}

const ownCpu = (r: JobResult) => (r.ok ? r.cpuS : null);

export interface StepArgs {
  backend?: string;
  quick: boolean;
  profile: boolean;
  threads?: number[];
  /** `--config`: configuration keys and measure names; default every configuration. */
  config?: string[];
}

export async function runStepBench(args: StepArgs): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const wanted = args.backend ? [args.backend] : [...BACKENDS];
  for (const b of wanted) {
    if (!(BACKENDS as readonly string[]).includes(b)) {
      throw new Error(`unknown backend "${b}" (expected one of ${BACKENDS.join(', ')})`);
    }
  }
  const selection = selectStep(args.config); // before any work: a typo fails at once
  const runner = new QuietRunner(args.quick ? 60 : 180, log);
  const counts = benchThreads(args.threads);
  const most = counts[counts.length - 1];

  // Which backends load, each tried in its own process: a failure is printed, not fatal.
  const loaded: BackendName[] = [];
  const backendLines: [string, string][] = [];
  for (const b of wanted as BackendName[]) {
    if (args.profile && b !== 'wasm') continue;
    const r = await runJob({ kind: 'probe', backend: b, threads: most });
    if (r.ok) loaded.push(b);
    backendLines.push([`backend ${b}`, r.ok ? r.detail : `not available: ${r.error}`]);
  }
  if (args.profile) {
    const profiled = args.config ? selection : null;
    const threads = args.threads?.[0] ?? 1;
    return profileCase(args.quick, profiled, backendLines, loaded, runner, log, threads);
  }
  // A software GPU adapter alone (SwiftShader): tiny networks, to show that it runs.
  const software = loaded.length === 1 && /software adapter/.test(backendLines[0]?.[1] ?? '');
  const configs = software ? SOFTWARE_CONFIGS : selection.configs;
  if (software)
    backendLines.push(['note', 'software adapter: correctness only, not a speed figure']);

  const torch = torchStatus();
  const pyLine = torch.available
    ? `${torch.version} (${PYTHON}), torch.set_num_threads(n) for n in ${counts.join(', ')}`
    : NOT_INSTALLED;
  console.log(
    header('bench step: seconds per CUT / FastCUT training step and per generator forward', [
      ...machineLines(),
      ...backendLines,
      ['pytorch', pyLine],
      ...configs.map((c): [string, string] => [`config ${c.key}`, describeConfig(c)]),
      ['step', 'one trainStep: G forward, D Adam step, G+H Adam step through the updated D'],
      ['forward', 'G.forward on one image, no gradient tape (PyTorch: torch.no_grad)'],
      ['threads', `wasm and PyTorch at ${counts.join(' and ')} threads (row "×n")`],
      ['figure', 'median of the timed iterations (n); warm-up iterations excluded'],
      ['vs 1 thread', 'speed-up over the same row at 1 thread (efficiency: speed-up / threads)'],
      ['peak RSS', 'of the fresh process that made that one measurement'],
      ['other load', `cores other processes used meanwhile (> ${DISTURBED}: suspect)`],
      ['mode', args.quick ? 'quick (fewer iterations)' : 'full'],
    ]),
  );
  if (!torch.available) console.log(`\n${NOT_INSTALLED}`);

  const notes = new Set<string>();
  const outOfMemory = new Set<string>(); // "backend config" pairs that ran out of memory
  let suspect = 0; // figures other processes disturbed
  for (const cfg of configs) {
    const rows: string[][] = [];
    // Each row as soon as it is measured (a full run takes hours); the table after the last.
    const emit = (row: string[]) => {
      rows.push(row);
      console.log(`row ${cfg.key}: ${COLUMNS.map((c, i) => `${c} ${row[i]}`).join(' | ')}`);
    };
    for (const m of measuresOf(cfg, selection)) {
      /** Medians at 1 thread by row name, for the scaling column. */
      const single = new Map<string, number>();
      const scale = (who: string, n: number, r: JobResult): string => {
        const med = r.ok && r.times?.length ? median(r.times) : NaN;
        if (n === 1) single.set(who, med);
        return scaling(single.get(who) ?? NaN, med, n);
      };
      for (const threads of counts) {
        const what = `${cfg.key} · ${MEASURE_LABEL[m]} · ×${threads}`;
        let py: Row | null = null;
        let pyScale = '–';
        if (torch.available) {
          const { warmup, timed } = iterations(cfg, m, args.quick);
          log(`  ${what} · pytorch (${warmup} warm-up + ${timed}) …`);
          const t = await runner.run(what, pythonJob(cfg, m, args.quick, threads), ownCpu);
          py = { ...t, who: `pytorch ×${threads}` };
          pyScale = scale('pytorch', threads, t.result);
          if ((t.otherLoad ?? 0) > DISTURBED) suspect++;
          if (!t.result.ok) notes.add(`pytorch ${what}: ${t.result.error}`);
        }
        for (const b of loaded) {
          // Only wasm takes a thread count; the others run once, beside the most threads.
          if (b !== 'wasm' && threads !== most) continue;
          const skip = b === 'cpu' ? cpuSkipReason(cfg, m) : null;
          if (skip) {
            notes.add(skip);
            continue;
          }
          if (m === 'cut' && outOfMemory.has(`${b} ${cfg.key}`)) {
            // A CUT step holds more than a FastCUT one (A and B go through G together).
            emit(figureRow(m, { who: b, result: SKIPPED_OOM, otherLoad: null }, py, '–'));
            notes.add(`${b} ${what}: skipped, the FastCUT step already ran out of memory`);
            continue;
          }
          const { warmup, timed } = iterations(cfg, m, args.quick, b);
          log(`  ${what} · ${b} (${warmup} warm-up + ${timed}) …`);
          const job: Job = {
            kind: 'time',
            backend: b,
            threads,
            config: cfg,
            measure: m,
            warmup,
            timed,
          };
          const t = await runner.run(`${what} · ${b}`, () => runJob(job), ownCpu);
          const who = b === 'wasm' ? `wasm ×${threads}` : b;
          emit(figureRow(m, { ...t, who }, py, b === 'wasm' ? scale(b, threads, t.result) : '–'));
          if ((t.otherLoad ?? 0) > DISTURBED) suspect++;
          if (!t.result.ok) {
            notes.add(`${b} ${what}: ${t.result.error}`);
            if (t.result.outOfMemory) outOfMemory.add(`${b} ${cfg.key}`);
          } else if (t.result.leakedTensors) {
            notes.add(`${b} ${what}: ${t.result.leakedTensors} tensors left after ${timed} steps`);
          }
        }
        if (py) emit(figureRow(m, py, null, pyScale));
      }
    }
    console.log(`\n${cfg.key}: ${describeConfig(cfg)}`);
    console.log(table(COLUMNS, rows));
  }
  console.log(`\nload at the end: ${machineLines().find(([l]) => l === 'load')?.[1]}`);
  if (suspect > 0) {
    console.log(
      `${suspect} of the figures above ran while other processes used more than ${DISTURBED} ` +
        `cores: treat them (and their ratios) as suspect and re-run on a quiet machine`,
    );
  }
  if (notes.size) console.log(['notes:', ...[...notes].map((n) => `  - ${n}`)].join('\n'));
}

interface Row {
  who: string;
  result: JobResult;
  otherLoad: number | null;
}

const COLUMNS = [
  'measure',
  'backend',
  'median s',
  'min–max s',
  'n',
  'PyTorch s',
  'TF.js/PyTorch',
  'vs 1 thread',
  'peak RSS MiB',
  'other load',
];

const SKIPPED_OOM: JobResult = { ok: false, error: 'skipped', outOfMemory: true };

function figureRow(m: Measure, row: Row, py: Row | null, scale: string): string[] {
  const dash = '–';
  const r = row.result;
  const load = row.otherLoad === null ? dash : row.otherLoad.toFixed(2);
  if (!r.ok) {
    const rss = r.peakRssMiB === undefined ? dash : r.peakRssMiB.toFixed(0);
    const what = r === SKIPPED_OOM ? 'skipped' : r.outOfMemory ? 'OOM' : 'failed';
    return [MEASURE_LABEL[m], row.who, what, dash, dash, dash, dash, dash, rss, load];
  }
  const times = r.times ?? [];
  const med = median(times);
  const pyMed = py?.result.ok && py.result.times ? median(py.result.times) : NaN;
  return [
    MEASURE_LABEL[m],
    row.who,
    seconds(med),
    times.length ? `${seconds(Math.min(...times))}–${seconds(Math.max(...times))}` : dash,
    String(times.length),
    Number.isFinite(pyMed) ? seconds(pyMed) : dash,
    Number.isFinite(pyMed) ? `${(med / pyMed).toFixed(2)}×` : dash,
    scale,
    r.peakRssMiB.toFixed(0),
    load,
  ];
}

// ---------------------------------------------------------------------------------------------
// --profile: what bounds one wasm CUT step of the paper networks
// ---------------------------------------------------------------------------------------------

const TOP_KERNELS = 12;
/** Crop sides tried in turn: the paper's, then smaller ones while 256² exceeds the wasm heap. */
const PROFILE_SIDES = [256, 96, 64];

async function profileCase(
  quick: boolean,
  selection: StepSelection | null,
  backendLines: [string, string][],
  loaded: BackendName[],
  runner: QuietRunner,
  log: (s: string) => void,
  threads: number,
): Promise<void> {
  const paper = CONFIGS[0];
  const small = CONFIGS[2];
  // `--config` names what to profile (the first configuration, the first step measure);
  // otherwise the paper networks, from the largest side that fits, or `small` with --quick.
  const chosen = selection?.configs[0];
  const candidates = chosen
    ? [chosen]
    : quick
      ? [small]
      : PROFILE_SIDES.map((size) => ({ ...paper, key: `paper@${size}`, size }));
  // The step named in `--config`, else the configuration's own (sample: FastCUT), else CUT.
  const named = (selection?.measures ?? chosen?.measures ?? ['cut']).filter(
    (m): m is Preset => m !== 'forward',
  );
  const preset: Preset = named[0] ?? 'cut';
  console.log(
    header(`bench step --profile: kernels of one wasm ${MEASURE_LABEL[preset]} (tf.profile)`, [
      ...machineLines(),
      ...backendLines,
      ['networks', describeConfig(chosen ?? (quick ? small : paper))],
      [
        'profiled',
        `one ${preset} trainStep after one warm-up step; kernel time summed by kernel name`,
      ],
      ['phases', `wall ms of each phase over ${PHASE_STEPS} unprofiled steps before it`],
      ['threads', `${threads} (the first of --threads, default 1)`],
    ]),
  );
  if (!loaded.includes('wasm')) {
    console.log('\nwasm did not load: nothing to profile');
    return;
  }
  for (const cfg of candidates) {
    log(`  profiling one wasm ${preset} step at ${cfg.size}×${cfg.size} …`);
    const job: Job = { kind: 'profile', backend: 'wasm', threads, config: cfg, preset };
    const t = await runner.run('profile', () => runJob(job), ownCpu);
    const r = t.result;
    if (!r.ok || !r.profile) {
      const why = r.ok ? 'no kernels recorded' : r.error;
      const rss = !r.ok && r.peakRssMiB ? ` (peak RSS ${r.peakRssMiB.toFixed(0)} MiB)` : '';
      console.log(`\n${cfg.size}×${cfg.size}: failed: ${why}${rss}`);
      continue;
    }
    console.log(`\nprofiled at ${describeConfig(cfg)}`);
    if (r.phases) printPhases(r.phases);
    printProfile(r.profile, r.profiledWallMs ?? NaN);
    const peak = r.peakTensorBytes === undefined ? '–' : (r.peakTensorBytes / 2 ** 20).toFixed(0);
    const load = t.otherLoad === null ? '–' : t.otherLoad.toFixed(2);
    console.log(
      `peak live tensors ${peak} MiB; peak RSS ${r.peakRssMiB.toFixed(0)} MiB; ` +
        `other load ${load} cores`,
    );
    return;
  }
}

function printPhases(phases: Record<Phase, number[]>): void {
  const step = median(phases.step);
  const rows = PHASES.map((p) => [
    p,
    median(phases[p]).toFixed(0),
    `${Math.min(...phases[p]).toFixed(0)}–${Math.max(...phases[p]).toFixed(0)}`,
    p === 'step' ? '' : `${((100 * median(phases[p])) / step).toFixed(1)}%`,
  ]);
  console.log(table(['phase', 'median ms', 'min–max ms', 'of step'], rows));
}

/** Kernels that do the convolutions' multiply-adds (the rest is the overhead around them). */
const CONV_KERNELS = new Set([
  'Conv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'BatchMatMul',
]);

function printProfile(profile: KernelRow[], wallMs: number): void {
  const kernels = profile.filter((k) => !k.scope).sort((x, y) => y.ms - x.ms);
  const scopes = profile.filter((k) => k.scope);
  const total = kernels.reduce((sum, k) => sum + k.ms, 0);
  const share = (ms: number) => `${((100 * ms) / total).toFixed(1)}%`;
  const rows = kernels
    .slice(0, TOP_KERNELS)
    .map((k) => [
      k.name,
      String(k.calls),
      k.ms.toFixed(0),
      share(k.ms),
      (k.ms / k.calls).toFixed(1),
      k.slowestMs.toFixed(0),
      k.slowestShapes,
    ]);
  const rest = kernels.slice(TOP_KERNELS);
  if (rest.length) {
    const ms = rest.reduce((sum, k) => sum + k.ms, 0);
    const calls = rest.reduce((sum, k) => sum + k.calls, 0);
    rows.push([`(${rest.length} others)`, String(calls), ms.toFixed(0), share(ms), '', '', '']);
  }
  console.log(
    table(
      ['kernel', 'calls', 'total ms', 'share', 'ms/call', 'slowest ms', 'slowest call inputs'],
      rows,
    ),
  );
  console.log(
    `kernel time ${seconds(total / 1000)} s of ${seconds(wallMs / 1000)} s wall for the ` +
      `profiled step (the rest: JavaScript between kernels, the gradient tape, the profiler)`,
  );
  const conv = kernels.filter((k) => CONV_KERNELS.has(k.name)).reduce((sum, k) => sum + k.ms, 0);
  const calls = kernels.reduce((sum, k) => sum + k.calls, 0);
  console.log(
    `convolution and matmul kernels (${[...CONV_KERNELS].join(', ')}): ${share(conv)} of ` +
      `kernel time; the other ${share(total - conv)} in ${calls} kernel calls in all`,
  );
  if (scopes.length) {
    const calls = scopes.reduce((sum, k) => sum + k.calls, 0);
    const ms = scopes.reduce((sum, k) => sum + k.ms, 0);
    console.log(
      `custom-gradient forwards (${scopes.map((k) => `"${k.name}"`).join(', ')}): ${calls} ` +
        `calls, ${ms.toFixed(0)} ms, already counted in the kernels they ran`,
    );
  }
}

export const stepCase = {
  summary: 'seconds per CUT / FastCUT step and per G forward, TF.js backends vs PyTorch CPU',
  run: runStepBench,
};
