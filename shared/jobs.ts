/**
 * The training job contract ("Train a style from two folders", DESIGN.md "Training"): what a
 * caller asks for (TrainJobSpec), how it is validated and completed with defaults
 * (resolveTrainJob), and the events a running job reports (TrainEvent). Pure TypeScript:
 * the engine runs the job, services and the renderer only read these types.
 */
import { z } from 'zod';
import { OptionsError, resolveTrainOptions, type Preset, type TrainOptions } from './options';

/** Compute backends a job may ask for ('auto': the fastest that loads). */
export const BACKEND_CHOICES = ['auto', 'wasm', 'cpu', 'tensorflow', 'webgpu'] as const;
export type TrainBackendChoice = (typeof BACKEND_CHOICES)[number];

export interface TrainJobSpec {
  /** Folder A: the kind of images the artist has. */
  source: string;
  /** Folder B: the look they want. */
  target: string;
  /** Output folder: checkpoints/, previews/ and, at the end, style/. */
  out: string;
  /** Options over a preset; resolved and validated by resolveTrainOptions. */
  options: Partial<TrainOptions> & { preset: Preset };
  /** Steps to train to (counted from the first step, also when resuming). Null or absent:
   * the preset's schedule, (epochs + decayEpochs) × steps per epoch, unless untilStopped. */
  iterations?: number | null;
  /** Train until cancelled; the learning rate stays at its last scheduled value after the
   * schedule ends. Excludes `iterations`. */
  untilStopped?: boolean;
  /** Read subfolders of source and target too. */
  recursive?: boolean;
  backend?: TrainBackendChoice;
  /** Iterations between checkpoints (default 500). One is also written when the job stops. */
  checkpointEvery?: number;
  /** Iterations between preview images (default 500; 0 = only the final ones). */
  previewEvery?: number;
  /** Source images translated for previews and shown in the style (default 4). */
  previewCount?: number;
  /** Iterations between progress events (default 10; the first and last always report). */
  progressEvery?: number;
  /** Images smaller than the crop: scale them up (default) or skip them. */
  smallImages?: 'upscale' | 'reject';
  /** The style's display name (default: the output folder's name). */
  name?: string;
  /** Fine-tune: a style folder whose generator (and projection head, when it has one) a fresh
   * run starts from instead of random weights; the discriminator always starts fresh. The
   * generator's width and blocks come from it. Ignored when resuming from a checkpoint. */
  initFrom?: string;
  /** The folders the studio may read: scanned links leading out of them are skipped, each
   * reported as 'outside-allowed-folders'. Absent: no restriction (the CLI). */
  allowedRoots?: string[];
}

/** A spec with every default filled in and the options resolved. */
export interface ResolvedTrainJob {
  source: string;
  target: string;
  out: string;
  options: TrainOptions;
  iterations: number | null;
  untilStopped: boolean;
  recursive: boolean;
  backend: TrainBackendChoice;
  checkpointEvery: number;
  previewEvery: number;
  previewCount: number;
  progressEvery: number;
  smallImages: 'upscale' | 'reject';
  name: string | null;
  initFrom: string | null;
  allowedRoots: string[] | null;
}

export const TRAIN_JOB_DEFAULTS = {
  recursive: false,
  backend: 'auto' as TrainBackendChoice,
  checkpointEvery: 500,
  previewEvery: 500,
  previewCount: 4,
  progressEvery: 10,
  smallImages: 'upscale' as const,
};

const count = z.number().int().min(0);
const positive = z.number().int().positive();

