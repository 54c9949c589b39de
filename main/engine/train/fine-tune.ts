/**
 * Fine-tuning: a fresh training run that starts from an existing style's generator — one
 * trained here or imported from a reference checkpoint — instead of random weights. The
 * generator's shape (ngf, residual blocks) is the style's; the projection head is carried over
 * when the style has one for the same taps and size, else drawn fresh; the discriminator
 * always starts fresh (a style does not keep one). Everything else — data order, crops, patch
 * draws — still follows the run's seed.
 */
import path from 'node:path';
import type { ResolvedTrainJob, TrainJobSpec } from '../../../shared/jobs';
import { resolveTrainOptions } from '../../../shared/options';
import type { ParamSet } from '../model/params';
import { StyleError } from '../../style/style-error';
import { classify, readStyleMeta } from '../../style/style-folder';
import type { CutStyleMeta } from '../../style/style-json';
import { disposeStyle, loadStyle } from '../style/load-style';
import type { CutModel } from './cut-model';

/** Why a style cannot seed a run; the message names the style folder. */
export class InitStyleError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InitStyleError';
  }
}

/**
 * The job with the generator's shape taken from `job.initFrom` (no change without one). A
 * width or block count the caller set explicitly must agree with the style's.
 */
export async function adoptStyleShape(
  job: ResolvedTrainJob,
  spec: TrainJobSpec,
): Promise<ResolvedTrainJob> {
  if (job.initFrom === null) return job;
  const dir = path.resolve(job.initFrom);
  const meta = await readCutMeta(dir);
  const { architecture } = classify(meta);
  if (architecture !== 'cut-resnet') {
    throw new InitStyleError(
      `Cannot fine-tune from ${dir}: it holds a ${architecture} generator (imported), which ` +
        'Patchwork converts and exports but does not train; fine-tuning needs a CUT generator',
    );
  }
  const { ngf, nBlocks } = meta.generator;
  const asked = spec.options;
  for (const [key, theirs] of [
    ['ngf', ngf],
    ['nBlocks', nBlocks],
  ] as const) {
    if (asked[key] !== undefined && asked[key] !== theirs) {
      throw new InitStyleError(
        `Cannot fine-tune ${dir}: its generator has ${key} ${theirs}, the run asks for ` +
          `${asked[key]}. Leave ${key} unset to take the style's.`,
      );
    }
  }
  return { ...job, options: resolveTrainOptions({ ...asked, ngf, nBlocks }) };
}

/**
 * Copies the style's generator (and head, when it fits) into a freshly created model.
 * Returns what the artist should know (e.g. a head that had to start fresh).
 */
export async function seedFromStyle(model: CutModel, styleDir: string): Promise<string[]> {
  const dir = path.resolve(styleDir);
  await readCutMeta(dir);
  const style = await loadStyle(dir).catch((err: unknown) => {
    throw asInitError(dir, err);
  });
  try {
    copyParams(style.generator.params, model.G.params, dir);
    const notes: string[] = [];
    const head = style.head;
    const sameTaps =
      style.headTaps.length === model.taps.length &&
      style.headTaps.every((t, i) => t === model.taps[i]);
    if (head && sameTaps && head.dim === model.H.dim) {
      copyParams(head.params, model.H.params, dir);
    } else {
      const why = head
        ? `its head projects taps ${style.headTaps.join(', ')} to ${head.dim}, the run ` +
          `uses ${model.taps.join(', ')} to ${model.H.dim}`
        : 'it has no projection head (imported styles have none)';
      notes.push(`Fine-tuning ${dir}: the PatchNCE projection head starts fresh (${why}).`);
    }
    return notes;
  } finally {
    disposeStyle(style);
  }
}

/**
 * style.json of the style to start from. A SinCUT style cannot seed a CUT or FastCUT run:
 * its generator was trained on one image pair, usually with another architecture
 * (StyleGAN2), and its run continues with `--resume` on its own output folder
 * (checkpoints/latest) instead.
 */
async function readCutMeta(dir: string): Promise<CutStyleMeta> {
  const meta = await readStyleMeta(dir).catch((err: unknown) => {
    throw asInitError(dir, err);
  });
  if (meta.kind === 'cut') return meta;
  throw new InitStyleError(
    `Cannot fine-tune from ${dir}: it is a SinCUT style (trained on one image pair). ` +
      'Fine-tuning starts a CUT or FastCUT run from a CUT style; SinCUT styles do not seed ' +
      'other runs. To train a SinCUT style further, resume its own run: `patchwork train ' +
      '--preset sincut` with the same images, the same --out folder, --resume and a larger ' +
      '--iterations.',
  );
}

function copyParams(from: ParamSet, to: ParamSet, dir: string): void {
  for (const [name, variable] of to) {
    const source = from.get(name);
    if (!source || source.shape.join('×') !== variable.shape.join('×')) {
      // loadStyle has checked every shape against the style's own config; the run's config
      // was taken from the same style, so a difference here is a bug, not bad input.
      throw new InitStyleError(`Cannot fine-tune ${dir}: weight ${name} does not fit the run`);
    }
    variable.assign(source);
  }
}

function asInitError(dir: string, err: unknown): Error {
  if (err instanceof StyleError) {
    return new InitStyleError(`Cannot fine-tune from ${dir}: ${err.message}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
