/**
 * Compute backend selection. Model code is written once against TF.js ops; at run time the
 * engine takes the fastest backend that loads — `tensorflow` (the optional native
 * @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node), then `webgpu` on a hardware adapter
 * (webgpu.ts; software adapters only when named), then `wasm` (ships inside npm; the engine
 * registers the training kernels it lacks), then `cpu` — and says why it skipped the others.
 * An explicit choice is honoured or fails with the reason.
 */
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { parseThreads, resolveThreads } from '../../shared/threads';
import { physicalCores } from './threads/cores';
import { threadedWasmBackend } from './threads/threaded-wasm';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { loadWebGpu, webgpuUsable } from './webgpu';

export const BACKENDS = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendPreference = 'auto' | BackendName;

export interface BackendReport {
  name: BackendName;
  /** What was loaded, e.g. "tfjs-node-gpu (CUDA)" or "wasm (SIMD, 2 threads)". */
  detail: string;
  /** The wasm backend's XNNPACK threads; null for the other backends (they pick their own). */
  threads: number | null;
  skipped: { name: string; reason: string }[];
}

export class BackendError extends Error {
  constructor(
    message: string,
    readonly skipped: { name: string; reason: string }[],
  ) {
    super(message);
    this.name = 'BackendError';
  }
}

/** `explicit`: the backend was asked for by name (a software GPU adapter is then acceptable). */
type Loader = (explicit: boolean) => Promise<string | { detail: string; threads: number }>;

const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

async function loadTensorflow(): Promise<string> {
  const reasons: string[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    try {
      // A variable specifier: these packages are optional and usually absent.
      await import(/* @vite-ignore */ pkg);
      if (await tf.setBackend('tensorflow')) return pkg.replace('@tensorflow/', '');
      reasons.push(`${pkg} loaded but its backend did not initialise`);
    } catch (err) {
      reasons.push(`${pkg}: ${describeImportError(err)}`);
    }
  }
  throw new Error(reasons.join('; '));
}

/**
 * The CPU engine's thread count: PATCHWORK_THREADS (a number, or `auto`: the physical cores
 * less PATCHWORK_THREADS_SPARE, which the studio sets to 1 for its engine processes). The
 * `--threads` option and the studio's setting reach the engine through these variables.
 */
export function engineThreads(env: NodeJS.ProcessEnv = process.env): number {
  const setting = parseThreads(env.PATCHWORK_THREADS ?? 'auto', 'PATCHWORK_THREADS');
  const spare = Number(env.PATCHWORK_THREADS_SPARE ?? 0);
  return resolveThreads(setting, physicalCores(), Number.isFinite(spare) ? spare : 0);
}

/** TF.js's own wasm factory: the single-threaded SIMD build in Node. */
const stockWasmFactory = tf.findBackendFactory('wasm');
/** The thread count the registered `wasm` factory starts (1: TF.js's own factory). */
let wasmFactoryThreads = 1;
/** Why the threaded build did not start, from the last try; null when it did or was not tried. */
let threadedFailure: string | null = null;

/**
 * Registers the `wasm` factory for `threads` (the threaded build from 2 up), replacing the
 * backend of another count: its tensors go with it, so the count changes only between jobs.
 */
function useWasmThreads(threads: number): void {
  if (threads === wasmFactoryThreads) return;
  tf.removeBackend('wasm');
  const factory =
    threads > 1
      ? async () => {
          try {
            return await threadedWasmBackend(threads);
          } catch (err) {
            threadedFailure = err instanceof Error ? err.message : String(err);
            throw err;
          }
        }
      : stockWasmFactory;
  tf.registerBackend('wasm', factory, 2);
  wasmFactoryThreads = threads;
}

async function loadWasm(): Promise<{ detail: string; threads: number }> {
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  let threads = engineThreads();
  let fallback = '';
  if (threads > 1 && !simd) {
    // TF.js ships its threaded build with SIMD only.
    fallback = `; ${threads} threads need wasm SIMD, which this runtime lacks`;
    threads = 1;
  }
  useWasmThreads(threads);
  setThreadsCount(threads);
  threadedFailure = null;
  if (!(await tf.setBackend('wasm')) && threads > 1) {
    // The threaded build did not start: say why and go on with one thread.
    fallback = `; ${threads} threads failed: ${threadedFailure ?? 'unknown reason'}`;
    threads = 1;
    useWasmThreads(1);
    setThreadsCount(1);
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm module did not initialise');
  } else if (tf.getBackend() !== 'wasm') {
    throw new Error('the wasm module did not initialise');
  }
  const replaced = registerWasmTrainingKernels();
  const count = threads === 1 ? '1 thread' : `${threads} threads`;
  return {
    detail: `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${count}${fallback}; engine kernels: ${replaced.join(', ')})`,
    threads,
  };
}

async function loadCpu(): Promise<string> {
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
  return 'cpu (plain JavaScript, slow)';
}

const LOADERS: Record<BackendName, Loader> = {
  tensorflow: loadTensorflow,
  webgpu: loadWebGpu,
  wasm: loadWasm,
  cpu: loadCpu,
};

let current: BackendReport | null = null;

/** Pick and initialise a backend. Idempotent for the same preference. */
export async function initBackend(pref: BackendPreference = 'auto'): Promise<BackendReport> {
  // A bad PATCHWORK_THREADS is the user's to fix: said as such, not a silent fallback to cpu.
  let threads: number;
  try {
    threads = engineThreads();
  } catch (err) {
    throw new BackendError((err as Error).message, []);
  }
  if (
    current &&
    (pref === 'auto' || pref === current.name) &&
    tf.getBackend() === current.name &&
    (current.name !== 'webgpu' || webgpuUsable()) &&
    (current.name !== 'wasm' || current.threads === threads)
  ) {
    return current;
  }
  const order: BackendName[] = pref === 'auto' ? [...BACKENDS] : [pref];
  const skipped: { name: string; reason: string }[] = [];
  for (const name of order) {
    try {
      const loaded = await LOADERS[name](pref !== 'auto');
      await tf.ready();
      const { detail, threads } =
        typeof loaded === 'string' ? { detail: loaded, threads: null } : loaded;
      current = { name, detail, threads, skipped };
      return current;
    } catch (err) {
      skipped.push({ name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new BackendError(`no usable compute backend (${why})`, skipped);
}

function describeImportError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/Cannot find (module|package)/i.test(msg) || /ERR_MODULE_NOT_FOUND/.test(msg)) {
    return 'not installed (optional native accelerator)';
  }
  return msg.split('\n')[0];
}
