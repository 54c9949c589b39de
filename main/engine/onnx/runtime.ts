/**
 * ONNX Runtime as an inference engine: loading the native package, choosing an execution
 * provider, and a per-process cache of sessions (DESIGN.md, "Compute backends"; issue 18).
 *
 * - `onnxruntime-node` is imported lazily. Where it does not load (macOS x64 has no binary; a
 *   native file is missing or refuses to link) `loadOrt()` returns the reason instead of
 *   throwing, and callers fall back to TF.js and show it.
 * - Providers are chosen like compute backends: hardware first — `cuda` when its provider
 *   library is installed beside the binding (it is never downloaded at install), `dml` on
 *   Windows, `coreml` on Apple silicon, `webgpu` only on a hardware adapter (a software one
 *   never automatically) — and `cpu` always. An explicit choice is honoured or fails with why.
 * - The CPU provider runs `intraOpThreads()` threads: the cores, or `PATCHWORK_THREADS` /
 *   `setIntraOpThreads()` (the CLI's `--threads`).
 * - `sessionFor(key, bytes, provider)` caches one session per key (style + graph) and provider
 *   for the life of the process and releases it after it has been idle a while. A provider that
 *   fails when the session is created, or runs out of memory while it runs, falls back to the
 *   CPU provider; the session says so in `fallback`.
 */
import os from 'node:os';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type * as OrtTypes from 'onnxruntime-node';

export type OrtModule = typeof OrtTypes;
export type OrtTensor = OrtTypes.Tensor;
export type OrtFeeds = Record<string, OrtTypes.Tensor>;

/** Execution providers in auto's order of preference (hardware first, `cpu` last). */
export const ORT_PROVIDERS = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'] as const;
export type OrtProvider = (typeof ORT_PROVIDERS)[number];
export type OrtProviderPreference = 'auto' | OrtProvider;

export type OrtLoad = { ok: true; ort: OrtModule; version: string } | { ok: false; reason: string };

/** One provider as detected on this machine. */
export interface OrtProviderAvailability {
  name: OrtProvider;
  available: boolean;
  /** What was found ("bundled", "NVIDIA GeForce …") or why it is not usable. */
  detail: string;
}

export interface OrtProviderReport {
  name: OrtProvider;
  /** e.g. "cpu (2 threads)". */
  detail: string;
  skipped: { name: string; reason: string }[];
}

export class OrtUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OrtUnavailableError';
  }
}

/** What the runtime needs from the machine; tests replace parts of it to inject failures. */
export interface OrtEnvironment {
  importOrt: () => Promise<OrtModule>;
  platform: NodeJS.Platform;
  arch: string;
  /** The name of a hardware GPU adapter WebGPU can use, or null (software ones do not count). */
  hardwareGpu: () => Promise<string | null>;
  /** Whether the CUDA provider's library sits beside the binding (installed by the user). */
  cudaInstalled: (ort: OrtModule) => boolean;
  cores: () => number;
  /** Idle time after which a cached session is released. */
  idleMs: number;
}

const DEFAULT_IDLE_MS = 5 * 60_000;

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].trim();
}

/** A reason an artist can act on, from an import failure. */
function describeLoadError(err: unknown, platform: string, arch: string): string {
  const msg = firstLine(err);
  if (platform === 'darwin' && arch === 'x64') {
    return `ONNX Runtime ships no binary for macOS on Intel (darwin x64): ${msg}`;
  }
  if (/Cannot find (module|package)|ERR_MODULE_NOT_FOUND/i.test(msg)) {
    return `onnxruntime-node is not installed or a native file is missing: ${msg}`;
  }
  return `onnxruntime-node did not load: ${msg}`;
}

async function defaultHardwareGpu(): Promise<string | null> {
  const { gpuDeviceNodes, listGpuAdapters } = await import('../webgpu');
  if (gpuDeviceNodes().length === 0) return null;
  const hardware = (await listGpuAdapters()).find((a) => !a.software);
  return hardware ? hardware.name : null;
}

