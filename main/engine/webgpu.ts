/**
 * The `webgpu` compute backend: TF.js's WebGPU kernels on a device from Dawn's Node binding
 * (the `webgpu` package: Metal, D3D12 or Vulkan underneath), the engine's GPU path on every
 * vendor (DESIGN.md, "Compute backends").
 *
 * - Registered with TF.js only once an adapter is found; without one the loader declines with
 *   the reason (TF.js's own registration would fail on a null adapter instead).
 * - Software adapters (SwiftShader, llvmpipe/lavapipe, Microsoft Basic Render Driver) run
 *   only when asked for by name: `auto` never falls onto a CPU pretending to be a GPU.
 *   PATCHWORK_SWIFTSHADER=1 (or useSwiftShader()) points Vulkan at Chromium's SwiftShader,
 *   which is how the tests and the benchmarks run without a GPU.
 * - Node has no synchronous GPU read: the engine reads with `await tensor.data()`. A
 *   `dataSync()` of a value still on the GPU fails with a message saying so.
 * - GPU errors are caught in error scopes and surface at the next read: out-of-memory as an
 *   error whose message says "out of memory" (tiled inference retries with smaller tiles),
 *   a lost device as a clear failure; the next initBackend builds a fresh device.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The adapter limits the engine reports and sizes tiles by. */
export interface GpuLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
}

export interface GpuAdapterSummary {
  /** The name Dawn selects it by (`adapter` option), where Dawn listed it; else the description. */
  name: string;
  /** Dawn's backend for it ('vulkan', 'metal', 'd3d12', …), where Dawn listed it. */
  api: string | null;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (SwiftShader, llvmpipe, Basic Render): correctness only. */
  software: boolean;
  /** The power preferences that return it (a picker shows both when they differ). */
  preferredFor: GPUPowerPreference[];
  limits: GpuLimits;
}

/** Which adapter the `webgpu` backend uses (PATCHWORK_GPU_ADAPTER names one). */
interface WebGpuSelection {
  /** An adapter name from listGpuAdapters() (Dawn's `adapter=` option). */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|basic render/i;

/** Where Debian's (and Ubuntu's) Chromium ships SwiftShader's Vulkan ICD. */
export const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

interface DawnModule {
  create(options: string[]): GPU;
  globals: object;
}

/** The part of TF.js's WebGPUBackend this file touches. */
interface WebGpuBackendLike extends tf.KernelBackend {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { values?: unknown; dtype: string } | undefined };
  bufferManager: { dispose(): void };
}

interface Live {
  backend: WebGpuBackendLike;
  device: GPUDevice;
  adapter: GpuAdapterSummary;
  /** Set when the device is lost; the backend is then unusable. */
  lost: string | null;
}

let live: Live | null = null;
let selection: WebGpuSelection = {};

/**
 * Points Vulkan at SwiftShader (before any GPU instance exists in this process). Returns the
 * ICD used, or null where none is installed. VK_ICD_FILENAMES is read when Dawn creates its
 * Vulkan instance, so setting it in process.env is enough.
 */
export function useSwiftShader(icd?: string): string | null {
  const file = icd ?? SWIFTSHADER_ICDS.find((f) => existsSync(f));
  if (!file || !existsSync(file)) return null;
  process.env.VK_ICD_FILENAMES = file;
  return file;
}

