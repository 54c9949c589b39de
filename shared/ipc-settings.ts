/**
 * The studio's settings: what they are, their defaults and their validation, shared by the
 * settings service (main/services/settings.ts), the contract (shared/ipc.ts) and the page.
 */
import { z } from 'zod';
import { BACKEND_CHOICES } from './jobs';

export const THEMES = ['dark', 'light', 'system'] as const;
export const SETTINGS_FORMATS = ['same', 'png', 'jpeg', 'webp', 'tiff', 'avif'] as const;
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
  })
  .strict();

export type StudioSettings = z.infer<typeof settingsSchema>;

/** A change to some settings: every field optional, nothing unknown. */
export const settingsPatchSchema = settingsSchema.partial().strict();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export const DEFAULT_SETTINGS: StudioSettings = {
  theme: 'dark',
  backend: 'auto',
  memoryBudgetMB: 3072,
  defaultFormat: 'same',
  libraryDir: null,
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