function defaultCudaInstalled(): boolean {
  try {
    const req = createRequire(import.meta.url);
    const pkg = path.dirname(req.resolve('onnxruntime-node/package.json'));
    const dir = path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    const lib =
      process.platform === 'win32'
        ? 'onnxruntime_providers_cuda.dll'
        : 'libonnxruntime_providers_cuda.so';
    return existsSync(path.join(dir, lib));
  } catch {
    return false;
  }
}

export const defaultOrtEnvironment: OrtEnvironment = {
  importOrt: async () => {
    const mod = (await import('onnxruntime-node')) as OrtModule & { default?: OrtModule };
    // CommonJS interop: the namespace may carry the API under `default`.
    return mod.InferenceSession ? mod : (mod.default as OrtModule);
  },
  platform: process.platform,
  arch: process.arch,
  hardwareGpu: defaultHardwareGpu,
  cudaInstalled: defaultCudaInstalled,
  cores: () => os.availableParallelism?.() ?? os.cpus().length,
  idleMs: DEFAULT_IDLE_MS,
};

/** A cached session; `run` is the only way callers touch it, so idle release is safe. */
export interface OrtSession {
  readonly key: string;
  /** The provider it runs on (cpu after a fallback). */
  readonly provider: OrtProvider;
  /** Why it runs on cpu although another provider was asked for; null when it did not fall back. */
  readonly fallback: string | null;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: OrtFeeds): Promise<Record<string, OrtTensor>>;
}

const OOM = /out of memory|failed to allocate|bad_alloc|OOM|allocation failed/i;

class CachedSession implements OrtSession {
  private active = 0;
  lastUsed = Date.now();

  constructor(
    private readonly runtime: OrtRuntime,
    readonly key: string,
    private session: OrtTypes.InferenceSession,
    public provider: OrtProvider,
    public fallback: string | null,
    private readonly modelBytes: () => Uint8Array,
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }
  get busy(): boolean {
    return this.active > 0;
  }

