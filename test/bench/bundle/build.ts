/**
 * `npm run bench:bundle [-- --out DIR] [--platform linux-x64,win32-x64,…]`: a self-contained
 * benchmark folder for a GPU machine without npm. Inside:
 *
 *   bench/bench.mjs         the engine, TF.js, the parity checks and benchmarks, one file
 *   bench/*.wasm            TF.js's wasm backend (read beside the script)
 *   bench/*.py              PyTorch sides: CPU (step/convert_reference.py), GPU (torch_cuda.py)
 *   fixtures/reference/     the golden fixtures and the PyTorch statement of the reference
 *   fixtures/sincut/        SinCUT's fixtures and their PyTorch statement
 *   node_modules/webgpu/    Dawn's Node binding, only the platform(s) asked for
 *   README.txt              how to run it
 *
 * Run with nothing but `node` (20.19 or newer): `node bench/bench.mjs` (see entry.ts).
 */
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));

export interface BundleOptions {
  out: string;
  /** Dawn binaries to include, e.g. ['linux-x64']; default: this machine's. */
  platforms?: string[];
}

export function hostPlatform(): string {
  return process.platform === 'darwin' ? 'darwin-universal' : `${process.platform}-${process.arch}`;
}

const README = `Patchwork benchmark bundle
==========================

Needs only Node.js 20.19 or newer (no npm, no network). Optional: a python with torch, for
PyTorch figures on the same GPU (PATCHWORK_PYTHON=/path/to/python, else python3 on PATH).

  node bench/bench.mjs                 adapters, parity, step, convert and sincut on webgpu
  node bench/bench.mjs adapters        the WebGPU adapters Dawn offers, with limits
  node bench/bench.mjs parity          golden reference fixtures, CUT's and SinCUT's, on webgpu
                                       (PASS/FAIL, 1e-4)
  node bench/bench.mjs step --quick    seconds per CUT/FastCUT step and G forward
  node bench/bench.mjs convert         megapixels/s tiled and untiled, tiled-vs-untiled error
  node bench/bench.mjs sincut --quick  seconds per SinCUT training step (SINCUT_BENCH_BATCH=N crops)
  ... --backend wasm                   the same on another backend (webgpu, wasm, cpu)

PATCHWORK_GPU_ADAPTER=NAME picks an adapter by the name "adapters" prints.
PATCHWORK_SWIFTSHADER=1 runs on Chromium's SwiftShader CPU driver (Linux): correctness only.
Send back everything the command prints.
`;

/** sharp stands in as a function that says it is absent: the bundle decodes no image file. */
const withoutSharp: Plugin = {
  name: 'without-sharp',
  setup(b) {
    b.onResolve({ filter: /^sharp$/ }, () => ({ path: 'sharp', namespace: 'absent' }));
    b.onLoad({ filter: /.*/, namespace: 'absent' }, () => ({
      contents:
        "export default function sharp() { throw new Error('sharp is not in the benchmark bundle'); }",
      loader: 'js',
    }));
  },
};

function sizeOf(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((sum, f) => sum + sizeOf(path.join(p, f)), 0);
}

export async function buildBundle(opts: BundleOptions): Promise<{ bytes: number; out: string }> {
  const out = path.resolve(opts.out);
  rmSync(out, { recursive: true, force: true });
  const bench = path.join(out, 'bench');
  mkdirSync(bench, { recursive: true });
  await build({
    entryPoints: [path.join(HERE, 'entry.ts')],
    outfile: path.join(bench, 'bench.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Native or optional: Dawn ships beside the script; the native TF.js packages are looked
    // up at run time and reported absent; sharp (image files) is never called here.
    external: ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
    plugins: [withoutSharp],
    // The CommonJS parts of TF.js (and the wasm loader, which reads files from __dirname).
    banner: {
      js: [
        "import { createRequire as __pwRequire } from 'node:module';",
        "import { fileURLToPath as __pwPath } from 'node:url';",
        "import { dirname as __pwDir } from 'node:path';",
        'const require = __pwRequire(import.meta.url);',
        'const __filename = __pwPath(import.meta.url);',
        'const __dirname = __pwDir(__filename);',
      ].join('\n'),
    },
    legalComments: 'eof',
    logLevel: 'error',
  });
  const wasmDir = path.join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  for (const f of readdirSync(wasmDir).filter((n) => n.endsWith('.wasm'))) {
    cpSync(path.join(wasmDir, f), path.join(bench, f));
  }
  for (const f of ['step_reference.py', 'convert_reference.py']) {
    cpSync(path.join(ROOT, 'test/bench', f), path.join(bench, f));
  }
  cpSync(path.join(HERE, 'torch_cuda.py'), path.join(bench, 'torch_cuda.py'));
  const fixtures = path.join(out, 'fixtures/reference');
  mkdirSync(fixtures, { recursive: true });
  for (const f of ['cut-small.json', 'cut-small.bin', 'cut_reference.py']) {
    cpSync(path.join(ROOT, 'test/fixtures/reference', f), path.join(fixtures, f));
  }
  const sincut = path.join(out, 'fixtures/sincut');
  mkdirSync(sincut, { recursive: true });
  for (const f of ['sincut-small.json', 'sincut-small.bin', 'sincut_reference.py']) {
    cpSync(path.join(ROOT, 'test/fixtures/sincut', f), path.join(sincut, f));
  }
  const dawn = path.join(ROOT, 'node_modules/webgpu');
  const dawnOut = path.join(out, 'node_modules/webgpu');
  mkdirSync(path.join(dawnOut, 'dist'), { recursive: true });
  for (const f of ['package.json', 'index.js', 'LICENSE.md']) {
    cpSync(path.join(dawn, f), path.join(dawnOut, f));
  }
  for (const p of opts.platforms ?? [hostPlatform()]) {
    const from = path.join(dawn, 'dist', p);
    const names = readdirSync(path.join(dawn, 'dist')).join(', ');
    if (!statSync(from, { throwIfNoEntry: false })) {
      throw new Error(`no Dawn binary for ${p} (have: ${names})`);
    }
    cpSync(from, path.join(dawnOut, 'dist', p), { recursive: true });
  }
  writeFileSync(path.join(out, 'README.txt'), README);
  return { bytes: sizeOf(out), out };
}

function parseArgs(argv: string[]): BundleOptions {
  const opts: BundleOptions = { out: path.join(ROOT, 'out/bench-bundle') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') opts.out = argv[++i];
    else if (argv[i] === '--platform') opts.platforms = argv[++i].split(',');
    else throw new Error(`usage: npm run bench:bundle -- [--out DIR] [--platform linux-x64,…]`);
  }
  return opts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildBundle(parseArgs(process.argv.slice(2))).then(
    ({ bytes, out }) => {
      console.log(`benchmark bundle: ${out} (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
      console.log(`run it with: node ${path.join(out, 'bench/bench.mjs')}`);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}
