/**
 * The protocol between the services and the engine's process (a Node child process under
 * `patchwork serve`, Electron's utilityProcess in the app: the same messages either way).
 * One job at a time; the host validates every message it receives with workerMessageSchema.
 * Every message type is z.infer of its schema; each job kind has its own spec and result
 * type (WorkerJobSpecs, WorkerJobResults), run by main/jobs/ and dispatched by main/worker/.
 */
import { z } from 'zod';
import { BACKEND_CHOICES, type TrainJobSpec } from './jobs';
import type { BackendDetection } from './ipc-settings';
import type { ConvertFileInfo, ConvertProgressInfo, StudioTrainEvent } from './ipc-jobs';
import { CONVERT_FORMAT_CHOICES, convertEncodingSchema, ENGINE_CHOICES } from './convert-options';
import { studioSinCutOptionsSchema } from './ipc';
import { PRESETS, resolveSinCutOptions, SINCUT_PRESETS, type SinCutOptions } from './options';

const id = z.string().min(1).max(64);
const file = z.string().min(1).max(4096);
const count = (max: number) => z.number().int().positive().max(max);
const backend = z.enum(BACKEND_CHOICES);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
/**
 * A value checked for its shape (an object) and typed as T: the engine and the services are
 * ours and share these types, but a corrupt message must not crash main.
 */
const shaped = <T>(check: (v: Record<string, unknown>) => boolean = () => true) =>
  z.custom<T>((v) => isRecord(v) && check(v));

// ─── job specs ───────────────────────────────────────────────────────────────────────────

/**
 * A conversion (main/jobs/convert/convert-job.ts): the studio's and `patchwork convert`'s,
 * the encoding options (shared/convert-options.ts) included.
 */
export const convertJobSpecSchema = convertEncodingSchema.extend({
  styleDir: file,
  input: file,
  output: file,
  recursive: z.boolean(),
  format: z.enum(CONVERT_FORMAT_CHOICES),
  backend,
  /** The inference engine (absent: auto, ONNX Runtime where it loads). */
  engine: z.enum(ENGINE_CHOICES).optional(),
  /** Memory one image's tiled translation may use, MiB (the studio's setting). */
  memoryBudgetMB: count(1_000_000).optional(),
  /** Tile every image, whatever its size (the CLI, given --tile or --memory-budget). */
  alwaysTiled: z.boolean().optional(),
  /** Convert again what the output folder says is up to date. */
  force: z.boolean().optional(),
  /** Also compare file contents, so a touched but unchanged file is skipped. */
  checksum: z.boolean().optional(),
  /**
   * The folders the studio may read: inputs that are links leading out of them are left out,
   * each reported as 'outside-allowed-folders'. Absent: no restriction (the CLI).
   */
  allowedRoots: z.array(file).optional(),
});
export type ConvertJobSpec = z.infer<typeof convertJobSpecSchema>;

/** A watched folder: converted as images arrive, until cancelled. */
export const watchJobSpecSchema = convertJobSpecSchema.extend({
  /** How long a file's size must hold still before it is converted (default 2000 ms). */
  stableMs: z.number().int().min(0).max(3_600_000).optional(),
});
export type WatchJobSpec = z.infer<typeof watchJobSpecSchema>;

const point = z.object({ x: z.number(), y: z.number() });

/** A correspondence heatmap: open a style and an image, and optionally query a point. */
export const heatmapJobSpecSchema = z.object({
  styleDir: file,
  image: file,
  /** A point on the output, in the full image's pixels; null: only open the session. */
  point: point.nullable(),
  /** The encoder tap (default: the deepest the style has). */
  tap: z.string().nullable(),
  /** Grid mode: N×N points of the output at once, one small map each (instead of `point`). */
  grid: count(64).optional(),
  /** Of the colour map over the input, 0–1 (default 0.65). */
  opacity: z.number().min(0).max(1).optional(),
  /** Where the PNGs for the page are written. */
  outDir: file,
  backend,
  /** Which engine translates and computes the features (default auto: ONNX Runtime if it loads). */
  engine: z.enum(ENGINE_CHOICES).optional(),
});
export type HeatmapJobSpec = z.infer<typeof heatmapJobSpecSchema>;

export interface HeatmapJobResult {
  /** The input and its translation at the working resolution (PNG files). */
  input: string;
  output: string;
  /** The full image's size (points are given in it) and the working size. */
  width: number;
  height: number;
  workingWidth: number;
  workingHeight: number;
  taps: string[];
  mode: 'projected' | 'raw';
  map?: {
    tap: string;
    /** The map blended over the input (PNG, working size). */
    file: string;
    min: number;
    max: number;
    query: { x: number; y: number };
    best: { x: number; y: number; similarity: number };
  };
  /** Grid mode's picture: the output with its numbered points, and one map per point. */
  grid?: { n: number; tap: string; file: string };
  /** The engine that computes the features, e.g. "ONNX Runtime 1.31.1, cpu (2 threads)". */
  engine?: string;
}

