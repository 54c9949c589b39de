/**
 * The protocol between the services and the engine's process (a Node child process under
 * `patchwork serve`, Electron's utilityProcess in the app: the same messages either way).
 * One job at a time; the host validates every message it receives with workerMessageSchema.
 */
import { z } from 'zod';
import { BACKEND_CHOICES, type TrainJobSpec } from './jobs';
import type { BackendDetection } from './ipc-settings';
import type { ConvertFileInfo, ConvertProgressInfo, StudioTrainEvent } from './ipc-jobs';
import {
  PRESETS,
  resolveSinCutOptions,
  SINCUT_GENERATORS,
  SINCUT_PRESETS,
  type SinCutOptions,
} from './options';

export interface ConvertJobSpec {
  styleDir: string;
  input: string;
  output: string;
  recursive: boolean;
  format: 'same' | 'png' | 'jpeg' | 'webp' | 'tiff' | 'avif';
  quality?: number;
  backend: 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'webgpu';
  /** Memory one image's tiled translation may use, MiB (the studio's setting). */
  memoryBudgetMB?: number;
}

/** A watched folder: converted as images arrive, until cancelled. */
export interface WatchJobSpec extends ConvertJobSpec {
  /** How long a file's size must hold still before it is converted (default 2000 ms). */
  stableMs?: number;
}

/** A correspondence heatmap: open a style and an image, and optionally query a point. */
export interface HeatmapJobSpec {
  styleDir: string;
  image: string;
  /** A point on the output, in the full image's pixels; null: only open the session. */
  point: { x: number; y: number } | null;
  /** The encoder tap (default: the deepest the style has). */
  tap: string | null;
  /** Grid mode: N×N points of the output at once, one small map each (instead of `point`). */
  grid?: number;
  /** Of the colour map over the input, 0–1 (default 0.65). */
  opacity?: number;
  /** Where the PNGs for the page are written. */
  outDir: string;
  backend: ConvertJobSpec['backend'];
}

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
}

/**
 * A SinCUT style from one source image and one target image (main/worker/sincut-job.ts): the
 * options are resolved over their setting by the engine (resolveSinCutOptions).
 */
export interface SinCutJobSpec {
  source: string;
  target: string;
  /** Output folder: checkpoints/ and, at the end (or on a stop or pause), style/. */
  out: string;
  options: SinCutJobOptions;
  /** Steps in all, counted from the first (also when resuming); null: the setting's schedule. */
  iterations: number | null;
  name?: string;
  backend: ConvertJobSpec['backend'];
  checkpointEvery?: number;
  progressEvery?: number;
}

export interface SinCutJobOptions {
  variant: (typeof SINCUT_PRESETS)[number];
  netG?: (typeof SINCUT_GENERATORS)[number];
  ngf?: number;
  ndf?: number;
  nBlocks?: number;
  cropSize?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
}

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
export interface PairCheckSpec {
  source: string | null;
  target: string | null;
  /** The training crop the warnings compare against. */
  cropSize: number;
}

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
export interface EstimateJobSpec {
  preset: (typeof PRESETS)[number] | 'sincut';
  /** CUT/FastCUT: options over the preset; SinCUT: SinCutJobOptions. */
  options: Record<string, unknown>;
  backend: ConvertJobSpec['backend'];
  /** Timed steps after the warm-up one (default 2). */
  steps?: number;
}

export interface EstimateJobResult {
  secondsPerStep: number;
  /** The first (warm-up) step, which also compiles kernels. */
  warmupSeconds: number;
  steps: number;
  backend: string;
  backendDetail: string;
}

/** What the engine finds on this machine (main/worker/probe-job.ts), for Settings. */
export interface ProbeJobSpec {
  /** The GPU adapter in force (the setting); null: the system's choice. */
  gpuAdapter: string | null;
  /** List the GPU adapters (default true). */
  adapters?: boolean;
}

/** Services → worker. */
export type ToWorker =
  | { type: 'train'; jobId: string; spec: TrainJobSpec; resume: boolean }
  | { type: 'train-sincut'; jobId: string; spec: SinCutJobSpec; resume: boolean }
  | { type: 'check-pair'; jobId: string; spec: PairCheckSpec }
  | { type: 'estimate'; jobId: string; spec: EstimateJobSpec }
  | { type: 'convert'; jobId: string; spec: ConvertJobSpec }
  | { type: 'watch'; jobId: string; spec: WatchJobSpec }
  | { type: 'heatmap'; jobId: string; spec: HeatmapJobSpec }
  | { type: 'probe'; jobId: string; spec: ProbeJobSpec }
  | { type: 'cancel'; jobId: string };

/** What a watched folder says besides its files: found what was there, a problem, a removal. */
export type WatchWorkerEvent =
  { type: 'ready' } | { type: 'warning'; message: string } | { type: 'removed'; input: string };

