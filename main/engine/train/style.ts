/**
 * The finished style folder: what training hands to conversion, heatmaps and the style
 * library. It describes itself and holds only what translating needs:
 *
 *   style.json       StyleMeta (shared/jobs.ts): format, options, generator config, summary;
 *                    `generator.architecture` is 'cyclegan-resnet' for an imported CycleGAN
 *                    generator and absent (meaning 'cut-resnet') otherwise
 *   generator.json   the weights' index: config, tensor names (the reference's state-dict
 *                    names, e.g. model.1.weight), shapes, byte offsets, sha256 of the blob
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
import * as tf from '@tensorflow/tfjs';
import { STYLE_FORMAT, type StyleMeta, type TrainingSummary } from '../../../shared/jobs';
import type { NceTap, TrainOptions } from '../../../shared/options';
import { encodeImage } from '../data/image-io';
import {
  generatorSpecs,
  ResnetGenerator,
  tapChannels,
  type GeneratorConfig,
} from '../model/generator';
import {
  ARCHITECTURES,
  architectureOf,
  makeGenerator,
  specsFor,
  type Architecture,
  type StyleGenerator,
} from '../model/style-generator';
import { disposeParams, type ParamSet, type ParamSpec } from '../model/params';
import { ProjectionHead, projectionHeadSpecs } from '../model/projection-head';
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
const HEAD_CONFIG = 'head.json';
const HEAD_DATA = 'head.bin';
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
  /** CUT's generator, or an imported CycleGAN one (which has no projection head). */
  generator: StyleGenerator;
  /** The trained projection head, one MLP per tap of `options.nceTaps`, in that order. */
  head?: ProjectionHead | null;
  training: TrainingSummary;
  previews: StylePreview[];
  created?: Date;
}

interface WeightsManifest {
  format: typeof WEIGHTS_FORMAT;
  network: 'resnet-generator';
  layout: 'tfjs-nhwc';
  /** `architecture` absent: 'cut-resnet'. */
  config: { ngf: number; nBlocks: number; architecture?: Architecture };
  blob: BlobInfo;
  tensors: TensorEntry[];
}

/** What style.json says about the projection head: enough to size it before reading it. */
export interface HeadMeta {
  /** The encoder taps H projects, in the order of its MLPs (mlp_0, mlp_1, …). */
  taps: NceTap[];
  /** Channels of each tap's features (H's input widths). */
  channels: number[];
  /** Projection dimension (H's output width). */
  dim: number;
  weights: { config: string; data: string };
}

/** style.json's generator entry; `architecture` absent means 'cut-resnet'. */
export type GeneratorMeta = StyleMeta['generator'] & { architecture?: Architecture };

/** style.json as this file writes it: StyleMeta plus the optional head and architecture. */
export type StyleMetaWithHead = StyleMeta & { head?: HeadMeta; generator: GeneratorMeta };

interface HeadManifest {
  format: typeof WEIGHTS_FORMAT;
  network: 'projection-head';
  layout: 'tfjs-nhwc';
  config: { taps: NceTap[]; channels: number[]; dim: number };
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
    const head = input.head ? await writeHead(writer, temp, input) : undefined;
    const previews = await writePreviews(writer, temp, input.previews);
    const meta: StyleMetaWithHead = { ...styleMeta(input, previews), ...(head ? { head } : {}) };
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
    weights: { config: WEIGHTS_CONFIG, data: WEIGHTS_DATA },
    thumbnail: previews.length ? THUMBNAIL : null,
    previews,
  };
}

/** style.json's generator entry: the architecture only when it is not the default. */
function generatorMeta(ngf: number, nBlocks: number, architecture: Architecture): GeneratorMeta {
  return architecture === 'cut-resnet' ? { ngf, nBlocks } : { ngf, nBlocks, architecture };
}

async function writeWeights(writer: FileWriter, dir: string, g: StyleGenerator): Promise<void> {
  const architecture = architectureOf(g);
  // Spec order, so the blob reads in the same order as the network's layers.
  const tensors = specsFor(architecture, g.config).map((s) => ({
    name: s.name,
    tensor: g.params.get(s.name) as tf.Tensor,
  }));
  const { blob, index } = await writeTensorFile(writer, path.join(dir, WEIGHTS_DATA), tensors);
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
  await writer.writeFile(path.join(dir, WEIGHTS_CONFIG), [Buffer.from(json(manifest))]);
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
  const { blob, index } = await writeTensorFile(writer, path.join(dir, HEAD_DATA), tensors);
  const config = { taps, channels, dim: H.dim };
  const manifest: HeadManifest = {
    format: WEIGHTS_FORMAT,
    network: 'projection-head',
    layout: 'tfjs-nhwc',
    config,
    blob,
    tensors: index,
  };
  await writer.writeFile(path.join(dir, HEAD_CONFIG), [Buffer.from(json(manifest))]);
  return { ...config, weights: { config: HEAD_CONFIG, data: HEAD_DATA } };
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
  meta: StyleMetaWithHead;
  generator: ResnetGenerator;
  /** The projection head, or null when the style has none (older styles, imported ones). */
  head: ProjectionHead | null;
  /** The taps the head projects, in its order; empty without a head. */
  headTaps: NceTap[];
}

