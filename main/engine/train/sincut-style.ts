/**
 * SinCUT's style folder and checkpoints. A SinCUT style has the layout of every style —
 * style.json (kind 'sincut', the resolved SinCUT options, the generator's architecture and
 * widths, a training summary), generator.json + generator.bin, head.json + head.bin,
 * previews — and a checkpoint adds D, every Adam state and the sampling stream's state, so a
 * resumed run continues where it stopped.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { STYLE_FORMAT, type TrainingSummary } from '../../../shared/jobs';
import { validateSinCutOptions, type NceTap, type SinCutOptions } from '../../../shared/options';
import { encodeImage } from '../data/image-io';
import { ProjectionHead } from '../model/projection-head';
import { disposeParams, type ParamSet } from '../model/params';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import type { RngState } from '../rng';
import {
  nodeWriter,
  readJson,
  readTensorFile,
  replaceDir,
  TensorFileError,
  writeTensorFile,
  type BlobInfo,
  type TensorEntry,
} from './checkpoint';
import {
  createGenerator,
  sincutTapChannels,
  SinCutModel,
  type SinCutGenerator,
} from './sincut-model';
import { Rng } from '../rng';
import { StyleError } from './style';

export const SINCUT_ARCHITECTURE = 'sincut-stylegan2';

export interface SinCutStyleMeta {
  format: typeof STYLE_FORMAT;
  kind: 'sincut';
  name: string;
  preset: 'sincut';
  options: SinCutOptions;
  generator: {
    architecture: typeof SINCUT_ARCHITECTURE | 'cut-resnet';
    ngf: number;
    nBlocks: number;
    /** StyleGAN2 widths at full and half resolution. */
    c0?: number;
    c1?: number;
  };
  training: TrainingSummary;
  created: string;
  weights: { config: string; data: string };
  head: {
    taps: NceTap[];
    channels: number[];
    dim: number;
    weights: { config: string; data: string };
  };
  /** Seed of the position-based noise used at inference. */
  noiseSeed: number;
  thumbnail: string | null;
  previews: { source: string; output: string }[];
}

interface TensorManifest {
  format: 'patchwork-weights-1';
  network: string;
  layout: 'tfjs-nhwc';
  blob: BlobInfo;
  tensors: TensorEntry[];
}

const json = (v: unknown) => `${JSON.stringify(v, null, 1)}\n`;

async function writeTensors(dir: string, stem: string, network: string, params: ParamSet) {
  const tensors = [...params].map(([name, tensor]) => ({ name, tensor: tensor as tf.Tensor }));
  const { blob, index } = await writeTensorFile(nodeWriter, path.join(dir, `${stem}.bin`), tensors);
  const manifest: TensorManifest = {
    format: 'patchwork-weights-1',
    network,
    layout: 'tfjs-nhwc',
    blob,
    tensors: index,
  };
  await fs.writeFile(path.join(dir, `${stem}.json`), json(manifest));
}

async function readTensors(dir: string, stem: string) {
  const manifest = readJson(
    await fs.readFile(path.join(dir, `${stem}.json`), 'utf8'),
    `${stem}.json`,
  ) as TensorManifest;
  return readTensorFile(dir, manifest.blob, manifest.tensors);
}

/** Copies stored values into `params`; every parameter must be there with its shape. */
function assign(
  params: ParamSet,
  stored: Map<string, { shape: number[]; data: Float32Array }>,
  what: string,
) {
  for (const [name, v] of params) {
    const s = stored.get(name);
    if (!s || !tf.util.arraysEqual(s.shape, v.shape)) {
      throw new Error(`${what}: ${name} is missing or has another shape than the options say`);
    }
    tf.tidy(() => v.assign(tf.tensor(s.data, s.shape)));
  }
}

export interface SinCutPreviewImage {
  rgb: Float32Array;
  width: number;
  height: number;
}

