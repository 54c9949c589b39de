/**
 * Bench case `convert`: megapixels per second and peak RSS of translating one image with a
 * generator, on each inference engine — TF.js (on `--backend`) and ONNX Runtime (its provider
 * chosen as conversion chooses it: hardware first, else cpu with threads = cores) — tiled
 * (`translateTiled` with the engine's tiles, default memory budget) and untiled (TF.js's
 * `translateImage`, ONNX Runtime's whole-generator graph),
 * at 1, 4 and 17.9 megapixels (the elephants photo, ../shared/datasets/highres, resized with
 * sharp for the smaller two), for a small generator (ngf 16, 6 blocks) and the paper's
 * (ngf 64, 9 blocks). Weights are random (speed does not depend on them). Beside it, PyTorch
 * on the CPU runs the same generator forward untiled at the same size (convert_reference.py,
 * threads = cores) where that fits in RAM.
 *
 * Every measurement runs in a fresh child process, so its peak RSS is its own (it includes the
 * decoded image and the output buffer) and an out-of-memory abort takes only its own row.
 * Timed: the translation call alone (decode and resize are not); a 64×64 translation first
 * sets up the kernels. One timed run per row: at these sizes a run is seconds to minutes.
 *
 * `--engine onnx|tfjs` runs only that engine's rows (PyTorch's beside them either way).
 * `--quick` leaves out the paper generator at 17.9 Mpx (tens of minutes on one wasm thread);
 * `--only CONFIG@MPX` (e.g. `--only paper@17.9`) is not an option: run the worker by hand,
 * see README.md.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../main/engine/backend';
import { pixelsToFloat } from '../../main/engine/data/image-io';
import { translateTiled } from '../../main/engine/infer/tiled-generator';
import { translateImageAsync } from '../../main/engine/infer/translate';
import { ResnetGenerator } from '../../main/engine/model/generator';
import { chooseEngine } from '../../main/engine/onnx/engine-choice';
import { ortTranslator, untiledBytes } from '../../main/engine/onnx/ort-translate';
import { Rng } from '../../main/engine/rng';
import type { BenchArgs } from './index';
import { header, loadLine, machineLines, peakRssMiB, runInChild, seconds, table } from './machine';
import { NOT_INSTALLED, benchScript, runPython, torchStatus } from './pytorch';

/** The photo beside the checkout (PATCHWORK_ELEPHANTS names it elsewhere, e.g. from a worktree). */
export const ELEPHANTS =
  process.env.PATCHWORK_ELEPHANTS ??
  fileURLToPath(
    new URL('../../../shared/datasets/highres/elephants-5640x3172.jpg', import.meta.url),
  );
const FULL = { width: 5640, height: 3172 };

interface Net {
  key: string;
  ngf: number;
  nBlocks: number;
}
const NETS: Net[] = [
  { key: 'small', ngf: 16, nBlocks: 6 },
  { key: 'paper', ngf: 64, nBlocks: 9 },
];
/** Target megapixels; the image keeps the photo's aspect ratio. */
const SIZES = [1, 4, 17.9];
/** On a software GPU adapter (PATCHWORK_SWIFTSHADER with --backend webgpu): does it run at all. */
const SOFTWARE_NETS: Net[] = [{ key: 'tiny', ngf: 4, nBlocks: 1 }];
const SOFTWARE_SIZES = [0.01];

type Mode = 'tiled' | 'untiled';
type Engine = 'tfjs' | 'onnx';
const ENGINES: Engine[] = ['tfjs', 'onnx'];
/** translateTiled's default budget, against which the tiled rows' peak RSS is read. */
const DEFAULT_BUDGET_MIB = 1024;

export function sizeFor(mpx: number): { width: number; height: number } {
  if (mpx >= 17.9) return FULL;
  const scale = Math.sqrt((mpx * 1e6) / (FULL.width * FULL.height));
  return { width: Math.round(FULL.width * scale), height: Math.round(FULL.height * scale) };
}

// ---------------------------------------------------------------------------------------------
// Child process: one translation
// ---------------------------------------------------------------------------------------------

