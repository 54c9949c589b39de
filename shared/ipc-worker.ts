/**
 * The protocol between the services and the engine's process (a Node child process under
 * `patchwork serve`, Electron's utilityProcess in the app: the same messages either way).
 * One job at a time; the host validates every message it receives with workerMessageSchema.
 */
import { z } from 'zod';
import type { TrainJobSpec } from './jobs';
import type { BackendDetection } from './ipc-settings';
import type { ConvertFileInfo, ConvertProgressInfo } from './ipc-jobs';
import type { TrainEvent } from './jobs';

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
  | { type: 'convert'; jobId: string; spec: ConvertJobSpec }
  | { type: 'watch'; jobId: string; spec: WatchJobSpec }
  | { type: 'heatmap'; jobId: string; spec: HeatmapJobSpec }
  | { type: 'probe'; jobId: string; spec: ProbeJobSpec }
  | { type: 'cancel'; jobId: string };

/** What a watched folder says besides its files: found what was there, a problem, a removal. */
export type WatchWorkerEvent =
  { type: 'ready' } | { type: 'warning'; message: string } | { type: 'removed'; input: string };

export type WorkerJobEvent =
  | { kind: 'train'; event: TrainEvent }
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

export const toWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('train'), jobId: id, spec: record, resume: z.boolean() }),
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
