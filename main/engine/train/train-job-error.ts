/**
 * Why a training job (CUT's train-loop.ts, SinCUT's sincut-loop.ts) cannot start or go on:
 * a code the front ends can act on and a message naming the folder and what is wrong.
 */
import type { DatasetErrorCode } from '../data/dataset';

export type TrainJobErrorCode = DatasetErrorCode | 'out-in-use' | 'out-inside-input' | 'diverged';

/** A job that cannot start (the message names the folder and what is wrong) or go on. */
export class TrainJobError extends Error {
  constructor(
    readonly code: TrainJobErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TrainJobError';
  }
}