export async function saveSinCutStyle(
  dir: string,
  input: {
    name: string;
    model: SinCutModel;
    training: TrainingSummary;
    preview: { source: SinCutPreviewImage; output: SinCutPreviewImage } | null;
    noiseSeed: number;
  },
): Promise<SinCutStyleMeta> {
  const final = path.resolve(dir);
  const temp = path.join(path.dirname(final), `.${path.basename(final)}.${randomUUID()}.tmp`);
  const { model } = input;
  const o = model.opts;
  try {
    await fs.mkdir(path.join(temp, 'previews'), { recursive: true });
    await writeTensors(temp, 'generator', `sincut-${o.netG}-generator`, model.G.params);
    await writeTensors(temp, 'head', 'projection-head', model.H.params);
    const previews: SinCutStyleMeta['previews'] = [];
    if (input.preview) {
      for (const [k, img] of Object.entries(input.preview)) {
        const file = `previews/00-${k}.png`;
        const png = await encodeImage(img.rgb, img.width, img.height, { format: 'png' });
        await fs.writeFile(path.join(temp, file), png.data);
      }
      previews.push({ source: 'previews/00-source.png', output: 'previews/00-output.png' });
    }
    const widths = model.G instanceof StyleGan2Generator ? model.G.config : null;
    const meta: SinCutStyleMeta = {
      format: STYLE_FORMAT,
      kind: 'sincut',
      name: input.name,
      preset: 'sincut',
      options: o,
      generator: {
        architecture: o.netG === 'stylegan2' ? SINCUT_ARCHITECTURE : 'cut-resnet',
        ngf: o.ngf,
        nBlocks: o.nBlocks,
        ...(widths ? { c0: widths.c0, c1: widths.c1 } : {}),
      },
      training: input.training,
      created: new Date().toISOString(),
      weights: { config: 'generator.json', data: 'generator.bin' },
      head: {
        taps: model.taps,
        channels: model.H.tapChannels,
        dim: model.H.dim,
        weights: { config: 'head.json', data: 'head.bin' },
      },
      noiseSeed: input.noiseSeed,
      thumbnail: previews.length ? previews[0].output : null,
      previews,
    };
    await fs.writeFile(path.join(temp, 'style.json'), json(meta));
    await replaceDir(temp, final);
    return meta;
  } catch (err) {
    await fs.rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** Whether a style folder holds a SinCUT style (without loading its weights). */
export async function isSinCutStyle(dir: string): Promise<boolean> {
  try {
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'style.json'), 'utf8')) as {
      kind?: string;
    };
    return meta.kind === 'sincut';
  } catch {
    return false;
  }
}

export interface LoadedSinCutStyle {
  meta: SinCutStyleMeta;
  generator: SinCutGenerator;
  head: ProjectionHead;
}

/**
 * Reads a SinCUT style folder. Every way it can be unusable — no folder, an unreadable
 * style.json, invalid options, missing or damaged weights, weights of another shape — is a
 * StyleError naming the folder and the problem. The caller disposes the generator's and the
 * head's parameters.
 */
export async function loadSinCutStyle(dir: string): Promise<LoadedSinCutStyle> {
  const root = path.resolve(dir);
  const file = path.join(root, 'style.json');
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    const what = err.code === 'ENOENT' ? 'no style.json' : `style.json unreadable: ${err.message}`;
    throw new StyleError('not-a-style', `${root} is not a usable style folder (${what})`);
  });
  let meta: SinCutStyleMeta;
  let opts: SinCutOptions;
  try {
    meta = readJson(text, 'style.json') as SinCutStyleMeta;
    if (meta?.kind !== 'sincut') throw new Error('its kind is not "sincut"');
    opts = validateSinCutOptions(meta.options);
  } catch (err) {
    throw new StyleError(
      'not-a-style',
      `${file}: not a usable SinCUT style (${(err as Error).message})`,
      { cause: err },
    );
  }
  const generator = createGenerator(opts, new Rng(0));
  const channels = opts.nceTaps.map((t) => sincutTapChannels(opts, t as NceTap));
  const head = ProjectionHead.create(channels, opts.projectionDim, 0.02, new Rng(0));
  try {
    assign(generator.params, await readStyleTensors(root, 'generator'), `${root}: the generator`);
    assign(head.params, await readStyleTensors(root, 'head'), `${root}: the projection head`);
  } catch (err) {
    disposeParams(generator.params);
    disposeParams(head.params);
    if (err instanceof StyleError) throw err;
    throw new StyleError('shape-mismatch', (err as Error).message, { cause: err });
  }
  return { meta: { ...meta, options: opts }, generator, head };
}