/** PATCHWORK_SWIFTSHADER=1 (or a path to an ICD json) selects SwiftShader for this process. */
function applyEnvironment(): void {
  const want = process.env.PATCHWORK_SWIFTSHADER;
  if (want && want !== '0') useSwiftShader(want === '1' ? undefined : want);
  if (process.env.PATCHWORK_GPU_ADAPTER && !selection.adapter) {
    selection = { ...selection, adapter: process.env.PATCHWORK_GPU_ADAPTER };
  }
  // The Vulkan loader complains on stderr without it; any private writable folder will do.
  if (process.platform === 'linux' && !process.env.XDG_RUNTIME_DIR) {
    const dir = path.join(os.tmpdir(), `patchwork-xdg-${process.getuid?.() ?? 'user'}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
}

/**
 * On Linux a hardware adapter needs a GPU device node; where there is none, `auto` need not
 * start Dawn at all (it would only find a software rasteriser and print Vulkan warnings).
 */
export function gpuDeviceNodes(): string[] {
  if (process.platform !== 'linux') return ['(not Linux: ask Dawn)'];
  return ['/dev/dri', '/dev/nvidia0', '/dev/dxg'].filter((p) => existsSync(p));
}

async function loadDawn(): Promise<DawnModule> {
  try {
    const mod = (await import('webgpu')) as unknown as DawnModule;
    return mod;
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`Dawn's Node binding (webgpu) did not load: ${msg}`);
  }
}

/** Adapter names Dawn offers, parsed from its refusal of an adapter that does not exist. */
async function dawnAdapterNames(dawn: DawnModule): Promise<{ api: string; name: string }[]> {
  try {
    await dawn.create(['adapter=patchwork-lists-adapters']).requestAdapter();
    return [];
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const out: { api: string; name: string }[] = [];
    for (const m of text.matchAll(/backend: '([^']*)', name: '([^']*)'/g)) {
      out.push({ api: m[1], name: m[2] });
    }
    return out;
  }
}

function summarize(
  adapter: GPUAdapter,
  listed: { api: string; name: string } | undefined,
  preferredFor: GPUPowerPreference[],
): GpuAdapterSummary {
  // Dawn's GPUAdapterInfo fields are getters: read each one explicitly.
  const info = adapter.info;
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const text = [info.vendor, info.architecture, info.device, info.description, listed?.name];
  const l = adapter.limits;
  return {
    name: listed?.name ?? (info.description || `${info.vendor} ${info.architecture}`.trim()),
    api: listed?.api ?? null,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: fallback === true || text.some((t) => t !== undefined && SOFTWARE.test(t)),
    preferredFor,
    limits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  };
}

function sameAdapter(a: GpuAdapterSummary, b: GpuAdapterSummary): boolean {
  return a.description === b.description && a.device === b.device && a.vendor === b.vendor;
}

/**
 * Every adapter Dawn can give this process, for a GPU picker: each one Dawn lists by name
 * (its `adapter=` option), plus what the high-performance and low-power preferences return.
 * Empty where there is none (no GPU, no driver, or the binding does not load).
 */
export async function listGpuAdapters(): Promise<GpuAdapterSummary[]> {
  applyEnvironment();
  let dawn: DawnModule;
  try {
    dawn = await loadDawn();
  } catch {
    return [];
  }
  const out: GpuAdapterSummary[] = [];
  const add = (s: GpuAdapterSummary) => {
    const known = out.find((o) => sameAdapter(o, s));
    if (!known) out.push(s);
    else known.preferredFor = [...new Set([...known.preferredFor, ...s.preferredFor])];
  };
  const listed = await dawnAdapterNames(dawn);
  for (const entry of listed) {
    const adapter = await dawn
      .create([`adapter=${entry.name}`])
      .requestAdapter()
      .catch(() => null);
    if (adapter) add(summarize(adapter, entry, []));
  }
  const gpu = dawn.create([]);
  for (const pref of ['high-performance', 'low-power'] as const) {
    const adapter = await gpu.requestAdapter({ powerPreference: pref });
    if (!adapter) continue;
    const entry = listed.find((e) => e.name === adapter.info.description);
    add(summarize(adapter, entry, [pref]));
  }
  return out;
}

async function requestAdapter(
  dawn: DawnModule,
): Promise<{ gpu: GPU; adapter: GPUAdapter; summary: GpuAdapterSummary } | { reason: string }> {
  const options = selection.adapter ? [`adapter=${selection.adapter}`] : [];
  const pref = selection.powerPreference ?? 'high-performance';
  let gpu: GPU;
  let adapter: GPUAdapter | null;
  try {
    gpu = dawn.create(options);
    adapter = await gpu.requestAdapter({ powerPreference: pref });
  } catch (err) {
    // Dawn names the adapters it has when the one asked for is not among them.
    const text = err instanceof Error ? err.message.replace(/\s+/g, ' ') : String(err);
    return { reason: `Dawn refused adapter "${selection.adapter ?? ''}": ${text}` };
  }
  if (!adapter) {
    const icd = process.env.VK_ICD_FILENAMES;
    const swiftShader = !icd && SWIFTSHADER_ICDS.some((f) => existsSync(f));
    return {
      reason:
        'no WebGPU adapter (no supported GPU or driver found' +
        (icd ? `; VK_ICD_FILENAMES=${icd}` : '') +
        ')' +
        (swiftShader
          ? '; PATCHWORK_SWIFTSHADER=1 runs it on SwiftShader, a CPU driver (slow)'
          : ''),
    };
  }
  return {
    gpu,
    adapter,
    summary: summarize(
      adapter,
      selection.adapter ? { api: '', name: selection.adapter } : undefined,
      [pref],
    ),
  };
}

/**
 * Create the device and TF.js backend and make it current. `allowSoftware` false is `auto`:
 * a software adapter is declined with the reason. Returns the report's detail line.
 */
export async function loadWebGpu(allowSoftware: boolean): Promise<string> {
  applyEnvironment();
  if (!allowSoftware && !process.env.VK_ICD_FILENAMES && gpuDeviceNodes().length === 0) {
    throw new Error('no GPU device (/dev/dri, /dev/nvidia0 or /dev/dxg) on this machine');
  }
  if (live && !live.lost && (allowSoftware || !live.adapter.software)) {
    if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not initialise');
    return detailLine(live.adapter);
  }
  const dawn = await loadDawn();
  const found = await requestAdapter(dawn);
  if ('reason' in found) throw new Error(found.reason);
  const { adapter, summary } = found;
  if (summary.software && !allowSoftware) {
    throw new Error(
      `only a software adapter (${describe(summary)}): never chosen automatically; ` +
        '--backend webgpu uses it (correctness only, slow)',
    );
  }
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, … for TF.js's kernels
  // Imported before navigator.gpu exists, so that TF.js registers no webgpu factory of its own.
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  exposeGpu(found.gpu);
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  const backend = new WebGPUBackend(device, adapter.info) as unknown as WebGpuBackendLike;
  const state: Live = { backend, device, adapter: summary, lost: null };
  guard(state);
  if ('webgpu' in tf.engine().registryFactory) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => backend, 0);
  if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not initialise');
  live = state;
  return detailLine(summary);
}

