/**
 * SinCUT training: one source image and one target image in, a style folder out (reference
 * train.py with the SinCUT model and the single-image dataset). Reads top to bottom: backend,
 * the two images (checked, with clear messages for what cannot work), the model (fresh or
 * resumed from the output folder's checkpoint), the loop with the reference's schedule (lr
 * constant for `epochs`, then linear decay; an epoch is 100,000 crops), checkpoints, and the
 * style with a preview of the source translated.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { sincutStepsPerEpoch, type SinCutOptions } from '../../../shared/options';
import { initBackend, type BackendPreference, type BackendReport } from '../backend';
import {
  checkSinglePair,
  loadSingleImage,
  SingleImageError,
  SingleImageSampler,
  type SingleImage,
} from '../data/single-image';
import { writeImageAtomic } from '../data/image-io';
import { translateSinCut } from '../infer/sincut-tiled';
import { NOISE_SEED } from '../model/positional-noise';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import { Rng } from '../rng';
import { lrFactor } from './adam';
import { SinCutModel } from './sincut-model';
import { TrainJobError } from './train-job-error';
import { saveSinCutStyle, type SinCutPreviewImage } from '../style/sincut-style';
import { loadSinCutCheckpoint, saveSinCutCheckpoint } from './sincut-checkpoint';
import { drawSinCutSampling, sincutTrainStep, type SinCutLosses } from './sincut-step';

export interface SinCutJob {
  source: string;
  target: string;
  out: string;
  options: SinCutOptions;
  /** Steps to run in all (including resumed ones); null: the reference's schedule. */
  iterations: number | null;
  name?: string;
  backend?: BackendPreference;
  checkpointEvery?: number;
  progressEvery?: number;
  /** Long side of the preview the style keeps (the source, translated). */
  previewSide?: number;
  /**
   * Steps between live previews (the source translated, previews/iter-N/output.png, with a
   * `preview` event); 0: only the style's at the end. Default: a tenth of the run, 25–500.
   */
  previewEvery?: number;
  maxTrainPixels?: number;
}

export type SinCutEvent =
  | {
      type: 'started';
      backend: BackendReport;
      totalIterations: number;
      resumedFrom: number | null;
      images: { source: [number, number]; target: [number, number] };
    }
  | { type: 'warning'; message: string }
  | {
      type: 'progress';
      iteration: number;
      totalIterations: number;
      losses: SinCutLosses;
      itPerSec: number;
      lr: number;
    }
  | { type: 'checkpoint'; iteration: number; path: string }
  /** The source translated by the generator as it stands (PNG paths: the translation). */
  | { type: 'preview'; iteration: number; paths: string[] }
  | { type: 'finished'; status: 'completed' | 'cancelled'; iteration: number; styleDir: string };

export interface SinCutResult {
  status: 'completed' | 'cancelled';
  iteration: number;
  styleDir: string;
  losses: SinCutLosses | null;
  backend: BackendReport;
  durationSeconds: number;
}