  async run(feeds: OrtFeeds): Promise<Record<string, OrtTensor>> {
    this.active++;
    try {
      return (await this.session.run(feeds)) as Record<string, OrtTensor>;
    } catch (err) {
      if (this.provider === 'cpu' || !OOM.test(firstLine(err))) throw err;
      // Out of device memory: the same graph on the CPU provider, said once, kept for the key.
      const reason = `${this.provider} ran out of memory (${firstLine(err)}); using cpu`;
      const old = this.session;
      this.session = await this.runtime.createSession(this.modelBytes(), 'cpu');
      this.provider = 'cpu';
      this.fallback = reason;
      void old.release().catch(() => undefined);
      return (await this.session.run(feeds)) as Record<string, OrtTensor>;
    } finally {
      this.active--;
      this.lastUsed = Date.now();
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export class OrtRuntime {
  private loading: Promise<OrtLoad> | null = null;
  private threads: number | null = null;
  private readonly sessions = new Map<string, Promise<CachedSession>>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(readonly env: OrtEnvironment = defaultOrtEnvironment) {}

  /** The module, or why it did not load (never throws). Loaded once per process. */
  load(): Promise<OrtLoad> {
    this.loading ??= (async (): Promise<OrtLoad> => {
      try {
        const ort = await this.env.importOrt();
        if (typeof ort?.InferenceSession?.create !== 'function') {
          return { ok: false, reason: 'onnxruntime-node loaded without an InferenceSession' };
        }
        const version = ort.env?.versions?.node ?? ort.env?.versions?.common ?? 'unknown';
        return { ok: true, ort, version };
      } catch (err) {
        return { ok: false, reason: describeLoadError(err, this.env.platform, this.env.arch) };
      }
    })();
    return this.loading;
  }

  /** The module, or an OrtUnavailableError carrying the reason. */
  async require(): Promise<OrtModule> {
    const loaded = await this.load();
    if (!loaded.ok) throw new OrtUnavailableError(loaded.reason);
    return loaded.ort;
  }

  /** Intra-op threads for the CPU provider: setIntraOpThreads, PATCHWORK_THREADS, else cores. */
  intraOpThreads(): number {
    if (this.threads !== null) return this.threads;
    const fromEnv = Number.parseInt(process.env.PATCHWORK_THREADS ?? '', 10);
    if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
    return Math.max(1, this.env.cores());
  }

  setIntraOpThreads(n: number | null): void {
    if (n !== null && (!Number.isInteger(n) || n < 1)) {
      throw new RangeError(`threads must be a whole number ≥ 1 (got ${n})`);
    }
    this.threads = n;
  }

  /** Every provider with whether it can run here and why (Settings shows this). */
  async detectProviders(): Promise<OrtProviderAvailability[]> {
    const loaded = await this.load();
    if (!loaded.ok) {
      return ORT_PROVIDERS.map((name) => ({ name, available: false, detail: loaded.reason }));
    }
    let listed: { name: string; bundled: boolean }[] = [];
    try {
      listed = (
        loaded.ort as OrtModule & { listSupportedBackends?: () => typeof listed }
      ).listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
    } catch (err) {
      listed = [{ name: 'cpu', bundled: true }];
      void err;
    }
    const has = (n: string) => listed.find((b) => b.name === n);
    const out: OrtProviderAvailability[] = [];
    for (const name of ORT_PROVIDERS) {
      out.push({ name, ...(await this.probe(name, has(name), loaded.ort)) });
    }
    return out;
  }

  private async probe(
    name: OrtProvider,
    listed: { bundled: boolean } | undefined,
    ort: OrtModule,
  ): Promise<{ available: boolean; detail: string }> {
    const { platform, arch } = this.env;
    switch (name) {
      case 'cpu':
        return { available: true, detail: `${this.intraOpThreads()} threads` };
      case 'cuda':
        if (!listed) return { available: false, detail: 'not in this build of ONNX Runtime' };
        if (listed.bundled || this.env.cudaInstalled(ort)) {
          return { available: true, detail: 'CUDA provider installed' };
        }
        return {
          available: false,
          detail: 'the CUDA provider is not installed (it is never downloaded at install)',
        };
      case 'dml':
        if (platform !== 'win32') return { available: false, detail: 'Windows only' };
        return listed
          ? { available: true, detail: 'DirectML' }
          : { available: false, detail: 'not in this build of ONNX Runtime' };
      case 'coreml':
        if (platform !== 'darwin' || arch !== 'arm64') {
          return { available: false, detail: 'macOS on Apple silicon only' };
        }
        return listed
          ? { available: true, detail: 'Core ML' }
          : { available: false, detail: 'not in this build of ONNX Runtime' };
      case 'webgpu': {
        if (!listed) return { available: false, detail: 'not in this build of ONNX Runtime' };
        let gpu: string | null;
        try {
          gpu = await this.env.hardwareGpu();
        } catch (err) {
          return { available: false, detail: `no GPU adapter: ${firstLine(err)}` };
        }
        return gpu
          ? { available: true, detail: gpu }
          : {
              available: false,
              detail: 'no hardware GPU adapter (software adapters only by name)',
            };
      }
    }
  }

  /**
   * The provider a preference resolves to. `auto` takes the first available in ORT_PROVIDERS;
   * a named provider must be available, except `webgpu`, which a user may name on a software
   * adapter. Throws OrtUnavailableError when ONNX Runtime itself does not load.
   */
  async chooseProvider(pref: OrtProviderPreference = 'auto'): Promise<OrtProviderReport> {
    await this.require();
    const found = await this.detectProviders();
    const skipped: { name: string; reason: string }[] = [];
    if (pref !== 'auto') {
      const p = found.find((f) => f.name === pref)!;
      if (p.available || (pref === 'webgpu' && /software/.test(p.detail))) {
        return { name: pref, detail: this.detailFor(pref, p.detail), skipped };
      }
      throw new OrtUnavailableError(
        `ONNX Runtime provider ${pref} is not usable here: ${p.detail}`,
      );
    }
    for (const p of found) {
      if (p.available) return { name: p.name, detail: this.detailFor(p.name, p.detail), skipped };
      skipped.push({ name: p.name, reason: p.detail });
    }
    // Unreachable: cpu is always available once the module loads.
    return { name: 'cpu', detail: this.detailFor('cpu', ''), skipped };
  }

  private detailFor(name: OrtProvider, found: string): string {
    if (name === 'cpu') return `cpu (${this.intraOpThreads()} threads)`;
    return found ? `${name} (${found})` : name;
  }

  /** A fresh native session for the bytes on one provider (no cache, no fallback). */
  async createSession(
    bytes: Uint8Array,
    provider: OrtProvider,
  ): Promise<OrtTypes.InferenceSession> {
    const ort = await this.require();
    const options: OrtTypes.InferenceSession.SessionOptions = {
      executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'],
      intraOpNumThreads: this.intraOpThreads(),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    };
    return ort.InferenceSession.create(bytes, options);
  }

  /**
   * The cached session for `key` on `provider`, created from `modelBytes()` on first use. A
   * provider that fails at creation falls back to cpu with the reason in `fallback`.
   */
  sessionFor(
    key: string,
    modelBytes: () => Uint8Array,
    provider: OrtProvider,
  ): Promise<OrtSession> {
    const cacheKey = `${key}\u0000${provider}`;
    let entry = this.sessions.get(cacheKey);
    if (!entry) {
      entry = this.openCached(key, modelBytes, provider);
      this.sessions.set(cacheKey, entry);
      entry.catch(() => this.sessions.delete(cacheKey));
      this.startSweeper();
    }
    return entry.then((s) => {
      s.lastUsed = Date.now();
      return s;
    });
  }

  private async openCached(
    key: string,
    modelBytes: () => Uint8Array,
    provider: OrtProvider,
  ): Promise<CachedSession> {
    const bytes = modelBytes();
    try {
      const s = await this.createSession(bytes, provider);
      return new CachedSession(this, key, s, provider, null, modelBytes);
    } catch (err) {
      if (provider === 'cpu' || err instanceof OrtUnavailableError) throw err;
      const reason = `${provider} failed to start this graph (${firstLine(err)}); using cpu`;
      const s = await this.createSession(bytes, 'cpu');
      return new CachedSession(this, key, s, 'cpu', reason, modelBytes);
    }
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    const every = Math.max(50, Math.min(this.env.idleMs / 2, 30_000));
    this.sweeper = setInterval(() => void this.releaseIdle(), every);
    this.sweeper.unref();
  }

  /** Release sessions idle for at least `idleMs` (default: the environment's). Returns how many. */
  async releaseIdle(idleMs = this.env.idleMs, now = Date.now()): Promise<number> {
    let released = 0;
    for (const [k, p] of [...this.sessions]) {
      let s: CachedSession;
      try {
        s = await p;
      } catch {
        continue;
      }
      if (s.busy || now - s.lastUsed < idleMs) continue;
      if (this.sessions.get(k) !== p) continue;
      this.sessions.delete(k);
      released++;
      await s.release().catch(() => undefined);
    }
    if (this.sessions.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
    return released;
  }

  /** How many sessions are cached (tests and diagnostics). */
  get cachedSessions(): number {
    return this.sessions.size;
  }

  /** Release the cached sessions whose key starts with `prefix` (a style's, on dispose). */
  async releaseMatching(prefix: string): Promise<void> {
    for (const [k, p] of [...this.sessions]) {
      if (!k.startsWith(prefix)) continue;
      this.sessions.delete(k);
      try {
        await (await p).release();
      } catch {
        // A session that failed to open has nothing to release.
      }
    }
  }

  /** Release every cached session now. */
  async releaseAll(): Promise<void> {
    await this.releaseIdle(0, Number.POSITIVE_INFINITY);
  }
}

/** The process's runtime. */
export const ortRuntime = new OrtRuntime();

export const loadOrt = (): Promise<OrtLoad> => ortRuntime.load();
export const detectOrtProviders = (): Promise<OrtProviderAvailability[]> =>
  ortRuntime.detectProviders();
export const chooseOrtProvider = (pref?: OrtProviderPreference): Promise<OrtProviderReport> =>
  ortRuntime.chooseProvider(pref);
export const sessionFor = (
  key: string,
  modelBytes: () => Uint8Array,
  provider: OrtProvider,
): Promise<OrtSession> => ortRuntime.sessionFor(key, modelBytes, provider);
export const intraOpThreads = (): number => ortRuntime.intraOpThreads();
export const setIntraOpThreads = (n: number | null): void => ortRuntime.setIntraOpThreads(n);
