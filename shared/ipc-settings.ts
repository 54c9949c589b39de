/**
 * The studio's settings: what they are, their defaults and their validation, shared by the
 * settings service (main/services/settings.ts), the contract (shared/ipc.ts) and the page.
 */
import { z } from 'zod';
import { ENGINE_CHOICES } from './convert-options';
import { FORMAT_CHOICES } from './image-formats';
import { BACKEND_CHOICES } from './jobs';
import { MAX_THREADS } from './threads';

export const THEMES = ['dark', 'light', 'system'] as const;
/** The default format's choices: shared/image-formats.ts owns the list. */
export const SETTINGS_FORMATS = FORMAT_CHOICES;
export const MIN_MEMORY_BUDGET_MB = 256;
export const MAX_MEMORY_BUDGET_MB = 262_144;

/** An absolute path on any of the systems the app runs on. */
const absolute = z
  .string()
  .max(4096)
  .regex(/^(\/|[A-Za-z]:[\\/]|\\\\)/, 'give a full path (e.g. /Users/me/Patchwork)');

export const settingsSchema = z
  .object({
    theme: z.enum(THEMES),
    /** The compute backend jobs use unless they name one; auto picks the fastest that loads. */
    backend: z.enum(BACKEND_CHOICES),
    /**
     * The inference engine conversions use: onnx (ONNX Runtime), tfjs, or auto (ONNX Runtime
     * where it loads and runs the style, else TF.js). Training always runs on TF.js.
     */
    engine: z.enum(ENGINE_CHOICES),
    /** Memory one image's translation may use (tiled conversion), MiB. */
    memoryBudgetMB: z
      .number()
      .int('a whole number of MiB')
      .min(MIN_MEMORY_BUDGET_MB, `at least ${MIN_MEMORY_BUDGET_MB} MiB`)
      .max(MAX_MEMORY_BUDGET_MB, `at most ${MAX_MEMORY_BUDGET_MB} MiB`),
    /** The output format Convert starts with. */
    defaultFormat: z.enum(SETTINGS_FORMATS),
    /** Where styles and the job list live; null: the default place. Used from the next start. */
    libraryDir: absolute.nullable(),
    /**
     * The GPU the webgpu backend uses, by the name the engine lists it under (BackendDetection's
     * adapters); null: the system's high-performance choice. Engine processes started after a
     * change use it (as PATCHWORK_GPU_ADAPTER).
     */
    gpuAdapter: z.string().min(1).max(200).nullable(),
    /**
     * CPU threads of the wasm backend (shared/threads.ts); auto: the physical cores less one,
     * kept for the studio. Engine processes started after a change use it (as
     * PATCHWORK_THREADS).
     */
    threads: z.union([
      z.literal('auto'),
      z
        .number()
        .int('a whole number of threads')
        .min(1, 'at least 1')
        .max(MAX_THREADS, `at most ${MAX_THREADS}`),
    ]),
  })
  .strict();

export type StudioSettings = z.infer<typeof settingsSchema>;

/** A change to some settings: every field optional, nothing unknown. */
export const settingsPatchSchema = settingsSchema.partial().strict();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export const DEFAULT_SETTINGS: StudioSettings = {
  theme: 'dark',
  backend: 'auto',
  engine: 'auto',
  memoryBudgetMB: 3072,
  defaultFormat: 'same',
  libraryDir: null,
  gpuAdapter: null,
  threads: 'auto',
};

/** What the Settings view shows: the settings and what they mean here and now. */
export interface SettingsView {
  settings: StudioSettings;
  /** The library this studio uses now. */
  libraryInUse: string;
  /** The library is given on the command line (`patchwork serve --library`), not here. */
  libraryFixed: boolean;
  /** A saved library folder differs from the one in use: it applies after a restart. */
  restartNeeded: boolean;
  /** The backend choices this build knows. */
  backends: readonly string[];
  /** The inference engine choices (ENGINE_CHOICES). */
  engines: readonly string[];
}

/** One ONNX Runtime execution provider as found here (main/engine/onnx/runtime.ts). */
export interface OnnxProviderInfo {
  name: string;
  available: boolean;
  /** What was found, or why it cannot be used. */
  detail: string;
}

/** What the engine found about ONNX Runtime: whether it loads, and its providers. */
export interface OnnxDetection {
  /** The version that loaded; null when it did not load. */
  version: string | null;
  /** Why it did not load (conversions then run on TF.js); null when it did. */
  reason: string | null;
  /** The provider auto takes, in words ("cpu (8 threads)"); null when it did not load. */
  auto: string | null;
  providers: OnnxProviderInfo[];
}

/** A GPU the engine can use through webgpu (main/engine/webgpu.ts listGpuAdapters). */
export interface GpuAdapterInfo {
  /** What the GPU picker stores (Dawn's adapter name, or the description). */
  name: string;
  /** The graphics API under it ('vulkan', 'metal', 'd3d12', …), where known. */
  api: string | null;
  vendor: string;
  architecture: string;
  description: string;
  /** A CPU pretending to be a GPU (SwiftShader, llvmpipe): used only when asked for by name. */
  software: boolean;
  /** The power preferences that return it ('high-performance', 'low-power'). */
  preferredFor: string[];
}

/** One compute backend as the engine found it on this machine. */
export interface BackendAvailability {
  name: string;
  available: boolean;
  /** What loads, in the engine's words (e.g. "wasm (SIMD, 1 thread; …)"). */
  detail: string | null;
  /** Why it is not used: not installed, no GPU, only a software adapter. */
  reason: string | null;
}

/** What the engine detected (main/jobs/probe-job.ts): backends, auto's choice, the GPUs. */
export interface BackendDetection {
  /** The backend `auto` picks here; null when none loads. */
  auto: { name: string; detail: string } | null;
  /** Every backend the engine knows, in auto's order of preference. */
  backends: BackendAvailability[];
  adapters: GpuAdapterInfo[];
  /** ONNX Runtime, the conversions' engine (absent from probes of older engines). */
  onnx?: OnnxDetection;
  /** The adapter asked for when probing (the setting, or PATCHWORK_GPU_ADAPTER); null: none. */
  adapterAsked: string | null;
  /** ISO 8601. */
  probedAt: string;
  /** How long the probe took in the engine, ms. */
  durationMs: number;
}

/** Fields of a stored settings file that are valid, over the defaults; the rest dropped. */
export function settingsFrom(raw: unknown): { settings: StudioSettings; dropped: string[] } {
  const settings: StudioSettings = { ...DEFAULT_SETTINGS };
  const dropped: string[] = [];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { settings, dropped };
  const shape = settingsSchema.shape;
  for (const [key, value] of Object.entries(raw)) {
    const field = shape[key as keyof typeof shape];
    const ok = field?.safeParse(value);
    if (ok?.success) (settings as Record<string, unknown>)[key] = ok.data;
    else dropped.push(key);
  }
  return { settings, dropped };
}
