/**
 * The export job (`patchwork export`): a style's generator as a PyTorch state dict
 * (torch.save zip format, the reference's key names and layouts) or an ONNX model (opset 17,
 * dynamic batch, height and width; sides multiples of 4), written atomically. A SinCUT style
 * exports when it was trained with CUT's ResNet generator; its StyleGAN2 generator is refused
 * with the reason.
 */
import path from 'node:path';
import { initBackend } from '../engine/backend';
import { exportOnnx, ONNX_OPSET } from '../engine/export/onnx-export';
import { exportPth } from '../engine/export/pth-export';
import type { StyleGenerator } from '../engine/model/style-generator';
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
}

/**
 * The generator to export: a CUT or CycleGAN style's; a SinCUT style's when it was trained
 * with CUT's ResNet generator (the same network, the same key names). SinCUT's StyleGAN2
 * generator has no exporter: refused with the reason.
 */
async function loadForExport(style: string): Promise<{
  name: string;
  architecture: string;
  generator: StyleGenerator;
}> {
  if ((await readStyleMeta(style)).kind === 'cut') {
    const loaded = await loadStyleGenerator(style);
    return { name: loaded.meta.name, ...loaded };
  }
  const sincut = await loadSinCutStyle(style);
  disposeParams(sincut.head.params);
  const G = sincut.generator;
  if (G instanceof ResnetGenerator) {
    return { name: sincut.meta.name, architecture: 'sincut, cut-resnet', generator: G };
  }
  disposeParams(G.params);
  throw new StyleError(
    'unsupported-format',
    `${path.resolve(style)} is a SinCUT style with the StyleGAN2 generator, which export does ` +
      'not cover (.pth and .onnx are written for CUT’s ResNet and CycleGAN generators, and ' +
      'for SinCUT styles trained with --generator resnet). Inside Patchwork it converts ' +
      '(`patchwork convert`) and shows heatmaps (`patchwork heatmap`) like any style.',
  );
}

export async function runExportJob(spec: ExportJobSpec): Promise<ExportJobResult> {
  // Only weights move here, read back synchronously: the plain JavaScript backend does that
  // everywhere (a GPU backend would need asynchronous reads for no gain).
  await initBackend('cpu');
  const loaded = await loadForExport(spec.styleDir);
  try {
    const bytes =
      spec.format === 'onnx' ? exportOnnx(loaded.generator) : exportPth(loaded.generator, spec.out);
    await writeFileAtomic(spec.out, bytes);
    const { ngf, nBlocks } = loaded.generator.config;
    const { name, architecture } = loaded;
    return { name, architecture, ngf, nBlocks, file: path.resolve(spec.out) };
  } finally {
    disposeParams(loaded.generator.params);
  }
}