export interface ConvertJob {
  /** Absent in hand-written jobs from before ONNX Runtime: tfjs. */
  engine?: Engine;
  backend: BackendName;
  net: Net;
  mpx: number;
  mode: Mode;
}

type ConvertResult =
  | {
      ok: true;
      detail: string;
      seconds: number;
      width: number;
      height: number;
      peakRssMiB: number;
      cpuS: number;
      load: string;
    }
  | { ok: false; error: string; peakRssMiB: number; load: string };

const WORKER_FLAG = '--convert-bench-worker';

async function loadImage(mpx: number) {
  const { width, height } = sizeFor(mpx);
  let pipeline = sharp(ELEPHANTS, { limitInputPixels: false }).removeAlpha();
  if (width !== FULL.width) pipeline = pipeline.resize(width, height, { fit: 'fill' });
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const { rgb } = pixelsToFloat(
    { data, width: info.width, height: info.height, channels: info.channels as 3 | 4 },
    8,
  );
  return { data: rgb, width: info.width, height: info.height };
}

async function worker(job: ConvertJob): Promise<ConvertResult> {
  const report = await initBackend(job.backend);
  const G = ResnetGenerator.create(
    { ngf: job.net.ngf, nBlocks: job.net.nBlocks },
    0.02,
    new Rng(7),
  );
  const image = await loadImage(job.mpx);
  let detail = report.detail;
  let translate = (im: typeof image) =>
    job.mode === 'tiled' ? translateTiled(G, im) : translateImageAsync(G, im);
  if (job.engine === 'onnx') {
    const chosen = await chooseEngine('onnx', 'resnet');
    if (chosen.engine !== 'onnx') throw new Error(chosen.detail);
    detail = chosen.detail;
    const ort = ortTranslator(G, { provider: chosen.provider });
    translate = (im) =>
      job.mode === 'tiled' ? ort.translateTiled(im, {}) : ort.translateUntiled(im);
  }
  await translate({ data: new Float32Array(64 * 64 * 3), width: 64, height: 64 }); // kernels
  const start = performance.now();
  const out = await translate(image);
  const s = (performance.now() - start) / 1000;
  if (out.data.length !== image.data.length) throw new Error('output size differs from input');
  const u = process.cpuUsage();
  return {
    ok: true,
    detail,
    seconds: s,
    width: image.width,
    height: image.height,
    peakRssMiB: peakRssMiB(),
    cpuS: (u.user + u.system) / 1e6,
    load: loadLine(),
  };
}

if (process.argv[2] === WORKER_FLAG) {
  const job = JSON.parse(process.argv[3]) as ConvertJob;
  worker(job)
    .catch((err: unknown): ConvertResult => {
      const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      let live = '';
      try {
        live = `; live tensors ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MiB`;
      } catch {
        // unreadable after a wasm abort
      }
      return { ok: false, error: msg + live, peakRssMiB: peakRssMiB(), load: loadLine() };
    })
    .then((result) => {
      if (process.send) process.send(result, () => process.disconnect());
      else console.log(JSON.stringify(result));
    });
}

// ---------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------

async function runJob(job: ConvertJob, timeoutMs: number): Promise<ConvertResult> {
  const self = fileURLToPath(import.meta.url);
  const out = await runInChild(self, [WORKER_FLAG, JSON.stringify(job)], timeoutMs);
  if (out.message) return out.message as ConvertResult;
  const tail = out.outputTail ? `: ${out.outputTail.replace(/\n/g, ' | ')}` : '';
  return {
    ok: false,
    error: `worker ended with ${out.exit} and no result${tail}`,
    peakRssMiB: NaN,
    load: loadLine(),
  };
}

interface PyConvert {
  torch: string;
  threads: number;
  seconds: number;
  peak_rss_mib: number;
}

/**
 * TF.js's untiled translation on wasm, floats per padded pixel per ngf at its peak: the small G
 * at 1 Mpx peaked at 2,182 MiB RSS (3,616 MiB in an older run), about 32 × 4 B per pixel per
 * ngf over the runtime. Rows whose estimate passes the wasm heap's 4 GiB cap are not run: they
 * grow towards it for many minutes and then fail.
 */
