/**
 * The benchmark bundle's command (built by build.ts into <bundle>/bench/bench.mjs; needs only
 * `node` beside it):
 *
 *   node bench/bench.mjs [all|adapters|parity|step|convert|sincut] [--backend NAME] [--quick]
 *
 * adapters  every WebGPU adapter Dawn offers, with vendor, architecture and limits
 * parity    the golden reference fixtures on the backend (default webgpu): worst errors;
 *           then SinCUT's (parity-sincut.ts)
 * step      the `step` benchmark (test/bench/step.bench.ts), then the same configurations
 *           timed by PyTorch on CUDA (torch_cuda.py) where a python with torch exists
 * convert   megapixels per second tiled and untiled, tiled-vs-untiled difference, and PyTorch
 * sincut    seconds per SinCUT training step (and steps/s) at the reference's and the paper's
 *           settings (sincut.ts)
 * all       all of the above (the default)
 *
 * PATCHWORK_SWIFTSHADER=1 runs on Chromium's SwiftShader (a CPU Vulkan driver): correctness
 * only, and the benchmarks shrink to tiny networks. PATCHWORK_GPU_ADAPTER=NAME picks an
 * adapter by the name `adapters` prints; PATCHWORK_PYTHON points at a python with torch.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendName } from '../../../main/engine/backend';
import { listGpuAdapters, type GpuAdapterSummary } from '../../../main/engine/webgpu';
import { header, machineLines, median, seconds, table } from '../machine';
import { runStepBench } from '../step.bench';
import { runConvert, type ConvertNet } from './convert';
import { runSinCutSteps, sincutTable } from './sincut';
import { PARITY_TOL, runParity } from './parity';
import { runSinCutParity } from './parity-sincut';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MIB = 2 ** 20;

interface Args {
  what: string;
  backend: BackendName;
  quick: boolean;
}

function parse(argv: string[]): Args {
  const args: Args = { what: 'all', backend: 'webgpu', quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--backend') args.backend = argv[++i] as BackendName;
    else if (a.startsWith('--backend=')) args.backend = a.slice(10) as BackendName;
    else if (!a.startsWith('-')) args.what = a;
    else throw new Error(`unknown option ${a}`);
  }
  return args;
}

function adapterRows(list: GpuAdapterSummary[]): string[][] {
  return list.map((a) => [
    a.name,
    a.api ?? '–',
    [a.vendor, a.architecture].filter(Boolean).join(' ') || '–',
    a.description || '–',
    a.software ? 'software' : 'hardware',
    a.preferredFor.join(', ') || '–',
    `${Math.floor(a.limits.maxBufferSize / MIB)} / ${Math.floor(a.limits.maxStorageBufferBindingSize / MIB)}`,
  ]);
}

// ─── PyTorch on the same GPU ───────────────────────────────────────────────────────────────

function python(): string | null {
  for (const py of [process.env.PATCHWORK_PYTHON, 'python3', 'python', '/usr/bin/python3'].filter(
    Boolean,
  )) {
    const r = spawnSync(py as string, ['-c', 'import torch; print(torch.__version__)'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status === 0) return py as string;
  }
  return null;
}

function torchTimes(py: string, args: (string | number)[]): { device: string; times: number[] } {
  const script = path.join(HERE, 'torch_cuda.py');
  const r = spawnSync(py, [script, ...args.map(String)], {
    encoding: 'utf8',
    timeout: 1_800_000,
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) {
    const tail = (r.stderr ?? '').trim().split('\n').slice(-2).join(' | ');
    throw new Error(`torch_cuda.py exited with ${r.status ?? r.signal}: ${tail}`);
  }
  const line = r.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error('torch_cuda.py printed no result');
  return JSON.parse(line) as { device: string; times: number[] };
}

// ─── parts ───────────────────────────────────────────────────────────────────────────────

async function adapters(): Promise<GpuAdapterSummary[]> {
  const list = await listGpuAdapters();
  console.log('\nWebGPU adapters (Dawn):');
  if (list.length === 0) console.log('  none found');
  else {
    console.log(
      table(
        [
          'name',
          'api',
          'vendor / architecture',
          'description',
          'kind',
          'preferred for',
          'max buffer / binding MiB',
        ],
        adapterRows(list),
      ),
    );
  }
  return list;
}

async function parity(args: Args): Promise<boolean> {
  const report = await initBackend(args.backend);
  console.log(`\nparity with the reference fixtures on ${report.detail}`);
  const dir = path.join(HERE, '..', 'fixtures', 'reference');
  const start = performance.now();
  const r = await runParity(dir, ['fastcut', 'cut'], (s) => process.stderr.write(`${s}\n`));
  const rows = Object.entries(r.worst).map(([k, v]) => [k, v.toExponential(2)]);
  console.log(table(['check', 'worst |a−b|/max(1,|b|)'], rows));
  const ok = r.failures.length === 0 && r.leaked === 0;
  console.log(
    `parity: ${ok ? 'PASS' : 'FAIL'} (tolerance ${PARITY_TOL}; ${r.leaked} tensors left by the ` +
      `full steps; ${seconds((performance.now() - start) / 1000)} s)`,
  );
  for (const f of r.failures.slice(0, 20)) console.log(`  over: ${f}`);
  return (await sincutParity()) && ok;
}

/** The SinCUT fixtures on the current backend: R1's double backward on this GPU, say. */
async function sincutParity(): Promise<boolean> {
  const dir = path.join(HERE, '..', 'fixtures', 'sincut');
  const start = performance.now();
  const r = await runSinCutParity(dir, (s) => process.stderr.write(`${s}\n`));
  const rows = Object.entries(r.worst).map(([k, v]) => [k, v.toExponential(2)]);
  console.log(`\nSinCUT fixtures (StyleGAN2 G and D, R1 by double backward, one step):`);
  console.log(table(['check', 'worst |a−b|/max(1,|b|)'], rows));
  const ok = r.failures.length === 0 && r.leaked === 0;
  console.log(
    `sincut parity: ${ok ? 'PASS' : 'FAIL'} (tolerance ${PARITY_TOL}; ${r.leaked} tensors ` +
      `left by the step; ${seconds((performance.now() - start) / 1000)} s)`,
  );
  for (const f of r.failures.slice(0, 20)) console.log(`  over: ${f}`);
  return ok;
}