const jobSchema = z
  .object({
    source: z.string().min(1, 'a source folder is required'),
    target: z.string().min(1, 'a target folder is required'),
    out: z.string().min(1, 'an output folder is required'),
    options: z.record(z.string(), z.unknown()),
    iterations: count.nullable().optional(),
    untilStopped: z.boolean().optional(),
    recursive: z.boolean().optional(),
    backend: z.enum(BACKEND_CHOICES).optional(),
    checkpointEvery: positive.optional(),
    previewEvery: count.optional(),
    previewCount: count.max(64).optional(),
    progressEvery: positive.optional(),
    smallImages: z.enum(['upscale', 'reject']).optional(),
    name: z.string().min(1).max(200).optional(),
    initFrom: z.string().min(1, 'a style folder is required').optional(),
    allowedRoots: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .refine((s) => !(s.untilStopped && s.iterations != null), {
    path: ['iterations'],
    message: 'give either iterations or untilStopped, not both',
  });

/** Validates a job spec at the boundary; errors name the field, as OptionsError does. */
export function resolveTrainJob(spec: TrainJobSpec): ResolvedTrainJob {
  const result = jobSchema.safeParse(spec);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({
      option: issue.path.length ? issue.path.join('.') : '(job)',
      message: issue.message,
    }));
    const text = issues.map((i) => `job field "${i.option}": ${i.message}`).join('; ');
    throw new OptionsError(text, issues);
  }
  const s = result.data;
  const d = TRAIN_JOB_DEFAULTS;
  return {
    source: s.source,
    target: s.target,
    out: s.out,
    options: resolveTrainOptions(s.options),
    iterations: s.iterations ?? null,
    untilStopped: s.untilStopped ?? false,
    recursive: s.recursive ?? d.recursive,
    backend: s.backend ?? d.backend,
    checkpointEvery: s.checkpointEvery ?? d.checkpointEvery,
    previewEvery: s.previewEvery ?? d.previewEvery,
    previewCount: s.previewCount ?? d.previewCount,
    progressEvery: s.progressEvery ?? d.progressEvery,
    smallImages: s.smallImages ?? d.smallImages,
    name: s.name ?? null,
    initFrom: s.initFrom ?? null,
    allowedRoots: s.allowedRoots ?? null,
  };
}

// ─── events ────────────────────────────────────────────────────────────────────────────────

/** One step's losses, as the engine's trainStep returns them. */
export interface TrainLosses {
  D: number;
  D_real: number;
  D_fake: number;
  G: number;
  G_GAN: number;
  NCE: number;
  /** Identity PatchNCE on the target domain; null for FastCUT. */
  NCE_Y: number | null;
}

export interface SkippedFileInfo {
  path: string;
  /** A short code: 'corrupt', 'unsupported', 'too-small', 'not-an-image', 'hidden', … */
  reason: string;
  message: string;
}

export interface BackendInfo {
  name: string;
  detail: string;
  skipped: { name: string; reason: string }[];
}

export type TrainEvent =
  | {
      type: 'started';
      backend: BackendInfo;
      /** Null when training until stopped. */
      totalIterations: number | null;
      /** The iteration resumed from, or null for a fresh run. */
      resumedFrom: number | null;
      /** The style a fresh run was fine-tuned from, or null. */
      initFrom: string | null;
      datasetSizes: { source: number; target: number };
      stepsPerEpoch: number;
      /** Files left out before training began (scan and first reads). */
      skipped: SkippedFileInfo[];
      options: TrainOptions;
    }
  | {
      type: 'progress';
      /** Steps completed. */
      iteration: number;
      /** 1-based, as the reference counts epochs. */
      epoch: number;
      totalIterations: number | null;
      losses: TrainLosses;
      itPerSec: number;
      etaSeconds: number | null;
      lr: number;
    }
  | { type: 'preview'; iteration: number; paths: string[] }
  | { type: 'checkpoint'; iteration: number; path: string }
  | ({ type: 'skipped-file' } & SkippedFileInfo)
  /** Something the artist should know that does not stop the job (a corrupt checkpoint
   * passed over, a checkpoint that could not be written, options changed on resume). */
  | { type: 'warning'; message: string }
  | {
      type: 'finished';
      status: 'completed' | 'cancelled';
      iteration: number;
      styleDir: string;
    };

export type TrainEventType = TrainEvent['type'];

// ─── the finished style (style.json's schema: main/style/style-json.ts) ────────────────────

/** How the style was trained, for the library's detail view. */
export interface TrainingSummary {
  iterations: number;
  /** 1-based epoch of the last step. */
  epochs: number;
  durationSeconds: number;
  finalLosses: TrainLosses | null;
  /** The backend's detail line, e.g. "wasm (SIMD, 1 thread; …)". */
  backend: string;
  status: 'completed' | 'cancelled';
  datasetSizes: { source: number; target: number };
}