const TFJS_UNTILED_FLOATS_PER_PIXEL_PER_NGF = 32;
const WASM_HEAP_BYTES = 4 * 2 ** 30;

function tfjsUntiledBytes(net: { ngf: number }, width: number, height: number): number {
  return 4 * TFJS_UNTILED_FLOATS_PER_PIXEL_PER_NGF * net.ngf * width * height;
}

/** Why a row is not run, or null. */
export function skipReason(
  engine: Engine,
  backend: BackendName,
  net: Net,
  mpx: number,
  mode: Mode,
  quick: boolean,
): string | null {
  if (engine === 'onnx' && mode === 'untiled') {
    const { width, height } = sizeFor(mpx);
    const need = untiledBytes({ config: net }, width, height);
    if (need > 0.8 * os.totalmem()) {
      return (
        `ONNX Runtime untiled ${net.key} G at ${mpx} Mpx: not run: its graph holds about ` +
        `${(need / 2 ** 30).toFixed(0)} GiB, over this machine's ` +
        `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`
      );
    }
  } else if (mode === 'untiled' && net.key === 'paper' && mpx >= 17.9) {
    return (
      'untiled paper G at 17.9 Mpx: not run: one 64-channel full-resolution map alone is ' +
      '17.9M × 64 × 4 B = 4.6 GB, over the wasm heap cap of 4 GiB'
    );
  } else if (mode === 'untiled' && backend === 'wasm') {
    const { width, height } = sizeFor(mpx);
    const need = tfjsUntiledBytes(net, width, height);
    if (need > WASM_HEAP_BYTES) {
      return (
        `TF.js untiled ${net.key} G at ${mpx} Mpx: not run: it needs about ` +
        `${(need / 2 ** 30).toFixed(1)} GiB (${TFJS_UNTILED_FLOATS_PER_PIXEL_PER_NGF} floats per ` +
        'pixel per ngf, measured), over the wasm heap cap of 4 GiB'
      );
    }
  }
  if (quick && net.key === 'paper' && mpx >= 17.9) {
    return `paper G at 17.9 Mpx on ${engine}: left out by --quick (minutes to tens of minutes)`;
  }
  return null;
}

function mps(r: { seconds: number; width: number; height: number }): number {
  return (r.width * r.height) / 1e6 / r.seconds;
}