export type WorkerJobEvent =
  | { kind: 'train'; event: StudioTrainEvent }
  | { kind: 'convert-file'; file: ConvertFileInfo }
  | { kind: 'convert-progress'; progress: ConvertProgressInfo }
  | { kind: 'watch'; event: WatchWorkerEvent };

export interface WorkerJobResult {
  status: 'completed' | 'cancelled';
  /** Training: the style folder. */
  styleDir?: string;
  /** Conversion: files that failed. */
  failed?: number;
  heatmap?: HeatmapJobResult;
  probe?: BackendDetection;
  pair?: PairCheckResult;
  estimate?: EstimateJobResult;
}

/** Worker → services. */
export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'event'; jobId: string; event: WorkerJobEvent }
  | { type: 'done'; jobId: string; result: WorkerJobResult }
  | { type: 'failed'; jobId: string; error: { name: string; message: string; detail?: string } };

const id = z.string().min(1).max(64);
const record = z.record(z.string(), z.unknown());

const workerEventSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('train'), event: record.and(z.object({ type: z.string() })) }),
  z.object({
    kind: z.literal('convert-file'),
    file: record.and(z.object({ input: z.string(), status: z.string() })),
  }),
  z.object({ kind: z.literal('convert-progress'), progress: record }),
  z.object({
    kind: z.literal('watch'),
    event: z.discriminatedUnion('type', [
      z.object({ type: z.literal('ready') }),
      z.object({ type: z.literal('warning'), message: z.string() }),
      z.object({ type: z.literal('removed'), input: z.string() }),
    ]),
  }),
]);

/** Shapes, not every field: the worker is ours, but a corrupt message must not crash main. */
export const workerMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: z.number().int() }),
  z.object({ type: z.literal('event'), jobId: id, event: workerEventSchema }),
  z.object({
    type: z.literal('done'),
    jobId: id,
    result: z.object({
      status: z.enum(['completed', 'cancelled']),
      styleDir: z.string().optional(),
      failed: z.number().int().min(0).optional(),
      heatmap: record.optional(),
      probe: record.optional(),
      pair: record.optional(),
      estimate: record.optional(),
    }),
  }),
  z.object({
    type: z.literal('failed'),
    jobId: id,
    error: z.object({ name: z.string(), message: z.string(), detail: z.string().optional() }),
  }),
]);

export function parseWorkerMessage(raw: unknown): FromWorker | null {
  const r = workerMessageSchema.safeParse(raw);
  return r.success ? (r.data as FromWorker) : null;
}

const file = z.string().min(1).max(4096);
const count = (max: number) => z.number().int().positive().max(max);

/** A SinCUT job's spec, checked field by field (the engine validates the options fully). */
export const sincutJobSpecSchema = z
  .object({
    source: file,
    target: file,
    out: file,
    options: z
      .object({
        variant: z.enum(SINCUT_PRESETS),
        netG: z.enum(SINCUT_GENERATORS).optional(),
        ngf: count(256).optional(),
        ndf: count(256).optional(),
        nBlocks: count(32).optional(),
        cropSize: count(1024).optional(),
        batchSize: count(256).optional(),
        lr: z.number().positive().max(1).optional(),
        seed: z.number().int().min(0).max(0xffffffff).optional(),
      })
      .strict(),
    iterations: count(10_000_000).nullable(),
    name: z.string().min(1).max(200).optional(),
    backend: z.enum(BACKEND_CHOICES),
    checkpointEvery: count(10_000_000).optional(),
    progressEvery: count(10_000_000).optional(),
  })
  .strict();

export const toWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('train'), jobId: id, spec: record, resume: z.boolean() }),
  z.object({
    type: z.literal('train-sincut'),
    jobId: id,
    spec: sincutJobSpecSchema,
    resume: z.boolean(),
  }),
  z.object({
    type: z.literal('check-pair'),
    jobId: id,
    spec: z
      .object({ source: file.nullable(), target: file.nullable(), cropSize: count(1024) })
      .strict(),
  }),
  z.object({
    type: z.literal('estimate'),
    jobId: id,
    spec: z
      .object({
        preset: z.enum([...PRESETS, 'sincut']),
        options: record,
        backend: z.enum(BACKEND_CHOICES),
        steps: count(10).optional(),
      })
      .strict(),
  }),
  z.object({ type: z.literal('convert'), jobId: id, spec: record }),
  z.object({ type: z.literal('watch'), jobId: id, spec: record }),
  z.object({ type: z.literal('heatmap'), jobId: id, spec: record }),
  z.object({
    type: z.literal('probe'),
    jobId: id,
    spec: z
      .object({
        gpuAdapter: z.string().min(1).max(200).nullable(),
        adapters: z.boolean().optional(),
      })
      .strict(),
  }),
  z.object({ type: z.literal('cancel'), jobId: id }),
]);

export function parseToWorker(raw: unknown): ToWorker | null {
  const r = toWorkerSchema.safeParse(raw);
  return r.success ? (r.data as unknown as ToWorker) : null;
}