function software(): boolean {
  const s = process.env.PATCHWORK_SWIFTSHADER;
  return !!s && s !== '0';
}

async function step(args: Args, py: string | null): Promise<void> {
  await runStepBench({ backend: args.backend, quick: args.quick, profile: false });
  if (!py) {
    console.log('\nPyTorch on the GPU: no python with torch found (PATCHWORK_PYTHON=…)');
    return;
  }
  const configs = software()
    ? [{ key: 'tiny', size: 32, ngf: 4, ndf: 4, blocks: 1, patches: 16 }]
    : [
        { key: 'paper', size: 256, ngf: 64, ndf: 64, blocks: 9, patches: 256 },
        { key: 'small', size: 128, ngf: 16, ndf: 16, blocks: 2, patches: 256 },
      ];
  const rows: string[][] = [];
  let device = '';
  for (const c of configs) {
    for (const what of ['forward', 'fastcut', 'cut']) {
      try {
        const r = torchTimes(py, [
          '--what',
          what,
          '--size',
          c.size,
          '--ngf',
          c.ngf,
          '--ndf',
          c.ndf,
          '--blocks',
          c.blocks,
          '--patches',
          c.patches,
          '--steps',
          args.quick ? 2 : 5,
        ]);
        device = r.device;
        rows.push([c.key, what, seconds(median(r.times)), String(r.times.length)]);
      } catch (err) {
        rows.push([c.key, what, `failed: ${(err as Error).message}`, '–']);
      }
    }
  }
  console.log(`\nPyTorch, same configurations, on ${device || 'its device'} (median s):`);
  console.log(table(['config', 'measure', 'median s', 'n'], rows));
}

async function convert(args: Args, py: string | null): Promise<void> {
  const report = await initBackend(args.backend);
  const nets: ConvertNet[] = software()
    ? [{ key: 'tiny', ngf: 4, nBlocks: 1 }]
    : [
        { key: 'small', ngf: 16, nBlocks: 6 },
        { key: 'paper', ngf: 64, nBlocks: 9 },
      ];
  const sizes = software() ? [0.01] : args.quick ? [1] : [1, 4];
  console.log(`\nconvert on ${report.detail}`);
  const rows = await runConvert(nets, sizes, (s) => process.stderr.write(`${s}\n`));
  const out: string[][] = [];
  for (const r of rows) {
    let torchCell = '–';
    if (py && r.mode === 'untiled') {
      try {
        const t = torchTimes(py, [
          '--what',
          'convert',
          '--width',
          r.width,
          '--height',
          r.height,
          '--ngf',
          r.net.ngf,
          '--blocks',
          r.net.nBlocks,
          '--steps',
          1,
        ]);
        torchCell = `${seconds(median(t.times))} (${t.device})`;
      } catch (err) {
        torchCell = `failed: ${(err as Error).message}`;
      }
    }
    const mpx = (r.width * r.height) / 1e6;
    out.push([
      `${r.net.key} (ngf ${r.net.ngf}, ${r.net.nBlocks} blocks)`,
      `${r.width}×${r.height}`,
      r.mode,
      r.seconds === null ? 'failed' : seconds(r.seconds),
      r.seconds === null ? '–' : (mpx / r.seconds).toFixed(3),
      r.maxDiff === undefined ? '–' : r.maxDiff.toExponential(2),
      torchCell,
      r.error ?? '',
    ]);
  }
  console.log(
    table(
      [
        'generator',
        'size',
        'mode',
        's',
        'Mpx/s',
        'max |tiled−untiled|',
        'PyTorch untiled s',
        'note',
      ],
      out,
    ),
  );
}

async function sincut(args: Args): Promise<void> {
  const report = await initBackend(args.backend);
  console.log(`\nSinCUT training steps on ${report.detail}`);
  const rows = await runSinCutSteps(args.backend, software(), args.quick, (s) =>
    process.stderr.write(`${s}\n`),
  );
  console.log(
    table(['setting', 'crops', 's/step', 'steps/s', 'whole schedule', 'note'], sincutTable(rows)),
  );
}

async function main(): Promise<number> {
  // A forked measurement of the step benchmark: its module answers; nothing to do here.
  if (process.argv[2]?.endsWith('-worker')) return 0;
  const args = parse(process.argv.slice(2));
  console.log(header('patchwork benchmark bundle', [...machineLines(), ['backend', args.backend]]));
  const py = ['adapters', 'parity', 'sincut'].includes(args.what) ? null : python();
  let ok = true;
  if (args.what === 'all' || args.what === 'adapters') await adapters();
  if (args.what === 'all' || args.what === 'parity') ok = (await parity(args)) && ok;
  if (args.what === 'all' || args.what === 'step') await step(args, py);
  if (args.what === 'all' || args.what === 'convert') await convert(args, py);
  if (args.what === 'all' || args.what === 'sincut') await sincut(args);
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    if (!process.argv[2]?.endsWith('-worker')) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
