/**
 * TF.js's threaded SIMD wasm build (Emscripten pthreads, XNNPACK's thread pool) in plain Node,
 * the engine's child process and Electron's utilityProcess, without changing TF.js 4.22.
 *
 * TF.js turns threads off in Node (flags_wasm.js, tfjs issue #3830), and forcing its flag on
 * fails for three reasons, each answered here rather than by patching the package:
 * 1. Worker scripts. TF.js hands Emscripten the pthread worker as a `blob:` URL and the main
 *    script as a Blob; Node's worker_threads cannot start a blob: URL, and the worker's
 *    importScripts reads its script with fs. The package's own `*.worker.js` is no script
 *    either: it exports the worker's source as a string. So both scripts are written to a
 *    private temporary folder (mkdtemp, removed at exit) and given to Emscripten by path.
 * 2. The thread count. The build's C++ caps the pool at emscripten_num_logical_cores() / 2
 *    (it assumes two hyperthreads per core) and at 8, and computes that cap once, when the
 *    module starts: on a 2-core machine every request gave 1 thread. The module is
 *    instantiated here (Emscripten's instantiateWasm hook) with that import answering
 *    2 × the wanted count, so the cap is exactly the count asked for.
 * 3. Heap views. Memory is a growable SharedArrayBuffer; when another thread grows it, the
 *    main thread's HEAP views keep the old buffer until Emscripten's own code next checks.
 *    TF.js's backend reads `HEAPU8` directly, so the views here are getters that follow the
 *    current buffer.
 * The build pre-starts 8 workers (each instantiates the module: ~1 MB of code, no heap of its
 * own, the memory is shared) whatever the count; workers beyond the count sit idle.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { MAX_THREADS } from '../../../shared/threads';

const require = createRequire(import.meta.url);
const BUILD = 'tfjs-backend-wasm-threaded-simd';

type Cwrapped = (...args: unknown[]) => unknown;

/** The few WebAssembly types used here (the project's TypeScript libs carry no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBufferLike;
}
type WasmInstance = object;
type WasmModule = object;
const { WebAssembly: wasmApi } = globalThis as unknown as {
  WebAssembly: {
    instantiate(
      bytes: Uint8Array,
      imports: object,
    ): Promise<{ instance: WasmInstance; module: WasmModule }>;
  };
};

/** The parts of the Emscripten module this file and BackendWasm touch. */
interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): Cwrapped;
  wasmMemory: WasmMemory;
  PThread: { terminateAllThreads(): void; runningWorkers: { unref(): void }[] };
  tfjs?: Record<string, Cwrapped>;
  [key: string]: unknown;
}

interface FactoryConfig {
  mainScriptUrlOrBlob: string;
  locateFile(file: string, prefix: string): string;
  instantiateWasm(
    imports: { env: Record<string, unknown> },
    receive: (instance: WasmInstance, module: WasmModule) => void,
  ): Record<string, never>;
}

type Factory = (config: FactoryConfig) => Promise<ThreadedModule>;

/** The package folder's files this loader reads. */
function buildFiles(): { script: string; worker: string; wasm: string } {
  const pkg = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  return {
    script: path.join(pkg, 'wasm-out', `${BUILD}.js`),
    worker: path.join(pkg, 'wasm-out', `${BUILD}.worker.js`),
    wasm: path.join(pkg, 'dist', `${BUILD}.wasm`),
  };
}

let scriptFolder: string | null = null;

/**
 * The two scripts the pthread workers load, as files in a private folder of this process.
 * Written once per process; the folder goes when the process exits.
 */
function workerScripts(files: { script: string; worker: string }): {
  main: string;
  worker: string;
} {
  if (scriptFolder === null) {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'patchwork-wasm-threads-'));
    process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
    const { wasmWorkerContents } = require(files.worker) as { wasmWorkerContents: string };
    // The source is kept in a template literal, where its "\n" escapes became newlines
    // inside string literals: put the escapes back, or the script does not parse.
    writeFileSync(path.join(folder, 'worker.cjs'), wasmWorkerContents.replace(/\n/g, '\\n'));
    // Read through fs here (an asar archive reads in the main thread; a worker may not).
    writeFileSync(path.join(folder, 'main.cjs'), readFileSync(files.script));
    scriptFolder = folder;
  }
  return {
    main: path.join(scriptFolder, 'main.cjs'),
    worker: path.join(scriptFolder, 'worker.cjs'),
  };
}

