/**
 * What the engine finds on this machine, for the Settings view: which compute backends load,
 * which one `auto` picks (with the reasons it skipped the ones before it), and for webgpu every
 * adapter Dawn offers (vendor, architecture, description, software or not), for a GPU picker.
 * Runs in an engine process of its own, which the services then close: trying each backend
 * leaves TF.js's current backend wherever the last try put it.
 */
import type {
  BackendAvailability,
  BackendDetection,
  OnnxDetection,
} from '../../shared/ipc-settings';
import type { ProbeJobSpec } from '../../shared/ipc-worker';
import { BACKENDS, initBackend, type BackendReport } from '../engine/backend';
import { defaultOrtEnvironment, OrtRuntime } from '../engine/onnx/runtime';
import { listGpuAdapters, type GpuAdapterSummary } from '../engine/webgpu';

/** ONNX Runtime and its providers; the GPU adapters already listed stand for WebGPU's. */
export async function probeOnnx(
  adapters: readonly GpuAdapterSummary[],
  runtime = new OrtRuntime({
    ...defaultOrtEnvironment,
    hardwareGpu: async () => adapters.find((a) => !a.software)?.name ?? null,
  }),
): Promise<OnnxDetection> {
  const loaded = await runtime.load();
  const providers = (await runtime.detectProviders()).map((p) => ({ ...p }));
  if (!loaded.ok) return { version: null, reason: loaded.reason, auto: null, providers };
  const auto = await runtime.chooseProvider('auto');
  return { version: loaded.version, reason: null, auto: auto.detail, providers };
}

export async function runProbe(spec: ProbeJobSpec): Promise<BackendDetection> {
  const started = performance.now();
  // The services pass the adapter in force; webgpu.ts reads it when it looks for one.
  if (spec.gpuAdapter) process.env.PATCHWORK_GPU_ADAPTER = spec.gpuAdapter;
  else delete process.env.PATCHWORK_GPU_ADAPTER;
  let auto: BackendReport | null = null;
  let autoFailure: { name: string; reason: string }[] = [];
  try {
    auto = await initBackend('auto');
  } catch (err) {
    autoFailure = (err as { skipped?: { name: string; reason: string }[] }).skipped ?? [];
  }
  const skipped = auto?.skipped ?? autoFailure;
  const adapters = spec.adapters === false ? [] : await listGpuAdapters().catch(() => []);
  const backends: BackendAvailability[] = [];
  for (const name of BACKENDS) {
    if (auto?.name === name) {
      backends.push({ name, available: true, detail: auto.detail, reason: null });
      continue;
    }
    const skip = skipped.find((s) => s.name === name);
    if (name === 'webgpu' && adapters.length > 0) {
      // auto declines software adapters; naming webgpu uses them.
      const hardware = adapters.some((a) => !a.software);
      backends.push({
        name,
        available: true,
        detail: adapters.map((a) => a.description || a.name).join('; '),
        reason: hardware ? (skip?.reason ?? null) : 'software adapter only: used when chosen',
      });
      continue;
    }
    if (skip) {
      backends.push({ name, available: false, detail: null, reason: skip.reason });
      continue;
    }
    // After auto's choice: never tried by auto; try it by name (cheap for wasm and cpu).
    try {
      const report = await initBackend(name);
      backends.push({ name, available: true, detail: report.detail, reason: null });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      backends.push({ name, available: false, detail: null, reason });
    }
  }
  const onnx = await probeOnnx(spec.adapters === false ? [] : adapters);
  return {
    auto: auto ? { name: auto.name, detail: auto.detail } : null,
    backends,
    onnx,
    adapters: adapters.map((a) => ({
      name: a.name,
      api: a.api,
      vendor: a.vendor,
      architecture: a.architecture,
      description: a.description,
      software: a.software,
      preferredFor: [...a.preferredFor],
    })),
    adapterAsked: process.env.PATCHWORK_GPU_ADAPTER || null,
    probedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - started),
  };
}