async function run(args: BenchArgs): Promise<void> {
  const backend = (args.backend ?? 'wasm') as BackendName;
  const swiftShader = process.env.PATCHWORK_SWIFTSHADER;
  const software = backend === 'webgpu' && !!swiftShader && swiftShader !== '0';
  const nets = software ? SOFTWARE_NETS : NETS;
  const sizes = software ? SOFTWARE_SIZES : SIZES;
  const threads = os.availableParallelism();
  const torch = torchStatus();
  console.log(
    header('convert: translation megapixels/s and peak RSS (random-init generators)', [
      ...machineLines(),
      ['backend', `${backend} (TF.js rows; pass --backend to choose; the default is wasm)`],
      [
        'engines',
        args.engine
          ? `${args.engine} only (--engine)`
          : 'TF.js and ONNX Runtime (provider as conversion picks it; PATCHWORK_ORT_PROVIDER names one)',
      ],
      ['image', `${ELEPHANTS} resized with sharp to 1 and 4 Mpx`],
      [
        'tiled',
        `translateTiled with the default memory budget (${DEFAULT_BUDGET_MIB} MiB) and tile from ` +
          'the budget; RSS/budget: peak RSS over it',
      ],
      [
        'PyTorch',
        torch.available
          ? `${torch.version}, CPU, ${threads} threads, untiled G forward (no_grad)`
          : NOT_INSTALLED,
      ],
      ['mode', args.quick ? 'quick (no paper G at 17.9 Mpx)' : 'full'],
      ...(software
        ? [
            ['note', 'software adapter (SwiftShader): correctness only, tiny G at 0.01 Mpx'] as [
              string,
              string,
            ],
          ]
        : []),
    ]),
  );
  const rows: string[][] = [];
  const notes: string[] = [];
  // Each row is also printed as it completes: a run stopped part-way keeps its figures.
  const add = (row: string[]) => {
    rows.push(row);
    console.log(`  row: ${row.join(' | ')}`);
  };
  for (const net of nets) {
    for (const mpx of sizes) {
      const { width, height } = sizeFor(mpx);
      let torchS: number | null = null;
      let torchCell = ['–', '–'];
      if (torch.available && !(net.key === 'paper' && mpx >= 17.9)) {
        try {
          const r = await runPython<PyConvert>(
            benchScript('convert_reference.py'),
            [
              ['--width', width],
              ['--height', height],
              ['--ngf', net.ngf],
              ['--blocks', net.nBlocks],
              ['--threads', threads],
            ].flatMap(([k, v]) => [String(k), String(v)]),
            1_800_000,
          );
          torchS = r.seconds;
          torchCell = [((width * height) / 1e6 / r.seconds).toFixed(3), r.peak_rss_mib.toFixed(0)];
        } catch (err) {
          notes.push(`PyTorch ${net.key} ${mpx} Mpx: ${(err as Error).message}`);
          torchCell = ['failed', '–'];
        }
      } else if (torch.available) {
        notes.push(
          `PyTorch paper G untiled at 17.9 Mpx: not run (about 17.9M × 64 × 4 B per map and ` +
            `several live at once: beyond this machine's ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB)`,
        );
      }
      const engines = ENGINES.filter((e) => !args.engine || e === args.engine);
      for (const [engine, mode] of engines.flatMap((e) =>
        (['tiled', 'untiled'] as Mode[]).map((m) => [e, m] as const),
      )) {
        const label = `${net.key} (ngf ${net.ngf}, ${net.nBlocks} blocks)`;
        const skip = skipReason(engine, backend, net, mpx, mode, args.quick);
        const size = `${width}×${height}`;
        const name = engine === 'onnx' ? 'ONNX Runtime' : 'TF.js';
        if (skip) {
          notes.push(skip);
          add([
            label,
            size,
            name,
            mode,
            'skipped',
            '–',
            '–',
            '–',
            '–',
            ...torchCell,
            '–',
            loadLine(),
          ]);
          continue;
        }
        const r = await runJob({ engine, backend, net, mpx, mode }, 3_600_000);
        if (!r.ok) {
          notes.push(`${label} ${size} ${name} ${mode}: ${r.error}`);
          const oom = /memory|Aborted|allocat/i.test(r.error);
          add([
            label,
            size,
            name,
            mode,
            oom ? 'OOM' : 'failed',
            '–',
            Number.isFinite(r.peakRssMiB) ? r.peakRssMiB.toFixed(0) : '–',
            '–',
            '–',
            ...torchCell,
            '–',
            r.load,
          ]);
          continue;
        }
        const said = `${name}: ${r.detail}`;
        if (!notes.includes(said)) notes.unshift(said);
        const ratio = torchS === null ? '–' : `${(r.seconds / torchS).toFixed(2)}×`;
        add([
          label,
          size,
          name,
          mode,
          seconds(r.seconds),
          mps(r).toFixed(3),
          r.peakRssMiB.toFixed(0),
          mode === 'tiled' ? (r.peakRssMiB / DEFAULT_BUDGET_MIB).toFixed(2) : '–',
          (r.cpuS / r.seconds).toFixed(2),
          ...torchCell,
          ratio,
          r.load,
        ]);
      }
    }
  }
  console.log();
  console.log(
    table(
      [
        'generator',
        'size',
        'engine',
        'mode',
        's',
        'Mpx/s',
        'peak RSS MiB',
        'RSS/budget',
        'cpu/wall',
        'torch Mpx/s',
        'torch RSS MiB',
        'time/torch time',
        'load after (1/5/15)',
      ],
      rows,
    ),
  );
  if (notes.length) console.log(['', 'notes:', ...notes.map((n) => `  - ${n}`)].join('\n'));
}

export const convertCase = {
  summary:
    'translation Mpx/s and peak RSS at 1, 4, 17.9 Mpx, TF.js and ONNX Runtime, tiled vs ' +
    'untiled, vs PyTorch',
  run,
};
