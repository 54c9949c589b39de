/**
 * Compute backend selection. Model code is written once against TF.js ops; at run time the
 * engine takes the fastest backend that loads — `tensorflow` (the optional native
 * @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node), then `webgpu` on a hardware adapter
 * (webgpu.ts; software adapters only when named), then `wasm` (ships inside npm; the engine
 * registers the training kernels it lacks), then `cpu` — and says why it skipped the others.
 * An explicit choice is honoured or fails with the reason.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { loadWebGpu, webgpuUsable } from './webgpu';

export const BACKENDS = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendPreference = 'auto' | BackendName;

export interface BackendReport {
  name: BackendName;
  /** What was loaded, e.g. "tfjs-node-gpu (CUDA)" or "wasm (SIMD, 1 thread)". */
  detail: string;
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
type Loader = (explicit: boolean) => Promise<string>;

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

async function loadWasm(): Promise<string> {
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm module did not initialise');
  const replaced = registerWasmTrainingKernels();
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
  return `wasm (${simd}, 1 thread; engine kernels: ${replaced.join(', ')})`;
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
  if (
    current &&
    (pref === 'auto' || pref === current.name) &&
    tf.getBackend() === current.name &&
    (current.name !== 'webgpu' || webgpuUsable())
  ) {
    return current;
  }
  const order: BackendName[] = pref === 'auto' ? [...BACKENDS] : [pref];
  const skipped: { name: string; reason: string }[] = [];
  for (const name of order) {
    try {
      const detail = await LOADERS[name](pref !== 'auto');
      await tf.ready();
      current = { name, detail, skipped };
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