/**
 * TF.js's backend checks for navigator.gpu. Node 21+ has a navigator: gpu is added to it, never
 * replacing it; on Node 20 a minimal one is made.
 */
function exposeGpu(gpu: GPU): void {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator) {
    Object.defineProperty(globalThis, 'navigator', {
      value: {},
      configurable: true,
      writable: true,
    });
  }
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
}

/** False once the device is lost: the backend must be built again. */
export function webgpuUsable(): boolean {
  return live !== null && live.lost === null;
}

/**
 * The largest buffer one tensor may have on the current adapter (bytes), or Infinity when the
 * webgpu backend is not the current one. Every tensor is one storage buffer bound whole.
 */
export function gpuBufferLimitBytes(): number {
  if (!live || tf.getBackend() !== 'webgpu') return Infinity;
  const l = live.adapter.limits;
  return Math.min(l.maxBufferSize, l.maxStorageBufferBindingSize);
}

/** Loses the device on purpose (tests of the failure path). */
export function destroyGpuDeviceForTest(): void {
  live?.device.destroy();
}

function describe(s: GpuAdapterSummary): string {
  return [s.vendor, s.architecture, s.description].filter(Boolean).join(' ') || s.name;
}

const MIB = 2 ** 20;

export function detailLine(s: GpuAdapterSummary): string {
  const kind = s.software ? 'software adapter: correctness only, slow' : 'hardware adapter';
  return (
    `webgpu (${describe(s)}${s.api ? `, ${s.api}` : ''}; ${kind}; ` +
    `max buffer ${Math.floor(s.limits.maxBufferSize / MIB)} MiB, ` +
    `max storage binding ${Math.floor(s.limits.maxStorageBufferBindingSize / MIB)} MiB)`
  );
}

const SCOPES: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

/**
 * Error scopes stay open around all work; each read closes and reopens them, so an error of
 * any command since the last read turns into an exception there. The device's loss is noted
 * and reported by every later read.
 */
function guard(state: Live): void {
  const { backend, device } = state;
  for (const f of SCOPES) device.pushErrorScope(f);
  void device.lost.then((info) => {
    state.lost = `${info.reason}${info.message ? `: ${info.message}` : ''}`;
  });
  device.addEventListener('uncapturederror', (e) => {
    const err = (e as GPUUncapturedErrorEvent).error;
    process.emitWarning(`WebGPU: ${err.message}`, 'PatchworkGpuWarning');
  });
  const read = backend.read.bind(backend);
  const checkScopes = async (): Promise<void> => {
    if (state.lost) return;
    const popped = SCOPES.map(() => device.popErrorScope());
    for (const f of SCOPES) device.pushErrorScope(f);
    const errors = (await Promise.all(popped)).filter((e): e is GPUError => e !== null);
    if (errors.length === 0) return;
    backend.bufferManager.dispose(); // the pool may hold buffers that never came to be
    throw gpuError(errors[0]);
  };
  backend.read = async (dataId: object) => {
    if (state.lost) throw lostError(state.lost);
    let values: Awaited<ReturnType<typeof read>>;
    try {
      values = await read(dataId);
    } catch (err) {
      if (state.lost) throw lostError(state.lost);
      await checkScopes();
      throw err;
    }
    if (state.lost) throw lostError(state.lost);
    await checkScopes();
    return values;
  };
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    const data = backend.tensorMap.get(dataId);
    if (data && (data.values != null || data.dtype === 'string')) return readSync(dataId);
    throw new Error(
      'webgpu: a synchronous read (dataSync/arraySync) of a value on the GPU; Node has none, ' +
        'read it with await tensor.data()',
    );
  };
}

function gpuError(err: GPUError): Error {
  const message = err.message.split('\n')[0];
  if (err.constructor.name === 'GPUOutOfMemoryError') {
    return new Error(`GPU out of memory: ${message}`);
  }
  if (/exceed|too large|maxBufferSize|maxStorageBufferBindingSize/i.test(message)) {
    return new Error(
      `a GPU buffer over the adapter's limits (out of memory for this size): ${message}`,
    );
  }
  return new Error(`the GPU rejected the work: ${message}`);
}

function lostError(why: string): Error {
  return new Error(
    `the GPU device was lost (${why}); the job stops here, and the next one starts a new device`,
  );
}

/**
 * Makes `dataSync()` of these tensors safe on every backend: webgpu has no synchronous read in
 * Node, so there their values are downloaded first (the backend keeps them); elsewhere nothing.
 */
export async function prefetchForSyncRead(tensors: readonly tf.Tensor[]): Promise<void> {
  if (tf.getBackend() !== 'webgpu') return;
  for (const t of tensors) await t.data();
}