export interface LoadStyleOptions {
  /** Read the projection head too (default true); false leaves `head` null. */
  head?: boolean;
}

/**
 * Reads a style folder; every way it can be unusable is a StyleError naming the problem.
 * Training, heatmaps and fine-tuning need CUT's generator: a style with another
 * architecture is refused here (conversion reads it with `loadStyleGenerator`).
 */
export async function loadStyle(dir: string, opts: LoadStyleOptions = {}): Promise<LoadedStyle> {
  const root = path.resolve(dir);
  await checkFolder(root);
  const meta = await readStyleMeta(root);
  const architecture = architectureOfMeta(meta);
  if (architecture !== 'cut-resnet') {
    throw new StyleError(
      'unsupported-format',
      `Style ${root} holds a ${architecture} generator (imported); only conversion and export ` +
        'can use it, not heatmaps or training',
    );
  }
  const { config, tensors } = await readGeneratorWeights(root, meta, architecture);
  const headMeta = (meta as StyleMetaWithHead).head;
  let head: ProjectionHead | null = null;
  if (headMeta !== undefined && headMeta !== null && opts.head !== false) {
    head = await readHead(root, meta, headMeta);
  }
  const generator = new ResnetGenerator(config, toParams(generatorSpecs(config), tensors));
  return { meta, generator, head, headTaps: head ? [...(headMeta as HeadMeta).taps] : [] };
}

export interface LoadedGenerator {
  meta: StyleMetaWithHead;
  architecture: Architecture;
  generator: StyleGenerator;
}

/** Only the generator of a style, whatever its architecture (conversion, export). */
export async function loadStyleGenerator(dir: string): Promise<LoadedGenerator> {
  const root = path.resolve(dir);
  await checkFolder(root);
  const meta = await readStyleMeta(root);
  const architecture = architectureOfMeta(meta);
  const { config, tensors } = await readGeneratorWeights(root, meta, architecture);
  const params = toParams(specsFor(architecture, config), tensors);
  return { meta, architecture, generator: makeGenerator(architecture, config, params) };
}

function architectureOfMeta(meta: StyleMeta): Architecture {
  return (meta as StyleMetaWithHead).generator.architecture ?? 'cut-resnet';
}

async function readGeneratorWeights(root: string, meta: StyleMeta, architecture: Architecture) {
  const weights = await readWeightsManifest(root, meta);
  const tensors = await readBlob(root, weights.blob, weights.tensors, 'generator');
  const config: GeneratorConfig = { ngf: meta.generator.ngf, nBlocks: meta.generator.nBlocks };
  const kind = architecture === 'cut-resnet' ? 'a generator' : `a ${architecture} generator`;
  checkShapes(
    root,
    specsFor(architecture, config),
    tensors,
    `${kind} with ngf ${config.ngf}, ${config.nBlocks} blocks`,
  );
  return { config, tensors };
}

/** Frees the variables of a loaded style (generator and head). */
export function disposeStyle(style: LoadedStyle): void {
  disposeParams(style.generator.params);
  if (style.head) disposeParams(style.head.params);
}

async function readBlob(
  root: string,
  blob: BlobInfo,
  index: TensorEntry[],
  what: 'generator' | 'projection head',
): Promise<Map<string, StoredTensor>> {
  return readTensorFile(root, blob, index).catch((err) => {
    if (!(err instanceof TensorFileError)) throw err;
    const code = err.reason === 'missing' ? 'missing-weights' : 'corrupt-weights';
    throw new StyleError(code, `Style ${root}: the ${what} weights are unusable: ${err.message}`);
  });
}

/** The head as style.json describes it, checked against the generator and head.json. */
async function readHead(root: string, meta: StyleMeta, h: HeadMeta): Promise<ProjectionHead> {
  const styleFile = path.join(root, STYLE_FILE);
  const taps = checkHeadMeta(styleFile, meta, h);
  const file = path.join(root, h.weights.config);
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) {
    throw new StyleError(
      'missing-weights',
      `Style ${root}: style.json names a projection head, but ${h.weights.config} is missing`,
    );
  }
  const m = parse(text, file, 'corrupt-weights') as Partial<HeadManifest> | null;
  if (m?.format !== WEIGHTS_FORMAT || m.network !== 'projection-head' || !m.blob) {
    throw new StyleError('unsupported-format', `${file}: not a ${WEIGHTS_FORMAT} head index`);
  }
  if (!Array.isArray(m.tensors)) {
    throw new StyleError('corrupt-weights', `${file}: the tensor index is missing`);
  }
  const c = m.config;
  const fits =
    c !== undefined &&
    Array.isArray(c.taps) &&
    c.taps.join() === taps.join() &&
    Array.isArray(c.channels) &&
    sameNumbers(c.channels, h.channels) &&
    c.dim === h.dim;
  if (!fits) {
    throw new StyleError(
      'shape-mismatch',
      `Style ${root}: style.json describes a projection head for taps ${taps.join(', ')} ` +
        `(widths [${h.channels}], dim ${h.dim}), but ${h.weights.config} is for ` +
        `${JSON.stringify(c ?? null)}`,
    );
  }
  const tensors = await readBlob(root, m.blob, m.tensors, 'projection head');
  const specs = projectionHeadSpecs(h.channels, h.dim);
  checkShapes(root, specs, tensors, `a projection head of widths [${h.channels}] → ${h.dim}`);
  return new ProjectionHead([...h.channels], h.dim, toParams(specs, tensors));
}

