/**
 * Writing a CUT-family style folder (what training and import hand to conversion, heatmaps
 * and the library):
 *
 *   style.json       CutStyleMeta (main/style): format, options, generator config, summary;
 *                    `generator.architecture` is 'cyclegan-resnet' for an imported CycleGAN
 *                    generator and absent (meaning 'cut-resnet') otherwise
 *   generator.json   the weights' index (weights-index.ts)
 *   generator.bin    G only, float32 little-endian, TF layouts
 *   head.json        the projection head H's index (taps, channels, projection dim), when the
 *   head.bin         style has one: heatmaps project encoder features through it as training
 *                    did. Optional: a style without them (older, or an imported generator)
 *                    still loads, with `head: null`.
 *   thumbnail.png    the first preview's translation
 *   previews/        NN-source.png / NN-output.png pairs
 *
 * The folder is assembled under a hidden temporary name and renamed into place, so a reader
 * sees either the previous style or the whole new one.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { TrainingSummary } from '../../../shared/jobs';
import type { NceTap, TrainOptions } from '../../../shared/options';
import { StyleError } from '../../style/style-error';
import {
  STYLE_FILES,
  STYLE_FORMAT,
  styleJsonText,
  type CutArchitecture,
  type CutStyleMeta,
  type HeadMeta,
  type StylePreviewFiles,
} from '../../style/style-json';
import { encodeImage } from '../data/image-io';
import { tapChannels } from '../model/generator';
import { architectureOf, specsFor, type StyleGenerator } from '../model/style-generator';
import { projectionHeadSpecs, type ProjectionHead } from '../model/projection-head';
import { nodeWriter, replaceDir, writeTensorFile, type FileWriter } from '../tensor-file';
import {
  jsonText,
  sameNumbers,
  WEIGHTS_FORMAT,
  type HeadManifest,
  type WeightsManifest,
} from './weights-index';

/** [H, W, 3] floats in [−1, 1]. */
export interface RgbImage {
  rgb: Float32Array;
  width: number;
  height: number;
}

export interface StylePreview {
  source: RgbImage;
  output: RgbImage;
}

export interface SaveStyleInput {
  name: string;
  options: TrainOptions;
  /** CUT's generator, or an imported CycleGAN one (which has no projection head). */
  generator: StyleGenerator;
  /** The trained projection head, one MLP per tap of `options.nceTaps`, in that order. */
  head?: ProjectionHead | null;
  training: TrainingSummary;
  previews: StylePreview[];
  created?: Date;
}

/** Writes (or replaces) the style folder `dir`; returns what style.json says. */
export async function saveStyle(
  dir: string,
  input: SaveStyleInput,
  writer: FileWriter = nodeWriter,
): Promise<CutStyleMeta> {
  const final = path.resolve(dir);
  const temp = path.join(path.dirname(final), `.${path.basename(final)}.${randomUUID()}.tmp`);
  try {
    await fs.mkdir(path.join(temp, STYLE_FILES.previews), { recursive: true });
    await writeWeights(writer, temp, input.generator);
    const head = input.head ? await writeHead(writer, temp, input) : undefined;
    const previews = await writePreviews(writer, temp, input.previews);
    const meta: CutStyleMeta = { ...styleMeta(input, previews), ...(head ? { head } : {}) };
    await writer.writeFile(path.join(temp, STYLE_FILES.meta), [Buffer.from(styleJsonText(meta))]);
    await replaceDir(temp, final);
    return meta;
  } catch (err) {
    await fs.rm(temp, { recursive: true, force: true }).catch(() => undefined);
    const why = err instanceof Error ? err.message : String(err);
    throw new StyleError('write-failed', `Could not write the style folder ${final}: ${why}`, {
      cause: err,
    });
  }
}

function styleMeta(input: SaveStyleInput, previews: StylePreviewFiles): CutStyleMeta {
  const { ngf, nBlocks } = input.generator.config;
  const architecture = architectureOf(input.generator);
  return {
    format: STYLE_FORMAT,
    kind: 'cut',
    name: input.name,
    preset: input.options.preset,
    options: input.options,
    generator: generatorMeta(ngf, nBlocks, architecture),
    training: input.training,
    created: (input.created ?? new Date()).toISOString(),
    weights: { config: STYLE_FILES.weightsConfig, data: STYLE_FILES.weightsData },
    thumbnail: previews.length ? STYLE_FILES.thumbnail : null,
    previews,
  };
}

