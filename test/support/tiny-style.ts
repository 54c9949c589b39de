/** The training summary of a style written directly by a test (no training run behind it). */
import type { TrainingSummary } from '../../shared/jobs';

export const UNTRAINED_SUMMARY: TrainingSummary = {
  iterations: 1,
  epochs: 1,
  durationSeconds: 1,
  finalLosses: null,
  backend: 'wasm (test)',
  status: 'completed',
  datasetSizes: { source: 1, target: 1 },
};