export async function runSinCutTraining(
  job: SinCutJob,
  run: { signal?: AbortSignal; onEvent?: (e: SinCutEvent) => void; resume?: boolean } = {},
): Promise<SinCutResult> {
  const emit = run.onEvent ?? (() => undefined);
  const backend = await initBackend(job.backend ?? 'auto');
  const a = await loadSingleImage(job.source, job.maxTrainPixels);
  const b = await loadSingleImage(job.target, job.maxTrainPixels);
  let warnings: string[];
  try {
    warnings = checkSinglePair(a, b, job.options.cropSize);
  } catch (err) {
    if (!(err instanceof SingleImageError)) throw err;
    throw new TrainJobError('no-readable-images', err.message, { cause: err });
  }
  for (const message of warnings) emit({ type: 'warning', message });
  const out = path.resolve(job.out);
  const ckptDir = path.join(out, 'checkpoints', 'latest');
  await fs.mkdir(out, { recursive: true });
  const resumed = run.resume ? await loadSinCutCheckpoint(ckptDir) : null;
  if (!run.resume && (await exists(ckptDir))) {
    throw new TrainJobError(
      'out-in-use',
      `${out} already holds a SinCUT checkpoint: resume it (--resume), or choose another output folder.`,
    );
  }
  const model = resumed?.model ?? SinCutModel.create(job.options);
  const opts = model.opts;
  const rng = resumed ? new Rng(resumed.state.rng) : new Rng((opts.seed ^ 0x51c0) >>> 0);
  const sampler = new SingleImageSampler(a, b, opts);
  const perEpoch = sincutStepsPerEpoch(opts);
  const total = job.iterations ?? (opts.epochs + opts.decayEpochs) * perEpoch;
  let iteration = resumed?.state.iteration ?? 0;
  let losses: SinCutLosses | null = null;
  const elapsedBefore = resumed?.state.elapsedSeconds ?? 0;
  const started = performance.now();
  const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
  emit({
    type: 'started',
    backend,
    totalIterations: total,
    resumedFrom: resumed ? iteration : null,
    images: { source: [a.fileWidth, a.fileHeight], target: [b.fileWidth, b.fileHeight] },
  });
  const progressEvery = job.progressEvery ?? 10;
  const checkpointEvery = job.checkpointEvery ?? 500;
  const save = async () => {
    await saveSinCutCheckpoint(ckptDir, model, {
      iteration,
      epoch: Math.floor((iteration - 1) / perEpoch) + 1,
      rng: rng.state(),
      elapsedSeconds: elapsed(),
      losses: losses as unknown as Record<string, number | null> | null,
    });
    emit({ type: 'checkpoint', iteration, path: ckptDir });
  };
  const previewEvery = job.previewEvery ?? Math.min(500, Math.max(25, Math.round(total / 10)));
  // Small (the long side 256 px at most): it costs a translation of that size each time.
  const livePreview = async (at: number) => {
    try {
      const p = await previewOf(model, a, Math.min(256, job.previewSide ?? 256), (m) =>
        emit({ type: 'warning', message: `The preview at step ${at}: ${m}` }),
      );
      if (!p) return;
      const dir = path.join(out, 'previews', `iter-${at}`);
      await fs.mkdir(dir, { recursive: true });
      const file = path.join(dir, 'output.png');
      await writeImageAtomic(file, p.output.rgb, p.output.width, p.output.height);
      emit({ type: 'preview', iteration: at, paths: [file] });
    } catch (err) {
      // A preview is for watching; the run goes on without it.
      const why = err instanceof Error ? err.message : String(err);
      emit({ type: 'warning', message: `Could not make a preview at step ${at}: ${why}` });
    }
  };
  let status: 'completed' | 'cancelled' = 'completed';
  let mark = { t: performance.now(), i: iteration };
  try {
    while (iteration < total) {
      if (run.signal?.aborted) {
        status = 'cancelled';
        break;
      }
      const epoch = Math.floor(iteration / perEpoch) + 1;
      const lr =
        opts.lr *
        lrFactor(Math.min(epoch, opts.epochs + opts.decayEpochs), opts.epochs, opts.decayEpochs);
      model.setLearningRate(lr);
      losses = await step(model, sampler, rng);
      iteration += 1;
      const bad = Object.entries(losses).find(([, v]) => v !== null && !Number.isFinite(v));
      if (bad)
        throw new TrainJobError(
          'diverged',
          `Training diverged at iteration ${iteration} (loss ${bad[0]} is ${bad[1]}); the last ` +
            `checkpoint is from before: resume it with a lower --lr.`,
        );
      if (iteration % progressEvery === 0 || iteration === total || iteration === 1) {
        const now = performance.now();
        const itPerSec = ((iteration - mark.i) * 1000) / Math.max(1, now - mark.t);
        mark = { t: now, i: iteration };
        emit({ type: 'progress', iteration, totalIterations: total, losses, itPerSec, lr });
      }
      if (iteration % checkpointEvery === 0) await save();
      if (previewEvery > 0 && iteration % previewEvery === 0 && iteration < total) {
        await livePreview(iteration);
      }
      await new Promise((resolve) => setImmediate(resolve)); // let a signal arrive
    }
    if (iteration > 0) await save();
    const styleDir = path.join(out, 'style');
    const preview = await previewOf(model, a, job.previewSide ?? 512, (m) =>
      emit({ type: 'warning', message: `The style's preview: ${m}` }),
    );
    await saveSinCutStyle(styleDir, {
      name: job.name ?? path.basename(out),
      model,
      noiseSeed: NOISE_SEED,
      preview,
      training: {
        iterations: iteration,
        epochs: Math.floor(Math.max(0, iteration - 1) / perEpoch) + 1,
        durationSeconds: elapsed(),
        finalLosses: losses,
        backend: backend.detail,
        status,
        datasetSizes: { source: 1, target: 1 },
      },
    });
    emit({ type: 'finished', status, iteration, styleDir });
    return { status, iteration, styleDir, losses, backend, durationSeconds: elapsed() };
  } finally {
    model.dispose();
  }
}

/** One step on the next crops; its losses are read asynchronously, as every backend allows. */
async function step(
  model: SinCutModel,
  sampler: SingleImageSampler,
  rng: Rng,
): Promise<SinCutLosses> {
  const batch = sampler.next(rng);
  const { n, crop } = batch;
  const realA = tf.tensor4d(batch.a, [n, crop, crop, 3]); // [B, crop, crop, 3]
  const realB = tf.tensor4d(batch.b, [n, crop, crop, 3]);
  try {
    return await sincutTrainStep(
      model,
      realA,
      realB,
      drawSinCutSampling(model, n, crop, crop, rng),
    );
  } finally {
    tf.dispose([realA, realB]);
  }
}

/**
 * The source scaled to `side` on its long side (even), and its translation. It runs in the
 * process that trained, whose wasm heap the run grew: the tiles are sized counting the heap's
 * free part as available (heap-reuse.ts), so they are those of a fresh process, not the
 * smallest; `onOverBudget` hears if the budget still forces a tile beyond it.
 */
export async function previewOf(
  model: SinCutModel,
  a: SingleImage,
  side: number,
  onOverBudget?: (message: string) => void,
): Promise<{ source: SinCutPreviewImage; output: SinCutPreviewImage } | null> {
  const s = Math.min(1, side / Math.max(a.width, a.height));
  const unit = model.G instanceof StyleGan2Generator ? 2 : 4;
  const w = Math.max(8, Math.round((a.width * s) / unit) * unit);
  const h = Math.max(8, Math.round((a.height * s) / unit) * unit);
  const src = tf.tidy(() =>
    tf.image.resizeBilinear(tf.tensor3d(a.rgb, [a.height, a.width, 3]), [h, w], false, true),
  );
  const rgb = (await src.data()) as Float32Array;
  src.dispose();
  const image = { data: rgb, width: w, height: h };
  let output: Float32Array;
  if (model.G instanceof StyleGan2Generator) {
    output = (await translateSinCut(model.G, image, onOverBudget ? { onOverBudget } : {})).data;
  } else {
    const G = model.G;
    const y = tf.tidy(() => tf.clipByValue(G.forward(tf.tensor4d(rgb, [1, h, w, 3])), -1, 1));
    output = (await y.data()) as Float32Array;
    y.dispose();
  }
  return { source: { rgb, width: w, height: h }, output: { rgb: output, width: w, height: h } };
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}