/** The studio's SinCUT options (shared/ipc.ts) with the setting they are resolved over. */
const sincutJobOptionsSchema = studioSinCutOptionsSchema
  .extend({ variant: z.enum(SINCUT_PRESETS) })
  .strict();
export type SinCutJobOptions = z.infer<typeof sincutJobOptionsSchema>;

/**
 * A SinCUT style from one source image and one target image (main/jobs/sincut-job.ts),
 * checked field by field; the options are resolved over their setting by the engine
 * (resolveSinCutJobOptions).
 */
export const sincutJobSpecSchema = z
  .object({
    source: file,
    target: file,
    /** Output folder: checkpoints/ and, at the end (or on a stop or pause), style/. */
    out: file,
    options: sincutJobOptionsSchema,
    /** Steps in all, counted from the first (also when resuming); null: the setting's schedule. */
    iterations: count(10_000_000).nullable(),
    name: z.string().min(1).max(200).optional(),
    backend,
    checkpointEvery: count(10_000_000).optional(),
    progressEvery: count(10_000_000).optional(),
  })
  .strict();
export type SinCutJobSpec = z.infer<typeof sincutJobSpecSchema>;

/**
 * The full SinCUT options of a job (throws OptionsError naming the option): over its setting,
 * with a discriminator window no larger than a crop below 64 px, as `train --preset sincut`.
 */
export function resolveSinCutJobOptions(o: SinCutJobOptions): SinCutOptions {
  const small = o.cropSize !== undefined && o.cropSize < 64 && o.cropSize >= 8;
  return resolveSinCutOptions({
    ...o,
    ...(small ? { dPatch: 2 ** Math.floor(Math.log2(o.cropSize as number)) } : {}),
  });
}

/** A first look at a SinCUT image pair (either may be missing): sizes and the engine's words. */
export const pairCheckSpecSchema = z
  .object({
    source: file.nullable(),
    target: file.nullable(),
    /** The training crop the warnings compare against. */
    cropSize: count(1024),
  })
  .strict();
export type PairCheckSpec = z.infer<typeof pairCheckSpecSchema>;

export interface ImageFacts {
  path: string;
  width: number;
  height: number;
  grayscale: boolean;
  /** The scaled copy training uses when the image is very large; null: the image itself. */
  trainedAt: { width: number; height: number } | null;
}

export interface PairCheckResult {
  source: ImageFacts | null;
  target: ImageFacts | null;
  /** What works differently than one might expect (the engine's own words). */
  warnings: string[];
  /** What cannot work at all (e.g. too small, unreadable), or null. */
  problem: string | null;
}

/** Measure a training step of a configuration on this machine's backend. */
export const estimateJobSpecSchema = z
  .object({
    preset: z.enum([...PRESETS, 'sincut']),
    /** CUT/FastCUT: options over the preset; SinCUT: SinCutJobOptions. */
    options: z.record(z.string(), z.unknown()),
    backend,
    /** Timed steps after the warm-up one (default 2). */
    steps: count(10).optional(),
  })
  .strict();
export type EstimateJobSpec = z.infer<typeof estimateJobSpecSchema>;

export interface EstimateJobResult {
  secondsPerStep: number;
  /** The first (warm-up) step, which also compiles kernels. */
  warmupSeconds: number;
  steps: number;
  backend: string;
  backendDetail: string;
}

/** What the engine finds on this machine (main/jobs/probe-job.ts), for Settings. */
export const probeJobSpecSchema = z
  .object({
    /** The GPU adapter in force (the setting); null: the system's choice. */
    gpuAdapter: z.string().min(1).max(200).nullable(),
    /** List the GPU adapters (default true). */
    adapters: z.boolean().optional(),
  })
  .strict();
export type ProbeJobSpec = z.infer<typeof probeJobSpecSchema>;

// ─── services → worker ───────────────────────────────────────────────────────────────────

/**
 * The specs as the worker checks them on arrival: field by field where the services build
 * them from a request (SinCUT, a pair, an estimate, a probe); by shape where they come from
 * settings and the library (training, conversion, heatmaps).
 */
const wireSpecs = {
  train: shaped<TrainJobSpec>(),
  'train-sincut': sincutJobSpecSchema,
  'check-pair': pairCheckSpecSchema,
  estimate: estimateJobSpecSchema,
  convert: shaped<ConvertJobSpec>(),
  watch: shaped<WatchJobSpec>(),
  heatmap: shaped<HeatmapJobSpec>(),
  probe: probeJobSpecSchema,
};
export type WorkerJobKind = keyof typeof wireSpecs;
export type WorkerJobSpecs = { [K in WorkerJobKind]: z.infer<(typeof wireSpecs)[K]> };

/** Jobs that continue from their output folder's checkpoint when asked to. */
const resumable = { resume: z.boolean() };

