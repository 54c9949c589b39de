/**
 * A SinCUT style folder: the layout of every style — style.json (kind 'sincut', the resolved
 * SinCUT options, the generator's architecture and widths, a training summary; its schema in
 * main/style), generator.json + generator.bin, head.json + head.bin, previews — written by
 * SinCUT training and read back for conversion, heatmaps and export.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { TrainingSummary } from '../../../shared/jobs';
import type { NceTap, SinCutOptions } from '../../../shared/options';
import { StyleError } from '../../style/style-error';
import { readStyleMeta } from '../../style/style-folder';
import {
  SINCUT_ARCHITECTURE,
  STYLE_FILES,
  STYLE_FORMAT,
  styleJsonText,
  type SinCutStyleMeta,
} from '../../style/style-json';
import { encodeImage } from '../data/image-io';
import { ProjectionHead } from '../model/projection-head';
import { disposeParams } from '../model/params';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import { Rng } from '../rng';
import { replaceDir, TensorFileError } from '../tensor-file';
import {
  createGenerator,
  sincutTapChannels,
  type SinCutGenerator,
} from '../model/sincut-generator';
import { assignParams, readTensors, writeTensors } from './weights-index';

/** The trained parts a SinCUT style keeps: G, H, their taps and the options they came from. */
export interface SavedSinCutNetworks {
  opts: SinCutOptions;
  G: SinCutGenerator;
  H: ProjectionHead;
  taps: NceTap[];
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
    /** What a style keeps of the trained networks (a SinCutModel has it). */
    model: SavedSinCutNetworks;
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
    await fs.mkdir(path.join(temp, STYLE_FILES.previews), { recursive: true });
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
      weights: { config: STYLE_FILES.weightsConfig, data: STYLE_FILES.weightsData },
      head: {
        taps: model.taps,
        channels: model.H.tapChannels,
        dim: model.H.dim,
        weights: { config: STYLE_FILES.headConfig, data: STYLE_FILES.headData },
      },
      noiseSeed: input.noiseSeed,
      thumbnail: previews.length ? previews[0].output : null,
      previews,
    };
    await fs.writeFile(path.join(temp, STYLE_FILES.meta), styleJsonText(meta));
    await replaceDir(temp, final);
    return meta;
  } catch (err) {
    await fs.rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

export interface LoadedSinCutStyle {
  meta: SinCutStyleMeta;
  generator: SinCutGenerator;
  head: ProjectionHead;
}

/**
 * Reads a SinCUT style folder. Every way it can be unusable — no folder, an unreadable
 * style.json, invalid options (main/style), missing or damaged weights, weights of another
 * shape — is a StyleError naming the folder and the problem. The caller disposes the
 * generator's and the head's parameters.
 */
export async function loadSinCutStyle(dir: string): Promise<LoadedSinCutStyle> {
  const root = path.resolve(dir);
  const meta = await readStyleMeta(root);
  if (meta.kind !== 'sincut') {
    throw new StyleError(
      'not-a-style',
      `${path.join(root, STYLE_FILES.meta)}: not a usable SinCUT style (its kind is not "sincut")`,
    );
  }
  const opts = meta.options;
  const generator = createGenerator(opts, new Rng(0));
  const channels = opts.nceTaps.map((t) => sincutTapChannels(opts, t as NceTap));
  const head = ProjectionHead.create(channels, opts.projectionDim, 0.02, new Rng(0));
  try {
    const g = await readStyleTensors(root, 'generator');
    assignParams(generator.params, g, `${root}: the generator`);
    const h = await readStyleTensors(root, 'head');
    assignParams(head.params, h, `${root}: the projection head`);
  } catch (err) {
    disposeParams(generator.params);
    disposeParams(head.params);
    if (err instanceof StyleError) throw err;
    throw new StyleError('shape-mismatch', (err as Error).message, { cause: err });
  }
  return { meta, generator, head };
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