const HEAP_VIEWS = {
  HEAP8: Int8Array,
  HEAPU8: Uint8Array,
  HEAP16: Int16Array,
  HEAPU16: Uint16Array,
  HEAP32: Int32Array,
  HEAPU32: Uint32Array,
  HEAPF32: Float32Array,
  HEAPF64: Float64Array,
} as const;

type HeapView = { readonly buffer: ArrayBufferLike };

/** Makes module.HEAP* follow the shared memory's current buffer (see point 3 above). */
export function followHeapGrowth(module: { wasmMemory: WasmMemory; [key: string]: unknown }): void {
  for (const [name, ViewType] of Object.entries(HEAP_VIEWS)) {
    const View = ViewType as new (buffer: ArrayBufferLike) => HeapView;
    let view = module[name] as HeapView;
    Object.defineProperty(module, name, {
      configurable: true,
      enumerable: true,
      get: () => {
        const buffer = module.wasmMemory.buffer;
        if (view.buffer !== buffer) view = new View(buffer);
        return view;
      },
      set: (next: HeapView) => {
        view = next;
      },
    });
  }
}

/** The threaded module, started with a pool of `threads` (2…MAX_THREADS). */
async function startModule(threads: number): Promise<ThreadedModule> {
  const files = buildFiles();
  const scripts = workerScripts(files);
  const factory = require(files.script) as Factory;
  const bytes = readFileSync(files.wasm);
  // Emscripten's own promise never settles when instantiation fails here: race it.
  let failed: (err: unknown) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => (failed = reject));
  const started = factory({
    mainScriptUrlOrBlob: scripts.main,
    locateFile: (file, prefix) => (file.endsWith('.worker.js') ? scripts.worker : prefix + file),
    instantiateWasm: (imports, receive) => {
      // The C++ divides this by 2 and caps the pool there (point 2 above).
      imports.env.emscripten_num_logical_cores = () => 2 * threads;
      wasmApi
        .instantiate(bytes, imports)
        .then(({ instance, module: compiled }) => receive(instance, compiled), failed);
      return {};
    },
  });
  const module = await Promise.race([started, failure]);
  followHeapGrowth(module);
  // The entry points BackendWasm calls through `wasm.tfjs` (TF.js's own init does the same).
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  return module;
}

/**
 * A BackendWasm over the threaded build with `threads` XNNPACK threads. The caller sets
 * TF.js's thread count (setThreadsCount) to the same number first: BackendWasm's constructor
 * reads it. Fails, with the reason, when the pool did not start with that many threads.
 */
export async function threadedWasmBackend(threads: number): Promise<BackendWasm> {
  if (!Number.isInteger(threads) || threads < 2 || threads > MAX_THREADS) {
    throw new Error(`the threaded wasm build takes 2 to ${MAX_THREADS} threads, not ${threads}`);
  }
  if (typeof SharedArrayBuffer === 'undefined') {
    throw new Error('this runtime has no SharedArrayBuffer, so wasm threads cannot start');
  }
  const module = await startModule(threads);
  const backend = new BackendWasm(
    module as unknown as ConstructorParameters<typeof BackendWasm>[0],
  );
  // XNNPACK's threads wait for work for the life of the process, and Emscripten refs a
  // running pthread's worker: unreferenced, they no longer keep a finished process alive.
  for (const worker of module.PThread.runningWorkers) worker.unref();
  const got = (module.tfjs as Record<string, Cwrapped>).getThreadsCount() as number;
  if (got !== threads) {
    backend.dispose();
    throw new Error(`the wasm thread pool started ${got} threads instead of ${threads}`);
  }
  return backend;
}
