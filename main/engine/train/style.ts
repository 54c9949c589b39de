/**
 * The finished style folder: what training hands to conversion, heatmaps and the style
 * library. It describes itself and holds only what translating needs:
 *
 *   style.json       StyleMeta (shared/jobs.ts): format, options, generator config, summary
 *   generator.json   the weights' index: config, tensor names (the reference's state-dict
 *                    names, e.g. model.1.weight), shapes, byte offsets, sha256 of the blob
 *   generator.bin    G only, float32 little-endian, TF layouts
 *   thumbnail.png    the first preview's translation
 *   previews/        NN-source.png / NN-output.png pairs
 *
 * The folder is assembled under a hidden temporary name and renamed into place, so a reader
 * sees either the previous style or the whole new one.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { STYLE_FORMAT, type StyleMeta, type TrainingSummary } from '../../../shared/jobs';
import type { TrainOptions } from '../../../shared/options';
import { encodeImage } from '../data/image-io';
import { generatorSpecs, ResnetGenerator, type GeneratorConfig } from '../model/generator';
import type { ParamSet } from '../model/params';
import {
  nodeWriter,
  readJson,
  readTensorFile,
  replaceDir,
  TensorFileError,
  writeTensorFile,
  type BlobInfo,
  type FileWriter,
  type StoredTensor,
  type TensorEntry,
} from './checkpoint';

export const WEIGHTS_FORMAT = 'patchwork-weights-1';
const STYLE_FILE = 'style.json';
const WEIGHTS_CONFIG = 'generator.json';
const WEIGHTS_DATA = 'generator.bin';
const THUMBNAIL = 'thumbnail.png';

export type StyleErrorCode =
  | 'missing-folder'
  | 'not-a-style'
  | 'unsupported-format'
  | 'missing-weights'
  | 'corrupt-weights'
  | 'shape-mismatch'
  | 'write-failed';

export class StyleError extends Error {
  constructor(
    readonly code: StyleErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StyleError';
  }
}

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
  generator: ResnetGenerator;
  training: TrainingSummary;
  previews: StylePreview[];
  created?: Date;
}

interface WeightsManifest {
  format: typeof WEIGHTS_FORMAT;
  network: 'resnet-generator';
  layout: 'tfjs-nhwc';
  config: { ngf: number; nBlocks: number };
  blob: BlobInfo;
  tensors: TensorEntry[];
}

// ─── saving ────────────────────────────────────────────────────────────────────────────────

/** Writes (or replaces) the style folder `dir`; returns what style.json says. */
export async function saveStyle(
  dir: string,
  input: SaveStyleInput,
  writer: FileWriter = nodeWriter,
): Promise<StyleMeta> {
  const final = path.resolve(dir);
  const temp = path.join(path.dirname(final), `.${path.basename(final)}.${randomUUID()}.tmp`);
  try {
    await fs.mkdir(path.join(temp, 'previews'), { recursive: true });
    await writeWeights(writer, temp, input.generator);
    const previews = await writePreviews(writer, temp, input.previews);
    const meta = styleMeta(input, previews);
    await writer.writeFile(path.join(temp, STYLE_FILE), [Buffer.from(json(meta))]);
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

function styleMeta(input: SaveStyleInput, previews: StyleMeta['previews']): StyleMeta {
  const { ngf, nBlocks } = input.generator.config;
  return {
    format: STYLE_FORMAT,
    kind: 'cut',
    name: input.name,
    preset: input.options.preset,
    options: input.options,
    generator: { ngf, nBlocks },
    training: input.training,
    created: (input.created ?? new Date()).toISOString(),
    weights: { config: WEIGHTS_CONFIG, data: WEIGHTS_DATA },
    thumbnail: previews.length ? THUMBNAIL : null,
    previews,
  };
}

async function writeWeights(writer: FileWriter, dir: string, g: ResnetGenerator): Promise<void> {
  // Spec order, so the blob reads in the same order as the network's layers.
  const tensors = generatorSpecs(g.config).map((s) => ({
    name: s.name,
    tensor: g.params.get(s.name) as tf.Tensor,
  }));
  const { blob, index } = await writeTensorFile(writer, path.join(dir, WEIGHTS_DATA), tensors);
  const manifest: WeightsManifest = {
    format: WEIGHTS_FORMAT,
    network: 'resnet-generator',
    layout: 'tfjs-nhwc',
    config: { ngf: g.config.ngf, nBlocks: g.config.nBlocks },
    blob,
    tensors: index,
  };
  await writer.writeFile(path.join(dir, WEIGHTS_CONFIG), [Buffer.from(json(manifest))]);
}

async function writePreviews(
  writer: FileWriter,
  dir: string,
  previews: StylePreview[],
): Promise<StyleMeta['previews']> {
  const names: StyleMeta['previews'] = [];
  for (const [i, p] of previews.entries()) {
    const n = String(i).padStart(2, '0');
    const pair = { source: `previews/${n}-source.png`, output: `previews/${n}-output.png` };
    await writePng(writer, path.join(dir, pair.source), p.source);
    await writePng(writer, path.join(dir, pair.output), p.output);
    names.push(pair);
  }
  if (previews.length) await writePng(writer, path.join(dir, THUMBNAIL), previews[0].output);
  return names;
}

async function writePng(writer: FileWriter, file: string, image: RgbImage): Promise<void> {
  const { data } = await encodeImage(image.rgb, image.width, image.height, { format: 'png' });
  await writer.writeFile(file, [data]);
}

// ─── loading ───────────────────────────────────────────────────────────────────────────────

export interface LoadedStyle {
  meta: StyleMeta;
  generator: ResnetGenerator;
}

/** Reads a style folder; every way it can be unusable is a StyleError naming the problem. */
export async function loadStyle(dir: string): Promise<LoadedStyle> {
  const root = path.resolve(dir);
  await checkFolder(root);
  const meta = await readStyleMeta(root);
  const weights = await readWeightsManifest(root, meta);
  const tensors = await readTensorFile(root, weights.blob, weights.tensors).catch((err) => {
    if (!(err instanceof TensorFileError)) throw err;
    const code = err.reason === 'missing' ? 'missing-weights' : 'corrupt-weights';
    throw new StyleError(code, `Style ${root}: the generator weights are unusable: ${err.message}`);
  });
  const config: GeneratorConfig = { ngf: meta.generator.ngf, nBlocks: meta.generator.nBlocks };
  checkShapes(root, config, tensors);
  return { meta, generator: new ResnetGenerator(config, toParams(config, tensors)) };
}

async function checkFolder(root: string): Promise<void> {
  const stat = await fs.stat(root).catch(() => null);
  if (!stat) throw new StyleError('missing-folder', `No style folder at ${root}`);
  if (!stat.isDirectory()) {
    throw new StyleError('not-a-style', `${root} is a file, not a style folder`);
  }
}

/** style.json: present, parseable, of this format and with a sane generator config. */
export async function readStyleMeta(root: string): Promise<StyleMeta> {
  const file = path.join(root, STYLE_FILE);
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) {
    throw new StyleError(
      'not-a-style',
      `${root} is not a Patchwork style folder (no ${STYLE_FILE})`,
    );
  }
  const meta = parse(text, file, 'not-a-style') as Partial<StyleMeta> | null;
  if (meta?.format !== STYLE_FORMAT) {
    throw new StyleError(
      'unsupported-format',
      `${file}: format ${JSON.stringify(meta?.format)} is not one this version reads ` +
        `(${STYLE_FORMAT}); the style may come from a newer Patchwork`,
    );
  }
  if (meta.kind !== 'cut') {
    throw new StyleError(
      'unsupported-format',
      `${file}: style kind ${JSON.stringify(meta.kind)} is unknown`,
    );
  }
  const g = meta.generator;
  if (!g || !isPositiveInt(g.ngf) || !isPositiveInt(g.nBlocks)) {
    throw new StyleError('not-a-style', `${file}: the generator config is missing or invalid`);
  }
  return meta as StyleMeta;
}

async function readWeightsManifest(root: string, meta: StyleMeta): Promise<WeightsManifest> {
  const file = path.join(root, WEIGHTS_CONFIG);
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) {
    throw new StyleError(
      'missing-weights',
      `Style ${root} has no generator weights (${WEIGHTS_CONFIG})`,
    );
  }
  const w = parse(text, file, 'corrupt-weights') as Partial<WeightsManifest> | null;
  if (w?.format !== WEIGHTS_FORMAT || !w.blob || !Array.isArray(w.tensors)) {
    throw new StyleError('unsupported-format', `${file}: not a ${WEIGHTS_FORMAT} index`);
  }
  const c = w.config;
  if (c?.ngf !== meta.generator.ngf || c?.nBlocks !== meta.generator.nBlocks) {
    throw new StyleError(
      'shape-mismatch',
      `Style ${root}: style.json describes ngf ${meta.generator.ngf}, ${meta.generator.nBlocks} ` +
        `blocks, but the weights are for ngf ${c?.ngf}, ${c?.nBlocks} blocks`,
    );
  }
  return w as WeightsManifest;
}

