/**
 * What the engine's process does with each kind of job: the job from main/jobs/, its events
 * told in the protocol's terms (shared/ipc-worker.ts) and its outcome as the kind's result.
 * Kept apart from engine-worker.ts (which connects to its parent on import) so a test can
 * run a job exactly as the process does.
 */
import type { ConvertFileInfo } from '../../shared/ipc-jobs';
import type {
  WorkerJob,
  WorkerJobEvent,
  WorkerJobKind,
  WorkerJobResults,
  WorkerJobSpecs,
} from '../../shared/ipc-worker';
import {
  runConvertJob,
  type ConvertJobEvent,
  type ConvertJobOutcome,
} from '../jobs/convert/convert-job';
import type { FileState } from '../jobs/convert/convert-queue';
import { runWatchJob, type WatchJobEvent } from '../jobs/convert/watch-job';
import { runEstimate } from '../jobs/estimate-job';
import { runHeatmap } from '../jobs/heatmap-job';
import { runPairCheck } from '../jobs/pair-check-job';
import { runProbe } from '../jobs/probe-job';
import { runSinCutJob } from '../jobs/sincut-job';
import { runTrainJob } from '../jobs/train-job';

export class WatchStoppedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchStopped';
  }
}

interface WorkerRun {
  signal: AbortSignal;
  resume: boolean;
  emit: (event: WorkerJobEvent) => void;
}

type JobRunners = {
  [K in WorkerJobKind]: (spec: WorkerJobSpecs[K], run: WorkerRun) => Promise<WorkerJobResults[K]>;
};

const runners: JobRunners = {
  async train(spec, { signal, resume, emit }) {
    const result = await runTrainJob(spec, {
      signal,
      resume,
      onEvent: (event) => emit({ kind: 'train', event }),
    });
    return { status: result.status, styleDir: result.styleDir };
  },
  'train-sincut': (spec, { signal, resume, emit }) => runSinCutJob(spec, { signal, resume, emit }),
  'check-pair': async (spec) => ({ status: 'completed', pair: await runPairCheck(spec) }),
  estimate: async (spec) => ({ status: 'completed', estimate: await runEstimate(spec) }),
  probe: async (spec) => ({ status: 'completed', probe: await runProbe(spec) }),
  heatmap: async (spec) => ({ status: 'completed', heatmap: await runHeatmap(spec) }),
  async convert(spec, { signal, emit }) {
    const outcome = await runConvertJob(spec, { signal, onEvent: (e) => tellQueue(e, emit) });
    return converted(outcome);
  },
  async watch(spec, { signal, emit }) {
    const outcome = await runWatchJob(spec, {
      signal,
      onEvent: (e) => {
        if (e.type === 'ready') emit({ kind: 'watch', event: { type: 'ready' } });
        else if (e.type === 'warning') {
          emit({ kind: 'watch', event: { type: 'warning', message: e.message } });
        } else if (e.type === 'removed') {
          emit({ kind: 'watch', event: { type: 'removed', input: e.input } });
        } else tellQueue(e, emit);
      },
    });
    // Stopping by itself (e.g. the output folder went away) fails the job with the reason.
    if (outcome.stoppedBecause && !signal.aborted) {
      throw new WatchStoppedError(`Watching stopped: ${outcome.stoppedBecause}`);
    }
    return converted(outcome);
  },
};

function dispatch<K extends WorkerJobKind>(
  kind: K,
  spec: WorkerJobSpecs[K],
  run: WorkerRun,
): Promise<WorkerJobResults[K]> {
  return runners[kind](spec, run);
}

/** Runs one job to its result; what it reports on the way goes to `emit`. */
export function runJob(
  message: WorkerJob,
  signal: AbortSignal,
  emit: (event: WorkerJobEvent) => void,
): Promise<WorkerJobResults[WorkerJobKind]> {
  const resume = 'resume' in message && message.resume;
  return dispatch(message.type, message.spec, { signal, resume, emit });
}

function converted(outcome: ConvertJobOutcome): WorkerJobResults['convert'] {
  const failed = outcome.files.filter((f) => f.status === 'failed').length;
  return { status: outcome.status, failed };
}

/** A file's state and the queue's progress, as the studio lists them; the rest stays here. */
function tellQueue(e: ConvertJobEvent | WatchJobEvent, emit: WorkerRun['emit']): void {
  if (e.type === 'file') {
    emit({ kind: 'convert-file', file: fileInfo(e.file) });
  } else if (e.type === 'progress' || e.type === 'idle') {
    const { total, queued, converting, done, skipped, failed, etaSeconds } = e.progress;
    emit({
      kind: 'convert-progress',
      progress: { total, queued, converting, done, skipped, failed, etaSeconds },
    });
  }
}

export function fileInfo(f: FileState): ConvertFileInfo {
  return {
    input: f.input,
    output: f.output,
    relative: f.relative,
    status: f.status,
    ...(f.stage ? { stage: f.stage } : {}),
    ...(f.skip ? { skip: f.skip } : {}),
    ...(f.failure ? { failure: { reason: f.failure.reason, message: f.failure.message } } : {}),
    ...(f.notes?.length ? { notes: [...f.notes] } : {}),
    ...(f.seconds !== undefined ? { seconds: f.seconds } : {}),
    ...(f.fraction !== undefined ? { fraction: f.fraction } : {}),
  };
}
