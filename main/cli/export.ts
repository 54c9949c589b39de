/**
 * `patchwork export STYLE_DIR --format pth --out FILE`: a style's generator leaves Patchwork
 * as a PyTorch state dict (torch.save zip format, the reference's key names and layouts), so
 * the reference code loads it with `load_state_dict`. ONNX is not written yet.
 *
 * Exit codes: 0 written; 1 the style is unusable or the file cannot be written; 2 usage.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { initBackend } from '../engine/backend';
import { writeFileAtomic } from '../engine/data/image-io';
import { exportPth } from '../engine/export/pth-export';
import { disposeParams } from '../engine/model/params';
import { loadStyleGenerator } from '../engine/train/style';
import { oneOf } from './args';
import { EXIT, UsageError } from './errors';

const FORMATS = ['pth', 'onnx'] as const;

interface ExportFlags {
  format: (typeof FORMATS)[number];
  out: string;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('Export a style’s generator for PyTorch (a state dict .pth).')
    .argument('<style>', 'the style folder')
    .option('--format <name>', `pth (onnx is planned)`, oneOf('--format', FORMATS), 'pth')
    .requiredOption('--out <file>', 'the file to write')
    .action(async (style: string, flags: ExportFlags) => {
      process.exitCode = await runExport(style, flags);
    });
}

async function runExport(style: string, flags: ExportFlags): Promise<number> {
  if (flags.format === 'onnx') {
    throw new UsageError('ONNX export is not available yet; use --format pth');
  }
  await initBackend();
  const loaded = await loadStyleGenerator(style);
  try {
    const bytes = exportPth(loaded.generator, flags.out);
    await writeFileAtomic(flags.out, bytes);
    const { ngf, nBlocks } = loaded.generator.config;
    process.stdout.write(
      `exported ${loaded.meta.name} (${loaded.architecture}, ngf ${ngf}, ${nBlocks} blocks) → ` +
        `${path.resolve(flags.out)}\n`,
    );
    return EXIT.ok;
  } finally {
    disposeParams(loaded.generator.params);
  }
}
