/**
 * A SinCUT training job as the engine's process runs it for the studio: runSinCutTrainJob, with
 * its events told in the studio's training terms (epoch, time left) so a SinCUT job shows
 * like any other. A cancel (stop or pause) ends the run after the current step with a
 * checkpoint and the style made from it. Live previews (the source translated, small) come as
 * the loop makes them; the style's own is shown once the run ends, stops or pauses.
 */
import {
  resolveSinCutJobOptions,
  type SinCutJobSpec,
  type WorkerJobEvent,
  type WorkerJobResults,
} from '../../shared/ipc-worker';
import type { StudioTrainEvent } from '../../shared/ipc-jobs';
import { sincutStepsPerEpoch } from '../../shared/options';
import { readStyleSummary } from '../style/style-folder';
import { runSinCutTrainJob, type SinCutEvent } from './train-job';

export async function runSinCutJob(
  spec: SinCutJobSpec,
  run: { signal: AbortSignal; resume: boolean; emit: (event: WorkerJobEvent) => void },
): Promise<WorkerJobResults['train-sincut']> {
  const options = resolveSinCutJobOptions(spec.options);
  const perEpoch = sincutStepsPerEpoch(options);
  const tell = (e: SinCutEvent): StudioTrainEvent => {
    switch (e.type) {
      case 'started':
        return {
          type: 'started',
          backend: e.backend,
          totalIterations: e.totalIterations,
          resumedFrom: e.resumedFrom,
          initFrom: null,
          datasetSizes: { source: 1, target: 1 },
          stepsPerEpoch: perEpoch,
          skipped: [],
          options,
        };
      case 'progress': {
        const left = e.totalIterations - e.iteration;
        return {
          type: 'progress',
          iteration: e.iteration,
          epoch: Math.floor(Math.max(0, e.iteration - 1) / perEpoch) + 1,
          totalIterations: e.totalIterations,
          losses: e.losses,
          itPerSec: e.itPerSec,
          etaSeconds: e.itPerSec > 0 ? left / e.itPerSec : null,
          lr: e.lr,
        };
      }
      default:
        return e;
    }
  };
  const result = await runSinCutTrainJob(
    {
      source: spec.source,
      target: spec.target,
      out: spec.out,
      options,
      iterations: spec.iterations,
      backend: spec.backend,
      ...(spec.name ? { name: spec.name } : {}),
      ...(spec.checkpointEvery !== undefined ? { checkpointEvery: spec.checkpointEvery } : {}),
      ...(spec.progressEvery !== undefined ? { progressEvery: spec.progressEvery } : {}),
    },
    {
      signal: run.signal,
      resume: run.resume,
      onEvent: (e) => run.emit({ kind: 'train', event: tell(e) }),
    },
  );
  const previews = await stylePreviews(result.styleDir);
  if (previews.length) {
    run.emit({
      kind: 'train',
      event: { type: 'preview', iteration: result.iteration, paths: previews },
    });
  }
  return { status: result.status, styleDir: result.styleDir };
}

/** The translated previews a style folder lists in its style.json (absolute paths). */
async function stylePreviews(styleDir: string): Promise<string[]> {
  try {
    const summary = await readStyleSummary(styleDir);
    return (summary?.previews ?? []).map((p) => p.output);
  } catch {
    return []; // a style without previews still trained
  }
}