export const toWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('train'), jobId: id, spec: wireSpecs.train, ...resumable }),
  z.object({
    type: z.literal('train-sincut'),
    jobId: id,
    spec: wireSpecs['train-sincut'],
    ...resumable,
  }),
  z.object({ type: z.literal('check-pair'), jobId: id, spec: wireSpecs['check-pair'] }),
  z.object({ type: z.literal('estimate'), jobId: id, spec: wireSpecs.estimate }),
  z.object({ type: z.literal('convert'), jobId: id, spec: wireSpecs.convert }),
  z.object({ type: z.literal('watch'), jobId: id, spec: wireSpecs.watch }),
  z.object({ type: z.literal('heatmap'), jobId: id, spec: wireSpecs.heatmap }),
  z.object({ type: z.literal('probe'), jobId: id, spec: wireSpecs.probe }),
  z.object({ type: z.literal('cancel'), jobId: id }),
]);

/** Services → worker. */
export type ToWorker = z.infer<typeof toWorkerSchema>;
/** A job to run (every message but cancel). */
export type WorkerJob = Exclude<ToWorker, { type: 'cancel' }>;

export function parseToWorker(raw: unknown): ToWorker | null {
  const r = toWorkerSchema.safeParse(raw);
  return r.success ? r.data : null;
}

// ─── worker → services ───────────────────────────────────────────────────────────────────

const watchWorkerEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('warning'), message: z.string() }),
  z.object({ type: z.literal('removed'), input: z.string() }),
]);
/** What a watched folder says besides its files: found what was there, a problem, a removal. */
export type WatchWorkerEvent = z.infer<typeof watchWorkerEventSchema>;

const workerEventSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('train'),
    event: shaped<StudioTrainEvent>((v) => typeof v.type === 'string'),
  }),
  z.object({
    kind: z.literal('convert-file'),
    file: shaped<ConvertFileInfo>(
      (v) => typeof v.input === 'string' && typeof v.status === 'string',
    ),
  }),
  z.object({ kind: z.literal('convert-progress'), progress: shaped<ConvertProgressInfo>() }),
  z.object({ kind: z.literal('watch'), event: watchWorkerEventSchema }),
]);
export type WorkerJobEvent = z.infer<typeof workerEventSchema>;

const ended = z.enum(['completed', 'cancelled']);
/**
 * Each kind's result. Its payload is absent only when the job was cancelled and its process
 * killed before it answered (the host then answers `{ status: 'cancelled' }` itself).
 */
const trained = z.object({ status: ended, styleDir: z.string().optional() }).strict();
const converted = z.object({ status: ended, failed: z.number().int().min(0).optional() }).strict();
const heatmapped = z
  .object({ status: ended, heatmap: shaped<HeatmapJobResult>().optional() })
  .strict();
const probed = z.object({ status: ended, probe: shaped<BackendDetection>().optional() }).strict();
const paired = z.object({ status: ended, pair: shaped<PairCheckResult>().optional() }).strict();
const estimated = z
  .object({ status: ended, estimate: shaped<EstimateJobResult>().optional() })
  .strict();

const workerResultSchemas = {
  train: trained,
  'train-sincut': trained,
  convert: converted,
  watch: converted,
  heatmap: heatmapped,
  probe: probed,
  'check-pair': paired,
  estimate: estimated,
} satisfies Record<WorkerJobKind, z.ZodType>;

/** Each job kind's result type. */
export type WorkerJobResults = {
  [K in WorkerJobKind]: z.infer<(typeof workerResultSchemas)[K]>;
};
/** The result of a job of kind K (of any kind by default). */
export type WorkerJobResult<K extends WorkerJobKind = WorkerJobKind> = WorkerJobResults[K];

/** A job's result read as its kind's, or null when it is not one. */
export function parseWorkerResult<K extends WorkerJobKind>(
  kind: K,
  raw: unknown,
): WorkerJobResults[K] | null {
  const schema: z.ZodType<WorkerJobResults[K]> = workerResultSchemas[kind];
  const r = schema.safeParse(raw);
  return r.success ? r.data : null;
}

/** Shapes, not every field: the worker is ours, but a corrupt message must not crash main. */
export const workerMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: z.number().int() }),
  z.object({ type: z.literal('event'), jobId: id, event: workerEventSchema }),
  z.object({
    type: z.literal('done'),
    jobId: id,
    result: z.union([trained, converted, heatmapped, probed, paired, estimated]),
  }),
  z.object({
    type: z.literal('failed'),
    jobId: id,
    error: z.object({ name: z.string(), message: z.string(), detail: z.string().optional() }),
  }),
]);

/** Worker → services. */
export type FromWorker = z.infer<typeof workerMessageSchema>;

export function parseWorkerMessage(raw: unknown): FromWorker | null {
  const r = workerMessageSchema.safeParse(raw);
  return r.success ? r.data : null;
}
