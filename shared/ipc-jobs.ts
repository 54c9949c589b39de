/**
 * Jobs as the interface sees them: a snapshot per job and the events that change it. The
 * services keep their snapshots with applyJobEvent and the renderer keeps its copy with the
 * same function, so a tab opened mid-training (jobs:list) and one that watched from the
 * start show the same thing.
 */
import type { SkippedFileInfo, TrainEvent } from './jobs';
import type { SinCutOptions, TrainOptions } from './options';

export type JobKind = 'train' | 'convert';
/**
 * 'paused': a training job that wrote a checkpoint and gave the engine back; Resume continues
 * from that step. 'cancelled': stopped for good (a training job keeps the style it made).
 */
export type JobStatus = 'queued' | 'running' | 'paused' | 'completed' | 'cancelled' | 'failed';

/**
 * What a training job reports: a folder job's TrainEvent, or a SinCUT job's, whose `started`
 * carries SinCUT options.
 */
export type StudioTrainEvent =
  | Exclude<TrainEvent, { type: 'started' }>
  | (Omit<Extract<TrainEvent, { type: 'started' }>, 'options'> & {
      options: TrainOptions | SinCutOptions;
    });

export const FINISHED_STATUSES: readonly JobStatus[] = ['completed', 'cancelled', 'failed'];

export interface LossPoint {
  iteration: number;
  D: number;
  G_GAN: number;
  NCE: number;
  NCE_Y: number | null;
}

export interface TrainJobView {
  styleId: string;
  /** The job's output folder; the style appears in `${outDir}/style` at the end. */
  outDir: string;
  backend: string | null;
  iteration: number;
  epoch: number;
  totalIterations: number | null;
  itPerSec: number | null;
  etaSeconds: number | null;
  /** Recent losses, thinned to at most MAX_LOSS_POINTS. */
  losses: LossPoint[];
  /** The newest preview images (absolute paths). */
  previews: string[];
  previewIteration: number | null;
  skipped: SkippedFileInfo[];
  warnings: string[];
  styleDir: string | null;
}

export type ConvertFileStatus = 'queued' | 'converting' | 'done' | 'skipped' | 'failed';

export interface ConvertFileInfo {
  input: string;
  output: string;
  relative: string;
  status: ConvertFileStatus;
  stage?: 'decoding' | 'translating' | 'encoding';
  skip?: string;
  failure?: { reason: string; message: string };
  /** What a done file's conversion noted (over the memory budget, alpha dropped, …). */
  notes?: string[];
  seconds?: number;
  /** While translating tile by tile: the tiles done, 0–1 (sent at most 4 times a second). */
  fraction?: number;
}

export interface ConvertProgressInfo {
  total: number;
  queued: number;
  converting: number;
  done: number;
  skipped: number;
  failed: number;
  etaSeconds: number | null;
}

export interface ConvertJobView {
  styleId: string;
  input: string;
  output: string;
  files: ConvertFileInfo[];
  progress: ConvertProgressInfo | null;
}

export interface JobSnapshot {
  id: string;
  kind: JobKind;
  title: string;
  status: JobStatus;
  /** ISO 8601 times. */
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Why it failed, in words; `detail` is the technical part, shown on request. */
  error: { message: string; detail?: string } | null;
  train: TrainJobView | null;
  convert: ConvertJobView | null;
}

export type StudioJobEvent =
  /** A job appeared or changed status: the whole snapshot. */
  | { type: 'job'; job: JobSnapshot }
  | { type: 'train'; jobId: string; event: StudioTrainEvent }
  | { type: 'convert-file'; jobId: string; file: ConvertFileInfo }
  | { type: 'convert-progress'; jobId: string; progress: ConvertProgressInfo }
  /** Finished jobs taken off the list ('jobs:clear'). */
  | { type: 'jobs-cleared'; jobIds: string[] };

export const MAX_LOSS_POINTS = 400;

export function isFinished(status: JobStatus): boolean {
  return FINISHED_STATUSES.includes(status);
}

/**
 * Applies one event to a list of snapshots, in place (a Svelte $state array or a plain one);
 * returns the snapshot it changed, if any.
 */
export function applyJobEvent(jobs: JobSnapshot[], event: StudioJobEvent): JobSnapshot | null {
  if (event.type === 'job') {
    const at = jobs.findIndex((j) => j.id === event.job.id);
    if (at < 0) jobs.push(event.job);
    else jobs[at] = event.job;
    return event.job;
  }
  if (event.type === 'jobs-cleared') {
    const gone = new Set(event.jobIds);
    for (let i = jobs.length - 1; i >= 0; i--) if (gone.has(jobs[i].id)) jobs.splice(i, 1);
    return null;
  }
  const job = jobs.find((j) => j.id === event.jobId);
  if (!job) return null;
  if (event.type === 'train' && job.train) applyTrainEvent(job.train, event.event);
  if (event.type === 'convert-file' && job.convert) {
    const files = job.convert.files;
    const at = files.findIndex((f) => f.input === event.file.input);
    if (at < 0) files.push(event.file);
    else files[at] = event.file;
  }
  if (event.type === 'convert-progress' && job.convert) job.convert.progress = event.progress;
  return job;
}

export function applyTrainEvent(view: TrainJobView, e: StudioTrainEvent): void {
  switch (e.type) {
    case 'started':
      view.backend = e.backend.detail;
      view.totalIterations = e.totalIterations;
      view.skipped = [...e.skipped];
      return;
    case 'progress': {
      view.iteration = e.iteration;
      view.epoch = e.epoch;
      view.totalIterations = e.totalIterations;
      view.itPerSec = e.itPerSec;
      view.etaSeconds = e.etaSeconds;
      const { D, G_GAN, NCE, NCE_Y } = e.losses;
      const last = view.losses[view.losses.length - 1];
      if (!last || last.iteration < e.iteration) {
        view.losses.push({ iteration: e.iteration, D, G_GAN, NCE, NCE_Y });
      }
      if (view.losses.length > MAX_LOSS_POINTS) {
        // Keep every other point but always the newest: the curve keeps its whole span.
        const newest = view.losses[view.losses.length - 1];
        const thinned = view.losses.filter((_, i) => i % 2 === 0);
        if (thinned[thinned.length - 1] !== newest) thinned.push(newest);
        view.losses.splice(0, view.losses.length, ...thinned);
      }
      return;
    }
    case 'preview':
      view.previews = [...e.paths];
      view.previewIteration = e.iteration;
      return;
    case 'skipped-file':
      view.skipped.push({ path: e.path, reason: e.reason, message: e.message });
      return;
    case 'warning':
      view.warnings.push(e.message);
      return;
    case 'finished':
      view.iteration = e.iteration;
      view.styleDir = e.styleDir;
      view.etaSeconds = 0;
      return;
    case 'checkpoint':
      return;
  }
}

export function emptyTrainView(styleId: string, outDir: string): TrainJobView {
  return {
    styleId,
    outDir,
    backend: null,
    iteration: 0,
    epoch: 0,
    totalIterations: null,
    itPerSec: null,
    etaSeconds: null,
    losses: [],
    previews: [],
    previewIteration: null,
    skipped: [],
    warnings: [],
    styleDir: null,
  };
}
