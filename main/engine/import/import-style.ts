/**
 * A reference generator checkpoint (`latest_net_G.pth`) becomes a style folder: read the
 * file safely, recognise the generator, and save it as a style without D or H (conversion
 * works; heatmaps fall back to raw features; only G is there to fine-tune from).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { CutStyleMeta } from '../../style/style-json';
import { resolveTrainOptions, type Preset } from '../../../shared/options';
import { makeGenerator, specsFor, type StyleGenerator } from '../model/style-generator';
import { disposeParams, type ParamSet } from '../model/params';
import { saveStyle } from '../style/save-style';
import { PthError, readPth } from './pth';
import { recognizeGenerator, type RecognizedGenerator } from './recognize';

export interface ImportOptions {
  name: string;
  /** The style folder to write (replaced if it exists). */
  out: string;
  /** Recorded in style.json for fine-tuning; the file does not say which it was. */
  preset?: Preset;
}

export interface ImportResult {
  meta: CutStyleMeta;
  dir: string;
  recognized: Omit<RecognizedGenerator, 'tensors'>;
}

/** Reads and recognises a checkpoint file; every failure is a PthError saying why. */
export async function readGeneratorCheckpoint(file: string): Promise<RecognizedGenerator> {
  const bytes = await fs.readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new PthError(
      'not-a-checkpoint',
      err.code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${err.message}`,
    );
  });
  return recognizeGenerator(readPth(bytes));
}

/** Inference variables for recognised weights. */
export function generatorFromRecognized(r: RecognizedGenerator): StyleGenerator {
  const params: ParamSet = new Map();
  for (const s of specsFor(r.architecture, r.config)) {
    const t = r.tensors.get(s.name);
    if (!t) throw new PthError('not-a-checkpoint', `${s.name} is missing`);
    params.set(
      s.name,
      tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape, 'float32'), false)),
    );
  }
  return makeGenerator(r.architecture, r.config, params);
}

export async function importCheckpoint(file: string, opts: ImportOptions): Promise<ImportResult> {
  const recognized = await readGeneratorCheckpoint(file);
  const generator = generatorFromRecognized(recognized);
  try {
    const { ngf, nBlocks } = recognized.config;
    const options = resolveTrainOptions({ preset: opts.preset ?? 'cut', ngf, nBlocks });
    const meta = await saveStyle(opts.out, {
      name: opts.name,
      options,
      generator,
      head: null,
      training: {
        iterations: 0,
        epochs: 0,
        durationSeconds: 0,
        finalLosses: null,
        backend: `imported from ${path.basename(file)} (${recognized.architecture})`,
        status: 'completed',
        datasetSizes: { source: 0, target: 0 },
      },
      previews: [],
    });
    const { architecture, config, notes } = recognized;
    return { meta, dir: path.resolve(opts.out), recognized: { architecture, config, notes } };
  } finally {
    disposeParams(generator.params);
  }
}