/** style.json's head entry: valid taps of this generator, their true widths, a sane dim. */
function checkHeadMeta(file: string, meta: StyleMeta, h: HeadMeta): NceTap[] {
  const bad = (why: string) =>
    new StyleError('not-a-style', `${file}: the projection head entry is invalid: ${why}`);
  if (typeof h !== 'object' || !Array.isArray(h.taps) || !Array.isArray(h.channels)) {
    throw bad('taps and channels must be lists');
  }
  if (!isPositiveInt(h.dim)) throw bad(`dim must be a positive whole number, got ${h.dim}`);
  if (typeof h.weights?.config !== 'string' || typeof h.weights?.data !== 'string') {
    throw bad('the weight file names are missing');
  }
  const taps = h.taps as unknown[];
  const { ngf, nBlocks } = meta.generator;
  for (const t of taps) {
    const m = typeof t === 'string' ? /^(input|down1|down2|res([1-9][0-9]*))$/.exec(t) : null;
    if (!m || (m[2] !== undefined && Number(m[2]) > nBlocks)) {
      throw bad(`${JSON.stringify(t)} is not a tap of a generator with ${nBlocks} blocks`);
    }
  }
  if (taps.length === 0 || new Set(taps).size !== taps.length) {
    throw bad('the taps must be one or more distinct names');
  }
  const expected = (taps as NceTap[]).map((t) => tapChannels(t, ngf));
  if (!sameNumbers(h.channels, expected)) {
    throw new StyleError(
      'shape-mismatch',
      `${file}: the projection head's widths [${h.channels}] do not fit the taps ` +
        `${taps.join(', ')} of a generator with ngf ${ngf} (widths [${expected}])`,
    );
  }
  return taps as NceTap[];
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
  if ((meta.kind as string) === 'sincut') {
    throw new StyleError(
      'unsupported-format',
      `${file}: a SinCUT style (one image pair), where a CUT style is needed; convert, watch, ` +
        `heatmaps and the studio open SinCUT styles through their own loader`,
    );
  }
  if (meta.kind !== 'cut') {
    throw new StyleError(
      'unsupported-format',
      `${file}: style kind ${JSON.stringify(meta.kind)} is unknown`,
    );
  }
  const g = meta.generator as Partial<GeneratorMeta> | undefined;
  if (!g || !isPositiveInt(g.ngf) || !isPositiveInt(g.nBlocks)) {
    throw new StyleError('not-a-style', `${file}: the generator config is missing or invalid`);
  }
  if (g.architecture !== undefined && !ARCHITECTURES.includes(g.architecture)) {
    throw new StyleError(
      'unsupported-format',
      `${file}: generator architecture ${JSON.stringify(g.architecture)} is unknown ` +
        `(this version reads ${ARCHITECTURES.join(', ')})`,
    );
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
  const arch = (meta as StyleMetaWithHead).generator.architecture ?? 'cut-resnet';
  if ((c?.architecture ?? 'cut-resnet') !== arch) {
    throw new StyleError(
      'shape-mismatch',
      `Style ${root}: style.json describes a ${arch} generator, but the weights are for ` +
        `${c?.architecture ?? 'cut-resnet'}`,
    );
  }
  if (c?.ngf !== meta.generator.ngf || c?.nBlocks !== meta.generator.nBlocks) {
    throw new StyleError(
      'shape-mismatch',
      `Style ${root}: style.json describes ngf ${meta.generator.ngf}, ${meta.generator.nBlocks} ` +
        `blocks, but the weights are for ngf ${c?.ngf}, ${c?.nBlocks} blocks`,
    );
  }
  return w as WeightsManifest;
}

/** Every parameter the specs name, with exactly its shape, and nothing else. */
function checkShapes(
  root: string,
  specs: ParamSpec[],
  tensors: Map<string, StoredTensor>,
  what: string,
) {
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
      `Style ${root}: the weights do not fit ${what}: ${problems.slice(0, 3).join('; ')}${more}`,
    );
  }
}

/** Inference-only variables keyed by the reference's names. */
function toParams(specs: ParamSpec[], tensors: Map<string, StoredTensor>): ParamSet {
  const params: ParamSet = new Map();
  for (const s of specs) {
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

function sameNumbers(a: unknown[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function isPositiveInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 1)}\n`;
}
