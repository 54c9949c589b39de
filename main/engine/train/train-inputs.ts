/**
 * What a CUT training run reads (train-loop.ts): the source and target folders as datasets,
 * checked before the first step and with every error naming its folder, and the fixed preview
 * images the run translates at each preview.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ResolvedTrainJob, SkippedFileInfo } from '../../../shared/jobs';
import {
  DatasetError,
  ImageDataset,
  preprocessFromOptions,
  type DatasetErrorCode,
  type SampleSource,
} from '../data/dataset';
import { ImageReadError, openImage, resizeForTraining } from '../data/image-io';
import { Rng } from '../rng';
import type { CutModel } from './cut-model';
import type { RgbImage } from '../style/save-style';
import { TrainJobError } from './train-job-error';

type Role = 'source' | 'target';
const ROLE_TEXT: Record<Role, string> = {
  source: 'Source folder (A, the images you have)',
  target: 'Target folder (B, the look you want)',
};

export interface Datasets {
  source: ImageDataset;
  target: ImageDataset;
}

export async function openDatasets(job: ResolvedTrainJob): Promise<Datasets> {
  const opts = {
    ...preprocessFromOptions(job.options),
    smallImages: job.smallImages,
    recursive: job.recursive,
    ...(job.allowedRoots ? { allowedRoots: job.allowedRoots } : {}),
  };
  const source = await ImageDataset.fromFolder(job.source, opts).catch(folderError('source', job));
  const target = await ImageDataset.fromFolder(job.target, opts).catch(folderError('target', job));
  // One sample each: a folder of nothing but unreadable files fails now, not at step one.
  await source.load(0, new Rng(0)).catch(folderError('source', job));
  await target.load(0, new Rng(0)).catch(folderError('target', job));
  return { source, target };
}

/** Dataset errors whose message already names the folder. */
const NAMES_FOLDER = new Set<DatasetErrorCode>([
  'missing-folder',
  'not-a-folder',
  'unreadable-folder',
  'outside-allowed-folders',
  'no-images',
]);

/** Rewrites a dataset error to say which folder it is about. */
function folderError(role: Role, job: ResolvedTrainJob): (err: unknown) => never {
  return (err) => {
    if (!(err instanceof DatasetError)) throw err;
    const dir = path.resolve(role === 'source' ? job.source : job.target);
    const where = NAMES_FOLDER.has(err.code) ? ROLE_TEXT[role] : `${ROLE_TEXT[role]} ${dir}`;
    throw new TrainJobError(err.code, `${where}: ${err.message}`, { cause: err });
  };
}

/** The dataset as the loader sees it, with errors naming the folder. */
export function labelled(ds: ImageDataset, role: Role, job: ResolvedTrainJob): SampleSource {
  return { size: ds.size, load: (i, rng) => ds.load(i, rng).catch(folderError(role, job)) };
}

export interface PreviewSet {
  sources: RgbImage[];
  skipped: SkippedFileInfo[];
}

/**
 * A fixed set of source images, chosen evenly over the sorted file list (no randomness, so a
 * resumed run shows the same ones), scaled so the short side is cropSize and centre-cropped.
 */
export async function choosePreviews(ds: ImageDataset, job: ResolvedTrainJob): Promise<PreviewSet> {
  const n = ds.size;
  const want = Math.min(job.previewCount, n);
  const even = Array.from({ length: want }, (_, i) => Math.floor((i * n) / want));
  const order = [...new Set([...even, ...Array.from({ length: n }, (_, i) => i)])];
  const set: PreviewSet = { sources: [], skipped: [] };
  for (const i of order.slice(0, want + 20)) {
    if (set.sources.length === want) break;
    const file = ds.files[i];
    try {
      set.sources.push(await centreCrop(file, job.options.cropSize, ds.options));
    } catch (err) {
      if (!(err instanceof ImageReadError)) throw err;
      set.skipped.push({ path: file, reason: err.reason, message: err.message });
    }
  }
  return set;
}

async function centreCrop(
  file: string,
  size: number,
  read: ImageDataset['options'],
): Promise<RgbImage> {
  const image = await openImage(file, read);
  const { width: w, height: h } = image.info;
  const s = size / Math.min(w, h);
  const rw = Math.max(size, Math.round(w * s));
  const rh = Math.max(size, Math.round(h * s));
  const crop = { left: (rw - size) >> 1, top: (rh - size) >> 1, width: size, height: size };
  const out = await resizeForTraining(
    image,
    { resize: { width: rw, height: rh }, crop, flip: false },
    read,
  );
  return { rgb: out.data, width: out.width, height: out.height };
}

/** G(x) for one preview image; leaves no tensor behind. */
export async function translatePreview(model: CutModel, img: RgbImage): Promise<RgbImage> {
  const out = tf.tidy(() => model.G.forward(tf.tensor4d(img.rgb, [1, img.height, img.width, 3])));
  try {
    return { rgb: Float32Array.from(await out.data()), width: img.width, height: img.height };
  } finally {
    out.dispose();
  }
}
