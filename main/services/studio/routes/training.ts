/**
 * Starting a style: a CUT/FastCUT training job from two folders, a SinCUT one from two
 * images (each in a new style folder, queued), and the two quick answers New style asks for
 * beside the queue: the engine's look at a SinCUT pair, and the seconds a training step takes
 * here (from the library's cache, or measured). Options errors answer the request instead of
 * failing a job.
 */
import { promises as fs } from 'node:fs';
import type { ParsedInput, StepEstimate } from '../../../../shared/ipc';
import { emptyTrainView } from '../../../../shared/ipc-jobs';
import {
  resolveSinCutJobOptions,
  type PairCheckResult,
  type SinCutJobSpec,
  type WorkerJobResult,
} from '../../../../shared/ipc-worker';
import { resolveTrainJob, type TrainJobSpec } from '../../../../shared/jobs';
import { OptionsError, resolveTrainOptions } from '../../../../shared/options';
import { estimateKey } from '../../estimates';
import type { WorkerJob } from '../../worker-host';
import type { Handlers, StudioContext } from '../context';
import { newJob, newJobId } from '../job-queue';
import { RequestError } from '../request-error';
import { newStyleFolder } from './styles';

type TrainingChannel = 'train:start' | 'train:sincut' | 'sincut:inspect' | 'train:estimate';

export function trainingRoutes(ctx: StudioContext): Handlers<TrainingChannel> {
  return {
    'train:start': async (input) => ({ job: await startTraining(ctx, input) }),
    'train:sincut': async (input) => ({ job: await startSinCut(ctx, input) }),
    'sincut:inspect': (input) => inspectPair(ctx, input),
    'train:estimate': async (input) => ({ estimate: await estimate(ctx, input) }),
  };
}

async function startTraining(ctx: StudioContext, input: ParsedInput<'train:start'>) {
  const source = await ctx.paths.folder(input.source, 'source');
  const target = await ctx.paths.folder(input.target, 'target');
  const { styleId, out } = await newStyleFolder(ctx, input.name);
  const backend = ctx.settings().backend;
  const spec: TrainJobSpec = {
    source,
    target,
    out,
    options: { ...input.options, preset: input.preset },
    name: input.name,
    ...(input.iterations != null ? { iterations: input.iterations } : {}),
    ...(input.recursive !== undefined ? { recursive: input.recursive } : {}),
    ...ctx.paths.scanLimit(),
    ...(input.backend || backend !== 'auto' ? { backend: input.backend ?? backend } : {}),
    ...(input.previewEvery !== undefined ? { previewEvery: input.previewEvery } : {}),
    ...(input.progressEvery !== undefined ? { progressEvery: input.progressEvery } : {}),
    ...(input.checkpointEvery !== undefined ? { checkpointEvery: input.checkpointEvery } : {}),
  };
  resolveTrainJob(spec); // options errors answer the request instead of failing the job
  return queueTraining(ctx, { styleId, out }, input.name, (jobId) => ({
    type: 'train',
    jobId,
    spec,
    resume: false,
  }));
}

async function startSinCut(ctx: StudioContext, input: ParsedInput<'train:sincut'>) {
  const source = await ctx.paths.imageFile(input.source, 'source');
  const target = await ctx.paths.imageFile(input.target, 'target');
  const options = { variant: input.setting ?? 'reference', ...input.options } as const;
  resolveSinCutJobOptions(options); // options errors answer the request
  const { styleId, out } = await newStyleFolder(ctx, input.name);
  const spec: SinCutJobSpec = {
    source,
    target,
    out,
    options,
    iterations: input.iterations ?? null,
    name: input.name,
    backend: input.backend ?? ctx.settings().backend,
    ...(input.progressEvery !== undefined ? { progressEvery: input.progressEvery } : {}),
    ...(input.checkpointEvery !== undefined ? { checkpointEvery: input.checkpointEvery } : {}),
  };
  return queueTraining(ctx, { styleId, out }, input.name, (jobId) => ({
    type: 'train-sincut',
    jobId,
    spec,
    resume: false,
  }));
}

/** Makes the style's folder and queues its training job (the style shows as training). */
async function queueTraining(
  ctx: StudioContext,
  style: { styleId: string; out: string },
  title: string,
  work: (jobId: string) => WorkerJob,
) {
  await fs.mkdir(style.out, { recursive: true });
  const id = newJobId();
  const snapshot = newJob(id, 'train', title);
  snapshot.train = emptyTrainView(style.styleId, style.out);
  const job = ctx.jobs.enqueue(snapshot, work(id));
  ctx.emit({ type: 'styles-changed' });
  return job;
}

/** The engine's look at a SinCUT pair, in the short-job process (never behind the queue). */
async function inspectPair(
  ctx: StudioContext,
  input: ParsedInput<'sincut:inspect'>,
): Promise<PairCheckResult> {
  const source = input.source ? await ctx.paths.imageFile(input.source, 'source') : null;
  const target = input.target ? await ctx.paths.imageFile(input.target, 'target') : null;
  const cropSize = input.cropSize ?? 64;
  const result = await runShortJob(ctx, {
    type: 'check-pair',
    jobId: `pair-${newJobId()}`,
    spec: { source, target, cropSize },
  });
  if (!result.pair) throw new RequestError('internal', 'the engine sent no answer');
  return result.pair;
}

/**
 * Seconds per training step of a configuration on this machine: from the library's cache,
 * or measured in the short-job process (a warm-up step, then two timed ones on random crops).
 */
async function estimate(
  ctx: StudioContext,
  input: ParsedInput<'train:estimate'>,
): Promise<StepEstimate | null> {
  const backend = input.backend ?? ctx.settings().backend;
  let options: Record<string, unknown>;
  let resolved: Record<string, unknown>;
  try {
    if (input.preset === 'sincut') {
      const sincut = { variant: input.setting ?? 'reference', ...input.options } as const;
      resolved = resolveSinCutJobOptions(sincut);
      options = sincut;
    } else {
      options = { ...input.options };
      resolved = resolveTrainOptions({ ...options, preset: input.preset });
    }
  } catch (err) {
    // A configuration that cannot train was never measured (a form mid-edit asks too).
    if (input.cachedOnly && err instanceof OptionsError) return null;
    throw err;
  }
  const key = estimateKey(input.preset, backend, resolved);
  const known = input.remeasure ? null : await ctx.estimates.get(key);
  if (known) return { ...known, cached: true };
  if (input.cachedOnly) return null;
  const busyBefore = ctx.jobs.busy;
  const result = await runShortJob(ctx, {
    type: 'estimate',
    jobId: `estimate-${newJobId()}`,
    spec: { preset: input.preset, options, backend },
  });
  if (!result.estimate) throw new RequestError('internal', 'the engine sent no measurement');
  const measured = {
    secondsPerStep: result.estimate.secondsPerStep,
    backend: result.estimate.backendDetail,
    measuredAt: new Date().toISOString(),
    contended: busyBefore || ctx.jobs.busy,
  };
  await ctx.estimates.set(key, measured).catch((err: unknown) => {
    process.stderr.write(`warning: could not save the step measurement: ${String(err)}\n`);
  });
  return { ...measured, cached: false };
}

/** Runs a short job in its own engine process, one at a time; its errors answer the request. */
async function runShortJob<J extends WorkerJob>(
  ctx: StudioContext,
  work: J,
): Promise<WorkerJobResult<J['type']>> {
  if (!ctx.shortJobs) {
    throw new RequestError('unsupported', 'the engine cannot be asked for this here');
  }
  return ctx.shortJobs.run(work);
}