/** style.json's generator entry: the architecture only when it is not the default. */
function generatorMeta(
  ngf: number,
  nBlocks: number,
  architecture: CutArchitecture,
): CutStyleMeta['generator'] {
  return architecture === 'cut-resnet' ? { ngf, nBlocks } : { ngf, nBlocks, architecture };
}

async function writeWeights(writer: FileWriter, dir: string, g: StyleGenerator): Promise<void> {
  const architecture = architectureOf(g);
  // Spec order, so the blob reads in the same order as the network's layers.
  const tensors = specsFor(architecture, g.config).map((s) => ({
    name: s.name,
    tensor: g.params.get(s.name) as tf.Tensor,
  }));
  const data = path.join(dir, STYLE_FILES.weightsData);
  const { blob, index } = await writeTensorFile(writer, data, tensors);
  const manifest: WeightsManifest = {
    format: WEIGHTS_FORMAT,
    network: 'resnet-generator',
    layout: 'tfjs-nhwc',
    config: {
      ngf: g.config.ngf,
      nBlocks: g.config.nBlocks,
      ...(architecture === 'cut-resnet' ? {} : { architecture }),
    },
    blob,
    tensors: index,
  };
  const config = path.join(dir, STYLE_FILES.weightsConfig);
  await writer.writeFile(config, [Buffer.from(jsonText(manifest))]);
}

/** head.bin and head.json; the head must fit the generator and the options' taps. */
async function writeHead(
  writer: FileWriter,
  dir: string,
  input: SaveStyleInput,
): Promise<HeadMeta> {
  const H = input.head as ProjectionHead;
  if (architectureOf(input.generator) !== 'cut-resnet') {
    throw new Error('a projection head belongs to a CUT generator only');
  }
  const taps = input.options.nceTaps as NceTap[];
  const channels = taps.map((t) => tapChannels(t, input.generator.config.ngf));
  if (!sameNumbers(H.tapChannels, channels)) {
    throw new Error(
      `the projection head's input widths [${H.tapChannels}] do not fit the taps ` +
        `${taps.join(', ')} of this generator (widths [${channels}])`,
    );
  }
  const tensors = projectionHeadSpecs(H.tapChannels, H.dim).map((s) => ({
    name: s.name,
    tensor: H.params.get(s.name) as tf.Tensor,
  }));
  const data = path.join(dir, STYLE_FILES.headData);
  const { blob, index } = await writeTensorFile(writer, data, tensors);
  const config = { taps, channels, dim: H.dim };
  const manifest: HeadManifest = {
    format: WEIGHTS_FORMAT,
    network: 'projection-head',
    layout: 'tfjs-nhwc',
    config,
    blob,
    tensors: index,
  };
  await writer.writeFile(path.join(dir, STYLE_FILES.headConfig), [Buffer.from(jsonText(manifest))]);
  return { ...config, weights: { config: STYLE_FILES.headConfig, data: STYLE_FILES.headData } };
}

async function writePreviews(
  writer: FileWriter,
  dir: string,
  previews: StylePreview[],
): Promise<StylePreviewFiles> {
  const names: StylePreviewFiles = [];
  for (const [i, p] of previews.entries()) {
    const n = String(i).padStart(2, '0');
    const pair = { source: `previews/${n}-source.png`, output: `previews/${n}-output.png` };
    await writePng(writer, path.join(dir, pair.source), p.source);
    await writePng(writer, path.join(dir, pair.output), p.output);
    names.push(pair);
  }
  if (previews.length) {
    await writePng(writer, path.join(dir, STYLE_FILES.thumbnail), previews[0].output);
  }
  return names;
}

async function writePng(writer: FileWriter, file: string, image: RgbImage): Promise<void> {
  const { data } = await encodeImage(image.rgb, image.width, image.height, { format: 'png' });
  await writer.writeFile(file, [data]);
}
