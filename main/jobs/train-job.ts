/**
 * The training jobs as their front ends start them: folder training (CUT, FastCUT) from a
 * TrainJobSpec and SinCUT from one image pair. The engine's loops (engine/train/train-loop.ts,
 * sincut-loop.ts) are the pipelines; this is the one door the CLI and the engine process
 * (through sincut-job.ts for the studio's SinCUT terms) come in by, so neither front end
 * reaches into the engine for them.
 */
import type { TrainEvent, TrainJobSpec } from '../../shared/jobs';
import {
  runSinCutTraining,
  type SinCutEvent,
  type SinCutJob,
  type SinCutResult,
} from '../engine/train/sincut-loop';
import { runTraining, type TrainResult } from '../engine/train/train-loop';

export type { SinCutEvent, SinCutJob, SinCutResult, TrainResult };

/** What every training job is run with; a cancel ends it after the step with a checkpoint. */
export interface TrainContext<E> {
  signal?: AbortSignal;
  onEvent?: (event: E) => void;
  /** Continue from the output folder's latest checkpoint (a fresh run if it has none). */
  resume?: boolean;
}

export function runTrainJob(
  spec: TrainJobSpec,
  run: TrainContext<TrainEvent> = {},
): Promise<TrainResult> {
  return runTraining(spec, run);
}

export function runSinCutTrainJob(
  spec: SinCutJob,
  run: TrainContext<SinCutEvent> = {},
): Promise<SinCutResult> {
  return runSinCutTraining(spec, run);
}
