/**
 * `patchwork export STYLE_DIR --format pth|onnx --out FILE`: a style's generator leaves
 * Patchwork as a PyTorch state dict (torch.save zip format, the reference's key names and
 * layouts), so the reference code loads it with `load_state_dict`, or as an ONNX model
 * (opset 17, dynamic batch, height and width; sides multiples of 4). A SinCUT style's
 * StyleGAN2 generator exports as ONNX only (with a noise input; sides even).
 *
 * Exit codes: 0 written; 1 the style is unusable or the file cannot be written; 2 usage.
 */
import type { Command } from 'commander';
import { EXPORT_FORMATS, ONNX_OPSET, runExportJob } from '../jobs/export-job';
import { oneOf } from './args';
import { EXIT } from './errors';

const FORMATS = EXPORT_FORMATS;

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

async function runExport(style: string, flags: ExportFlags): Promise<number> {
  const r = await runExportJob({ styleDir: style, format: flags.format, out: flags.out });
  process.stdout.write(
    `exported ${r.name} (${r.architecture}, ngf ${r.ngf}, ${r.nBlocks} blocks) → ${r.file}\n`,
  );
  if (r.onnxIo) process.stdout.write(`ONNX opset ${ONNX_OPSET}: ${r.onnxIo}\n`);
  return EXIT.ok;
}
