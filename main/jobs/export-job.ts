/**
 * The export job (`patchwork export`): a style's generator as a PyTorch state dict
 * (torch.save zip format, the reference's key names and layouts) or an ONNX model (opset 17,
 * dynamic batch, height and width; sides multiples of 4), written atomically. A SinCUT style
 * trained with CUT's ResNet generator exports as CUT's does; its StyleGAN2 generator exports as
 * ONNX (with a noise input, sides even: onnx-stylegan2.ts) and is refused as .pth with the
 * reason.
 */
import path from 'node:path';
import { initBackend } from '../engine/backend';
import { exportOnnx, ONNX_OPSET, type ExportableGenerator } from '../engine/export/onnx-export';
import { exportPth } from '../engine/export/pth-export';
import { StyleGan2Generator } from '../engine/model/stylegan2-generator';
import { ResnetGenerator } from '../engine/model/generator';
import { disposeParams } from '../engine/model/params';
import { loadStyleGenerator } from '../engine/style/load-style';
import { loadSinCutStyle } from '../engine/style/sincut-style';
import { StyleError } from '../style/style-error';
import { readStyleMeta } from '../style/style-folder';
import { writeFileAtomic } from '../engine/data/image-io';

export const EXPORT_FORMATS = ['pth', 'onnx'] as const;
export { ONNX_OPSET };

export interface ExportJobSpec {
  styleDir: string;
  format: (typeof EXPORT_FORMATS)[number];
  out: string;
}

export interface ExportJobResult {
  name: string;
  architecture: string;
  ngf: number;
  nBlocks: number;
  /** The file written (absolute). */
  file: string;
  /** For ONNX: the model's inputs and outputs, in words. */
  onnxIo?: string;
}

const ONNX_IO_RESNET =
  'input "input" [N, 3, H, W] in [-1, 1], output "output"; H and W must be multiples of 4 ' +
  '(reflect-pad, then crop)';
const ONNX_IO_STYLEGAN2 =
  'inputs "input" [N, 3, H, W] in [-1, 1] and "noise" [N, 1, H, W] (a standard normal per ' +
  'pixel, zeros for none), output "output" (clamp to [-1, 1]); H and W must be even';

/**
 * The generator to export: a CUT or CycleGAN style's; a SinCUT style's (its ResNet variant is
 * the same network as CUT's, with the same key names). SinCUT's StyleGAN2 generator has no
 * state dict of the reference's layout here: as .pth it is refused with the reason.
 */
async function loadForExport(
  style: string,
  format: ExportJobSpec['format'],
): Promise<{
  name: string;
  architecture: string;
  ngf: number;
  generator: ExportableGenerator;
}> {
  if ((await readStyleMeta(style)).kind === 'cut') {
    const loaded = await loadStyleGenerator(style);
    return { name: loaded.meta.name, ngf: loaded.generator.config.ngf, ...loaded };
  }
  const sincut = await loadSinCutStyle(style);
  disposeParams(sincut.head.params);
  const G = sincut.generator;
  const { name, options } = sincut.meta;
  if (G instanceof ResnetGenerator) {
    return { name, architecture: 'sincut, cut-resnet', ngf: options.ngf, generator: G };
  }
  if (format === 'onnx') {
    return { name, architecture: 'sincut, stylegan2', ngf: options.ngf, generator: G };
  }
  disposeParams(G.params);
  throw new StyleError(
    'unsupported-format',
    `${path.resolve(style)} is a SinCUT style with the StyleGAN2 generator, which .pth export ` +
      'does not cover (state dicts are written for CUT’s ResNet and CycleGAN generators, and ' +
      'for SinCUT styles trained with --generator resnet). Export it with --format onnx.',
  );
}

export async function runExportJob(spec: ExportJobSpec): Promise<ExportJobResult> {
  // Only weights move here, read back synchronously: the plain JavaScript backend does that
  // everywhere (a GPU backend would need asynchronous reads for no gain).
  await initBackend('cpu');
  const loaded = await loadForExport(spec.styleDir, spec.format);
  try {
    const G = loaded.generator;
    let bytes: Buffer;
    if (spec.format === 'onnx') bytes = exportOnnx(G);
    else if (G instanceof StyleGan2Generator) throw new Error('unreachable: refused above');
    else bytes = exportPth(G, spec.out);
    await writeFileAtomic(spec.out, bytes);
    const { nBlocks } = G.config;
    const { name, architecture, ngf } = loaded;
    const file = path.resolve(spec.out);
    if (spec.format === 'pth') return { name, architecture, ngf, nBlocks, file };
    const onnxIo = G instanceof StyleGan2Generator ? ONNX_IO_STYLEGAN2 : ONNX_IO_RESNET;
    return { name, architecture, ngf, nBlocks, file, onnxIo };
  } finally {
    disposeParams(loaded.generator.params);
  }
}
