/**
 * The weights files of a style folder: generator.json / head.json index the float32 blobs
 * generator.bin / head.bin (the reference's state-dict names, TF layouts, sha256 of the
 * blob). Shared by CUT-family and SinCUT styles and by SinCUT checkpoints, which store their
 * tensors the same way.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { NceTap } from '../../../shared/options';
import type { CutArchitecture } from '../../style/style-json';
import type { ParamSet } from '../model/params';
import {
  nodeWriter,
  readJson,
  readTensorFile,
  writeTensorFile,
  type BlobInfo,
  type TensorEntry,
} from '../tensor-file';

export const WEIGHTS_FORMAT = 'patchwork-weights-1';

/** A CUT-family generator's index (generator.json). */
export interface WeightsManifest {
  format: typeof WEIGHTS_FORMAT;
  network: 'resnet-generator';
  layout: 'tfjs-nhwc';
  /** `architecture` absent: 'cut-resnet'. */
  config: { ngf: number; nBlocks: number; architecture?: CutArchitecture };
  blob: BlobInfo;
  tensors: TensorEntry[];
}

/** A CUT style's projection head index (head.json). */
export interface HeadManifest {
  format: typeof WEIGHTS_FORMAT;
  network: 'projection-head';
  layout: 'tfjs-nhwc';
  config: { taps: NceTap[]; channels: number[]; dim: number };
  blob: BlobInfo;
  tensors: TensorEntry[];
}

/** The index SinCUT writes for any parameter set (its generator, head and checkpoints). */
interface TensorManifest {
  format: typeof WEIGHTS_FORMAT;
  network: string;
  layout: 'tfjs-nhwc';
  blob: BlobInfo;
  tensors: TensorEntry[];
}

export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 1)}\n`;
}

/** Writes `<stem>.bin` and its index `<stem>.json` in `dir`. */
export async function writeTensors(dir: string, stem: string, network: string, params: ParamSet) {
  const tensors = [...params].map(([name, tensor]) => ({ name, tensor: tensor as tf.Tensor }));
  const { blob, index } = await writeTensorFile(nodeWriter, path.join(dir, `${stem}.bin`), tensors);
  const manifest: TensorManifest = {
    format: WEIGHTS_FORMAT,
    network,
    layout: 'tfjs-nhwc',
    blob,
    tensors: index,
  };
  await fs.writeFile(path.join(dir, `${stem}.json`), jsonText(manifest));
}

/** Reads what writeTensors wrote. */
export async function readTensors(dir: string, stem: string) {
  const manifest = readJson(
    await fs.readFile(path.join(dir, `${stem}.json`), 'utf8'),
    `${stem}.json`,
  ) as TensorManifest;
  return readTensorFile(dir, manifest.blob, manifest.tensors);
}

/** Copies stored values into `params`; every parameter must be there with its shape. */
export function assignParams(
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

export function sameNumbers(a: unknown[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