/** Every parameter the config needs, with exactly its shape, and nothing else. */
function checkShapes(root: string, cfg: GeneratorConfig, tensors: Map<string, StoredTensor>) {
  const specs = generatorSpecs(cfg);
  const problems: string[] = [];
  for (const s of specs) {
    const t = tensors.get(s.name);
    if (!t) problems.push(`${s.name} is missing`);
    else if (!tf.util.arraysEqual(t.shape, s.shape)) {
      problems.push(`${s.name} has shape [${t.shape}], expected [${s.shape}]`);
    }
  }
  const known = new Set(specs.map((s) => s.name));
  for (const name of tensors.keys()) if (!known.has(name)) problems.push(`${name} is unexpected`);
  if (problems.length) {
    const more = problems.length > 3 ? ` and ${problems.length - 3} more` : '';
    throw new StyleError(
      'shape-mismatch',
      `Style ${root}: the weights do not fit a generator with ngf ${cfg.ngf}, ${cfg.nBlocks} ` +
        `blocks: ${problems.slice(0, 3).join('; ')}${more}`,
    );
  }
}

/** Inference-only variables keyed by the reference's names. */
function toParams(cfg: GeneratorConfig, tensors: Map<string, StoredTensor>): ParamSet {
  const params: ParamSet = new Map();
  for (const s of generatorSpecs(cfg)) {
    const t = tensors.get(s.name) as StoredTensor;
    params.set(
      s.name,
      tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape, 'float32'), false)),
    );
  }
  return params;
}

function parse(text: string, file: string, code: StyleErrorCode): unknown {
  try {
    return readJson(text, file);
  } catch (err) {
    throw new StyleError(code, (err as Error).message);
  }
}

function isPositiveInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 1)}\n`;
}
