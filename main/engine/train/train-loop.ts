/**
 * The training job (DESIGN.md "Training"; reference train.py): two folders in, a style folder
 * out. runTraining reads top to bottom — backend, datasets, options, model (fresh from the
 * seed or resumed from the latest good checkpoint), loader (at its saved position), the loop,
 * the style folder. One step is trainStep's business; this file does cadence: the learning
 * rate schedule, progress events with it/s and ETA, previews, checkpoints, cancellation.
 * The folders and preview images it reads are train-inputs.ts's.
 *
 * Everything random in a run — the initial weights, the loader's order, crops and flips, B
 * draws, flip-equivariance coins and patch positions — comes from seeded generators whose
 * state the checkpoint keeps, so a resumed run ends with exactly the weights of an
 * uninterrupted one on the same backend.
 */
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  resolveTrainJob,
  type ResolvedTrainJob,
  type SkippedFileInfo,
  type TrainEvent,
  type TrainJobSpec,
} from '../../../shared/jobs';
import type { TrainOptions } from '../../../shared/options';
import { initBackend, type BackendReport } from '../backend';
import { UnpairedLoader, type LoaderState, type UnpairedBatch } from '../data/dataset';
import { writeImageAtomic } from '../data/image-io';
import { Rng } from '../rng';
import { lrFactor } from './adam';
import { CheckpointStore, type LossRecord, type TrainState } from './checkpoint';
import { CutModel } from './cut-model';
import { adoptStyleShape, seedFromStyle } from './fine-tune';
import { saveStyle, type RgbImage, type StylePreview } from '../style/save-style';
import { drawSampling, trainStepAsync, type StepLosses } from './train-step';
import {
  choosePreviews,
  labelled,
  openDatasets,
  translatePreview,
  type Datasets,
  type PreviewSet,
} from './train-inputs';
import { TrainJobError } from './train-job-error';

export interface RunOptions {
  /** Aborting stops the job within one step; it still writes a checkpoint and the style. */
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
  /** Continue from the output folder's latest good checkpoint (a fresh run if it has none). */
  resume?: boolean;
}

export interface TrainResult {
  status: 'completed' | 'cancelled';
  iteration: number;
  styleDir: string;
  /** The newest checkpoint written or resumed from. */
  checkpoint: string | null;
  losses: StepLosses | null;
  backend: BackendReport;
  /** Training time over every session of the run. */
  durationSeconds: number;
}

const MAX_LOSS_HISTORY = 1000;

export async function runTraining(spec: TrainJobSpec, run: RunOptions = {}): Promise<TrainResult> {
  const job = await adoptStyleShape(resolveTrainJob(spec), spec);
  const emit = run.onEvent ?? (() => undefined);
  const backend = await initBackend(job.backend);
  const data = await openDatasets(job);
  const previews = await choosePreviews(data.source, job);
  const store = await openStore(job, run.resume ?? false);
  const start = await startModel(job, store, run.resume ?? false, emit);
  const session = new TrainSession(job, start, store, data, previews, emit, run.signal);
  try {
    session.openLoader();
    session.announce(backend);
    await session.writeSourcePreviews();
    const status = await session.loop();
    return await session.finish(status, backend);
  } finally {
    session.close();
  }
}

// ─── model and checkpoints ─────────────────────────────────────────────────────────────────

async function openStore(job: ResolvedTrainJob, resume: boolean): Promise<CheckpointStore> {
  const out = path.resolve(job.out);
  for (const [role, dir] of [
    ['source', job.source],
    ['target', job.target],
  ] as const) {
    const rel = path.relative(path.resolve(dir), out);
    if (job.recursive && !rel.startsWith('..') && !path.isAbsolute(rel)) {
      throw new TrainJobError(
        'out-inside-input',
        `The output folder ${out} is inside the ${role} folder, which is read recursively: ` +
          `previews and checkpoints would become training images. Choose another output folder.`,
      );
    }
  }
  await fs.mkdir(out, { recursive: true });
  const store = new CheckpointStore(out);
  if (!resume && (await store.list()).length > 0) {
    throw new TrainJobError(
      'out-in-use',
      `${out} already holds checkpoints of a training run: resume it, or choose another ` +
        `output folder.`,
    );
  }
  return store;
}

interface Start {
  model: CutModel;
  state: TrainState | null;
  checkpoint: string | null;
  /** The style a fresh run's generator was copied from. */
  initFrom: string | null;
}

