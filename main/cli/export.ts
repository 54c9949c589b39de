/**
 * `patchwork export STYLE_DIR --format pth|onnx --out FILE`: a style's generator leaves
 * Patchwork as a PyTorch state dict (torch.save zip format, the reference's key names and
 * layouts), so the reference code loads it with `load_state_dict`, or as an ONNX model
 * (opset 17, dynamic batch, height and width; sides multiples of 4). A SinCUT style exports
 * when it was trained with CUT's ResNet generator; its StyleGAN2 generator is refused.
 *
 * Exit codes: 0 written; 1 the style is unusable or the file cannot be written; 2 usage.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { initBackend } from '../engine/backend';
import { writeFileAtomic } from '../engine/data/image-io';
import { exportOnnx, ONNX_OPSET } from '../engine/export/onnx-export';
import { exportPth } from '../engine/export/pth-export';
import type { StyleGenerator } from '../engine/model/style-generator';
import { ResnetGenerator } from '../engine/model/generator';
import { disposeParams } from '../engine/model/params';
import { isSinCutStyle, loadSinCutStyle } from '../engine/train/sincut-style';
import { loadStyleGenerator, StyleError } from '../engine/train/style';
import { oneOf } from './args';
import { EXIT } from './errors';

const FORMATS = ['pth', 'onnx'] as const;

interface ExportFlags {
  format: (typeof FORMATS)[number];
  out: string;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('Export a style’s generator: a PyTorch state dict (.pth) or an ONNX model.')
    .argument('<style>', 'the style folder')
    .option('--format <name>', `${FORMATS.join(' or ')}`, oneOf('--format', FORMATS), 'pth')
    .requiredOption('--out <file>', 'the file to write')
    .action(async (style: string, flags: ExportFlags) => {
      process.exitCode = await runExport(style, flags);
    });
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
  if (!(await isSinCutStyle(style))) {
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

async function runExport(style: string, flags: ExportFlags): Promise<number> {
  // Only weights move here, read back synchronously: the plain JavaScript backend does that
  // everywhere (a GPU backend would need asynchronous reads for no gain).
  await initBackend('cpu');
  const loaded = await loadForExport(style);
  try {
    const bytes =
      flags.format === 'onnx'
        ? exportOnnx(loaded.generator)
        : exportPth(loaded.generator, flags.out);
    await writeFileAtomic(flags.out, bytes);
    const { ngf, nBlocks } = loaded.generator.config;
    process.stdout.write(
      `exported ${loaded.name} (${loaded.architecture}, ngf ${ngf}, ${nBlocks} blocks) → ` +
        `${path.resolve(flags.out)}\n`,
    );
    if (flags.format === 'onnx') {
      process.stdout.write(
        `ONNX opset ${ONNX_OPSET}: input "input" [N, 3, H, W] in [-1, 1], output "output"; ` +
          'H and W must be multiples of 4 (reflect-pad, then crop)\n',
      );
    }
    return EXIT.ok;
  } finally {
    disposeParams(loaded.generator.params);
  }
}