/** A style's tensor file; a missing or damaged one is a StyleError. */
async function readStyleTensors(root: string, stem: 'generator' | 'head') {
  const what = stem === 'head' ? 'projection head' : 'generator';
  try {
    return await readTensors(root, stem);
  } catch (err) {
    const missing =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ||
      (err instanceof TensorFileError && err.reason === 'missing');
    throw new StyleError(
      missing ? 'missing-weights' : 'corrupt-weights',
      `Style ${root}: the ${what} weights are unusable: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

// ─── checkpoints ─────────────────────────────────────────────────────────────────────────────

export interface SinCutState {
  format: 'patchwork-sincut-checkpoint-1';
  options: SinCutOptions;
  iteration: number;
  epoch: number;
  rng: RngState;
  adamSteps: { G: number; D: number; H: number };
  elapsedSeconds: number;
  losses: Record<string, number | null> | null;
}

/** Writes `dir` (replacing it atomically): every weight, every Adam moment, the state. */
export async function saveSinCutCheckpoint(
  dir: string,
  model: SinCutModel,
  state: Omit<SinCutState, 'format' | 'options' | 'adamSteps'>,
): Promise<void> {
  const final = path.resolve(dir);
  const temp = path.join(path.dirname(final), `.${path.basename(final)}.${randomUUID()}.tmp`);
  await fs.mkdir(temp, { recursive: true });
  const all: ParamSet = new Map();
  const nets = model.networks();
  const opts = { G: model.optG, D: model.optD, H: model.optH };
  for (const net of ['G', 'D', 'H'] as const) {
    for (const [n, v] of nets[net]) all.set(`${net}.${n}`, v);
    for (const [n, v] of opts[net].m) all.set(`${net}.adam_m.${n}`, v);
    for (const [n, v] of opts[net].v) all.set(`${net}.adam_v.${n}`, v);
  }
  try {
    await writeTensors(temp, 'weights', 'sincut-checkpoint', all);
    const full: SinCutState = {
      format: 'patchwork-sincut-checkpoint-1',
      options: model.opts,
      adamSteps: { G: model.optG.step, D: model.optD.step, H: model.optH.step },
      ...state,
    };
    await fs.writeFile(path.join(temp, 'state.json'), json(full));
    await replaceDir(temp, final);
  } catch (err) {
    await fs.rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** A model and state from a checkpoint folder; null when there is none. */
export async function loadSinCutCheckpoint(
  dir: string,
): Promise<{ model: SinCutModel; state: SinCutState } | null> {
  const root = path.resolve(dir);
  let text: string;
  try {
    text = await fs.readFile(path.join(root, 'state.json'), 'utf8');
  } catch {
    return null;
  }
  const state = readJson(text, 'state.json') as SinCutState;
  const opts = validateSinCutOptions(state.options);
  const stored = await readTensors(root, 'weights');
  const model = SinCutModel.create(opts);
  try {
    const sub = (prefix: string) =>
      new Map(
        [...stored]
          .filter(([n]) => n.startsWith(prefix))
          .map(([n, v]) => [n.slice(prefix.length), v]),
      );
    const nets = model.networks();
    const adams = { G: model.optG, D: model.optD, H: model.optH };
    for (const net of ['G', 'D', 'H'] as const) {
      assign(nets[net], sub(`${net}.`), `checkpoint ${net}`);
      assign(adams[net].m, sub(`${net}.adam_m.`), `checkpoint ${net} Adam`);
      assign(adams[net].v, sub(`${net}.adam_v.`), `checkpoint ${net} Adam`);
      adams[net].step = state.adamSteps[net];
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, state: { ...state, options: opts } };
}