async function startModel(
  job: ResolvedTrainJob,
  store: CheckpointStore,
  resume: boolean,
  emit: (e: TrainEvent) => void,
): Promise<Start> {
  if (resume) {
    const loaded = await store.loadLatest(job.options);
    if (loaded) {
      for (const message of loaded.warnings) emit({ type: 'warning', message });
      return { model: loaded.model, state: loaded.state, checkpoint: loaded.path, initFrom: null };
    }
    emit({ type: 'warning', message: `No checkpoint to resume in ${store.dir}; starting anew.` });
  }
  const model = CutModel.create(job.options);
  if (job.initFrom === null) return { model, state: null, checkpoint: null, initFrom: null };
  try {
    for (const message of await seedFromStyle(model, job.initFrom))
      emit({ type: 'warning', message });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, state: null, checkpoint: null, initFrom: path.resolve(job.initFrom) };
}

/** The patch-sampling stream: seeded apart from the init and loader streams. */
function samplingRng(seed: number): Rng {
  return new Rng((seed ^ 0x632be5ab) >>> 0);
}

/**
 * The reference's schedule: lr constant for `epochs`, then linear decay; after the schedule's
 * last epoch (training until stopped) it stays at its last value. `epoch` counts from 1.
 */
export function scheduledLr(o: TrainOptions, epoch: number): number {
  const last = Math.max(1, o.epochs + o.decayEpochs);
  return o.lr * lrFactor(Math.min(epoch, last), o.epochs, o.decayEpochs);
}

export function totalIterations(job: ResolvedTrainJob, stepsPerEpoch: number): number | null {
  if (job.iterations !== null) return job.iterations;
  if (job.untilStopped) return null;
  return (job.options.epochs + job.options.decayEpochs) * stepsPerEpoch;
}

// ─── the session ───────────────────────────────────────────────────────────────────────────

/** Reports each skipped file once, whichever part of the job met it first. */
class SkipReporter {
  private readonly seen = new Set<string>();

  fresh(files: readonly SkippedFileInfo[]): SkippedFileInfo[] {
    const out = files.filter((f) => !this.seen.has(f.path));
    for (const f of out) this.seen.add(f.path);
    return out;
  }
}

class TrainSession {
  private readonly opts: TrainOptions;
  private readonly model: CutModel;
  private loader: UnpairedLoader | null = null;
  private total: number | null = null;
  private readonly rng: Rng;
  private iteration: number;
  private epoch: number;
  private lr: number;
  private losses: StepLosses | null = null;
  private readonly lossHistory: LossRecord[];
  private readonly resumedFrom: number | null;
  private readonly initFrom: string | null;
  private readonly resumeLoader: LoaderState | undefined;
  /** Where the next batch to train on lies in the loader's sequence. */
  private position: LoaderState | null = null;
  private checkpoint: string | null;
  private lastCheckpoint: number;
  private lastPreview: { iteration: number; outputs: RgbImage[] } | null = null;
  private readonly skips = new SkipReporter();
  private readonly elapsedBefore: number;
  private readonly startedAt = performance.now();
  private mark: { time: number; iteration: number };
  private rate: number | null = null;

  constructor(
    private readonly job: ResolvedTrainJob,
    start: Start,
    private readonly store: CheckpointStore,
    private readonly data: Datasets,
    private readonly previews: PreviewSet,
    private readonly emit: (e: TrainEvent) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    const s = start.state;
    this.opts = job.options;
    this.model = start.model;
    this.rng = s ? new Rng(s.samplingRng) : samplingRng(this.opts.seed);
    this.iteration = s?.iteration ?? 0;
    this.epoch = s?.epoch ?? 0;
    this.lr = this.opts.lr;
    this.lossHistory = s ? [...s.lossHistory] : [];
    this.losses = lossesOf(this.lossHistory.at(-1));
    this.resumedFrom = s ? s.iteration : null;
    this.initFrom = start.initFrom;
    this.resumeLoader = s?.loader;
    this.checkpoint = start.checkpoint;
    this.lastCheckpoint = s ? s.iteration : -1;
    this.elapsedBefore = s?.elapsedSeconds ?? 0;
    this.mark = { time: this.startedAt, iteration: this.iteration };
  }

  openLoader(): void {
    this.loader = new UnpairedLoader(
      labelled(this.data.source, 'source', this.job),
      labelled(this.data.target, 'target', this.job),
      { batchSize: this.opts.batchSize, seed: this.opts.seed, resume: this.resumeLoader },
    );
    this.total = totalIterations(this.job, this.loader.stepsPerEpoch);
    this.position = this.loader.state();
  }

  announce(backend: BackendReport): void {
    const { source, target } = this.data;
    this.emit({
      type: 'started',
      backend: { name: backend.name, detail: backend.detail, skipped: backend.skipped },
      totalIterations: this.total,
      resumedFrom: this.resumedFrom,
      initFrom: this.initFrom,
      datasetSizes: { source: source.size, target: target.size },
      stepsPerEpoch: this.requireLoader().stepsPerEpoch,
      skipped: this.skips.fresh([...this.previews.skipped, ...source.skipped, ...target.skipped]),
      options: this.opts,
    });
  }

