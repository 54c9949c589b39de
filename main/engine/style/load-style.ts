/**
 * Reading a CUT-family style folder (layout: save-style.ts) back into networks. style.json is
 * read and validated by main/style; this file checks the weights against it, and every way
 * the folder can be unusable is a StyleError naming the problem.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { NceTap } from '../../../shared/options';
import { StyleError } from '../../style/style-error';
import { cutArchitecture, readStyleMeta } from '../../style/style-folder';
import {
  STYLE_FILES,
  type CutArchitecture,
  type CutStyleMeta,
  type HeadMeta,
} from '../../style/style-json';
import {
  generatorSpecs,
  ResnetGenerator,
  tapChannels,
  type GeneratorConfig,
} from '../model/generator';
import { makeGenerator, specsFor, type StyleGenerator } from '../model/style-generator';
import { disposeParams, type ParamSet, type ParamSpec } from '../model/params';
import { ProjectionHead, projectionHeadSpecs } from '../model/projection-head';
import {
  readJson,
  readTensorFile,
  TensorFileError,
  type BlobInfo,
  type StoredTensor,
  type TensorEntry,
} from '../tensor-file';
import {
  sameNumbers,
  WEIGHTS_FORMAT,
  type HeadManifest,
  type WeightsManifest,
} from './weights-index';

export interface LoadedStyle {
  meta: CutStyleMeta;
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
  const meta = await readCutStyleMeta(root);
  const architecture = cutArchitecture(meta);
  if (architecture !== 'cut-resnet') {
    throw new StyleError(
      'unsupported-format',
      `Style ${root} holds a ${architecture} generator (imported); only conversion and export ` +
        'can use it, not heatmaps or training',
    );
  }
  const { config, tensors } = await readGeneratorWeights(root, meta, architecture);
  const headMeta = meta.head;
  let head: ProjectionHead | null = null;
  let headTaps: NceTap[] = [];
  if (headMeta !== undefined && headMeta !== null && opts.head !== false) {
    headTaps = checkHeadMeta(path.join(root, STYLE_FILES.meta), meta, headMeta);
    head = await readHead(root, headMeta);
  }
  const generator = new ResnetGenerator(config, toParams(generatorSpecs(config), tensors));
  return { meta, generator, head, headTaps };
}

export interface LoadedGenerator {
  meta: CutStyleMeta;
  architecture: CutArchitecture;
  generator: StyleGenerator;
}

/** Only the generator of a style, whatever its architecture (conversion, export). */
export async function loadStyleGenerator(dir: string): Promise<LoadedGenerator> {
  const root = path.resolve(dir);
  const meta = await readCutStyleMeta(root);
  const architecture = cutArchitecture(meta);
  const { config, tensors } = await readGeneratorWeights(root, meta, architecture);
  const params = toParams(specsFor(architecture, config), tensors);
  return { meta, architecture, generator: makeGenerator(architecture, config, params) };
}

/** style.json of a CUT-family style; a SinCUT style is refused with where it does open. */
async function readCutStyleMeta(root: string): Promise<CutStyleMeta> {
  const meta = await readStyleMeta(root);
  if (meta.kind === 'sincut') {
    throw new StyleError(
      'unsupported-format',
      `${path.join(root, STYLE_FILES.meta)}: a SinCUT style (one image pair), where a CUT style ` +
        'is needed; convert, watch, heatmaps and the studio open SinCUT styles through their ' +
        'own loader',
    );
  }
  return meta;
}

async function readGeneratorWeights(
  root: string,
  meta: CutStyleMeta,
  architecture: CutArchitecture,
) {
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
async function readHead(root: string, h: HeadMeta): Promise<ProjectionHead> {
  const taps = h.taps;
  const file = path.join(root, h.weights.config);
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) {
    throw new StyleError(
      'missing-weights',
      `Style ${root}: style.json names a projection head, but ${h.weights.config} is missing`,
    );
  }
  const m = parseIndex(text, file) as Partial<HeadManifest> | null;
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

/**
 * style.json's head entry (its shape checked by main/style): taps of this generator, distinct,
 * with their true widths.
 */
function checkHeadMeta(file: string, meta: CutStyleMeta, h: HeadMeta): NceTap[] {
  const bad = (why: string) =>
    new StyleError('not-a-style', `${file}: the projection head entry is invalid: ${why}`);
  const taps = h.taps;
  const { ngf, nBlocks } = meta.generator;
  for (const t of taps) {
    const m = /^(input|down1|down2|res([1-9][0-9]*))$/.exec(t);
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

async function readWeightsManifest(root: string, meta: CutStyleMeta): Promise<WeightsManifest> {
  const file = path.join(root, STYLE_FILES.weightsConfig);
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) {
    throw new StyleError(
      'missing-weights',
      `Style ${root} has no generator weights (${STYLE_FILES.weightsConfig})`,
    );
  }
  const w = parseIndex(text, file) as Partial<WeightsManifest> | null;
  if (w?.format !== WEIGHTS_FORMAT || !w.blob || !Array.isArray(w.tensors)) {
    throw new StyleError('unsupported-format', `${file}: not a ${WEIGHTS_FORMAT} index`);
  }
  const c = w.config;
  const arch = cutArchitecture(meta);
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

/** A weights index (generator.json, head.json) that is not JSON is damaged weights. */
function parseIndex(text: string, file: string): unknown {
  try {
    return readJson(text, file);
  } catch (err) {
    throw new StyleError('corrupt-weights', (err as Error).message);
  }
}