  /** The preview sources once, so each iteration's folder holds only translations. */
  async writeSourcePreviews(): Promise<void> {
    if (this.job.previewCount === 0) return;
    const dir = path.join(this.job.out, 'previews', 'source');
    await this.writeImages(dir, this.previews.sources);
  }

  /** Steps until the total is reached or the signal aborts. */
  async loop(): Promise<'completed' | 'cancelled'> {
    while (this.total === null || this.iteration < this.total) {
      if (this.signal?.aborted) return 'cancelled';
      const batch = await this.nextBatch();
      if (!batch) return 'cancelled';
      await this.step(batch);
      this.reportSkipped();
      this.progress();
      await this.cadence();
    }
    return 'completed';
  }

  /**
   * The next batch, or null when the signal aborts while it is still decoding. A batch taken
   * but not trained on is not lost: checkpoints save `position`, which only a step advances.
   */
  private async nextBatch(): Promise<UnpairedBatch | null> {
    const next = this.requireLoader().next();
    const signal = this.signal;
    if (!signal) return next;
    if (signal.aborted) return null;
    // Stopped waiting once the batch arrives, so no listener piles up on the signal per step.
    const done = new AbortController();
    const aborted = once(signal, 'abort', { signal: done.signal }).then(
      () => null,
      () => null,
    );
    try {
      return await Promise.race([next, aborted]);
    } finally {
      done.abort();
    }
  }

  /** One optimisation step at the scheduled learning rate; leaves no tensor behind. */
  private async step(batch: UnpairedBatch): Promise<void> {
    const { a, b } = batch;
    const epoch = batch.epoch + 1;
    this.lr = scheduledLr(this.opts, epoch);
    this.model.setLearningRate(this.lr);
    const realA = tf.tensor4d(a.data, [a.n, a.height, a.width, 3]); // [B, H, W, 3]
    const realB = tf.tensor4d(b.data, [b.n, b.height, b.width, 3]); // [B, H', W', 3]
    try {
      const sampling = drawSampling(this.model, a.height, a.width, this.rng);
      this.losses = await trainStepAsync(this.model, realA, realB, sampling);
    } finally {
      tf.dispose([realA, realB]);
    }
    this.iteration += 1;
    this.epoch = epoch;
    this.position = this.requireLoader().state();
    this.checkFinite();
  }

  /**
   * NaN or infinite losses mean the weights are already ruined: stop before a checkpoint can
   * save them, so the last one written stays good.
   */
  private checkFinite(): void {
    const bad = Object.entries(this.losses ?? {}).find(
      ([, v]) => v !== null && !Number.isFinite(v),
    );
    if (!bad) return;
    throw new TrainJobError(
      'diverged',
      `Training diverged at iteration ${this.iteration} (loss ${bad[0]} is ${bad[1]}). ` +
        `The last checkpoint, ${this.checkpoint ?? 'none yet'}, is from before; resume from ` +
        `it with a lower learning rate.`,
    );
  }

  private reportSkipped(): void {
    const found = [...this.data.source.skipped, ...this.data.target.skipped];
    for (const f of this.skips.fresh(found)) this.emit({ type: 'skipped-file', ...f });
  }

  /**
   * A progress event every progressEvery steps, on this session's first step and the last.
   * The loss history follows the run's schedule only (step 1, every progressEvery-th, the
   * last), never where a session started, so a run resumed after a stop or a crash keeps the
   * history, and the checkpoint, of an uninterrupted one.
   */
  private progress(): void {
    const { iteration } = this;
    const first = iteration === (this.resumedFrom ?? 0) + 1;
    const scheduled =
      iteration === 1 || iteration % this.job.progressEvery === 0 || iteration === this.total;
    if (!(scheduled || first) || !this.losses) return;
    if (scheduled) this.recordLosses(this.losses);
    const now = performance.now();
    const seconds = (now - this.mark.time) / 1000;
    if (seconds > 0) {
      const window = (iteration - this.mark.iteration) / seconds;
      this.rate = this.rate === null ? window : 0.7 * this.rate + 0.3 * window;
    }
    this.mark = { time: now, iteration };
    const rate = this.rate ?? 0;
    const remaining = this.total === null ? null : this.total - iteration;
    this.emit({
      type: 'progress',
      iteration,
      epoch: this.epoch,
      totalIterations: this.total,
      losses: this.losses,
      itPerSec: rate,
      etaSeconds: remaining === null || rate <= 0 ? null : remaining / rate,
      lr: this.lr,
    });
  }

  /** A small history for the checkpoint: when it grows past its bound, every other entry goes. */
  private recordLosses(losses: StepLosses): void {
    const h = this.lossHistory;
    h.push({ iteration: this.iteration, ...losses });
    if (h.length <= MAX_LOSS_HISTORY) return;
    const keepParity = (h.length - 1) % 2;
    const thinned = h.filter((_, i) => i % 2 === keepParity);
    h.splice(0, h.length, ...thinned);
  }

  private async cadence(): Promise<void> {
    const { iteration, job } = this;
    if (job.previewEvery > 0 && job.previewCount > 0 && iteration % job.previewEvery === 0) {
      await this.writePreviews();
    }
    if (iteration % job.checkpointEvery === 0) await this.saveCheckpoint();
  }

  private async writePreviews(): Promise<RgbImage[]> {
    if (this.lastPreview?.iteration === this.iteration) return this.lastPreview.outputs;
    const outputs = await Promise.all(
      this.previews.sources.map((img) => translatePreview(this.model, img)),
    );
    this.lastPreview = { iteration: this.iteration, outputs };
    if (this.job.previewCount > 0) {
      const dir = path.join(this.job.out, 'previews', `iter-${this.iteration}`);
      const paths = await this.writeImages(dir, outputs);
      if (paths.length) this.emit({ type: 'preview', iteration: this.iteration, paths });
    }
    return outputs;
  }

  /** PNGs NN.png in `dir`; a failure is a warning, never the end of the job. */
  private async writeImages(dir: string, images: RgbImage[]): Promise<string[]> {
    const paths: string[] = [];
    try {
      await fs.mkdir(dir, { recursive: true });
      for (const [i, img] of images.entries()) {
        const file = path.join(dir, `${String(i).padStart(2, '0')}.png`);
        await writeImageAtomic(file, img.rgb, img.width, img.height);
        paths.push(file);
      }
    } catch (err) {
      this.emit({ type: 'warning', message: `Could not write previews: ${messageOf(err)}` });
    }
    return paths;
  }

  /** A checkpoint of the state after the last step; a failed write is a warning. */
  private async saveCheckpoint(): Promise<void> {
    if (this.lastCheckpoint === this.iteration) return;
    const state: TrainState = {
      iteration: this.iteration,
      epoch: this.epoch,
      samplingRng: this.rng.state(),
      loader: this.requirePosition(),
      elapsedSeconds: this.elapsed(),
      lossHistory: this.lossHistory,
    };
    try {
      this.checkpoint = await this.store.save(this.model, state);
      this.lastCheckpoint = this.iteration;
      this.emit({ type: 'checkpoint', iteration: this.iteration, path: this.checkpoint });
    } catch (err) {
      this.emit({
        type: 'warning',
        message: `${messageOf(err)}. The previous checkpoint is kept; training goes on.`,
      });
    }
  }

  /** Final checkpoint, final previews, the style folder, the 'finished' event. */
  async finish(status: 'completed' | 'cancelled', backend: BackendReport): Promise<TrainResult> {
    await this.saveCheckpoint();
    const outputs = await this.writePreviews();
    const styleDir = path.join(path.resolve(this.job.out), 'style');
    const previews: StylePreview[] = this.previews.sources.map((source, i) => ({
      source,
      output: outputs[i],
    }));
    const durationSeconds = this.elapsed();
    await saveStyle(styleDir, {
      name: this.job.name ?? path.basename(path.resolve(this.job.out)),
      options: this.opts,
      generator: this.model.G,
      head: this.model.H,
      previews,
      training: {
        iterations: this.iteration,
        epochs: this.epoch,
        durationSeconds,
        finalLosses: this.losses,
        backend: backend.detail,
        status,
        datasetSizes: { source: this.data.source.size, target: this.data.target.size },
      },
    });
    this.emit({ type: 'finished', status, iteration: this.iteration, styleDir });
    return {
      status,
      iteration: this.iteration,
      styleDir,
      checkpoint: this.checkpoint,
      losses: this.losses,
      backend,
      durationSeconds,
    };
  }

  close(): void {
    this.loader?.close();
    this.model.dispose();
  }

  private elapsed(): number {
    return this.elapsedBefore + (performance.now() - this.startedAt) / 1000;
  }

  private requirePosition(): LoaderState {
    if (!this.position) throw new Error('the loader is not open');
    return this.position;
  }

  private requireLoader(): UnpairedLoader {
    if (!this.loader) throw new Error('the loader is not open');
    return this.loader;
  }
}

function lossesOf(record: LossRecord | undefined): StepLosses | null {
  if (!record) return null;
  // Every field but the iteration, so a new loss needs no line here.
  const { iteration, ...losses } = record;
  void iteration;
  return losses;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
