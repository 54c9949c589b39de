/**
 * `patchwork import FILE.pth --name NAME [--out STYLE_DIR]`: a reference generator checkpoint
 * (CUT, FastCUT or CycleGAN `latest_net_G.pth`) becomes a style folder, by default in the
 * style library (`<library>/styles/<name>/style`). The file is read without Python and
 * without executing anything in it.
 *
 * Exit codes: 0 imported; 1 the file is unreadable, unsafe or not a generator; 2 usage.
 */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { PRESETS, type Preset } from '../../shared/options';
import { PthError, runImportJob } from '../jobs/import-job';
import { freeStyleId, styleDir } from '../services/style-library';
import { oneOf } from './args';
import { EXIT } from './errors';

export const DEFAULT_LIBRARY = path.join(os.homedir(), 'Patchwork');

interface ImportFlags {
  name: string;
  out?: string;
  library: string;
  preset: Preset;
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('Import a PyTorch generator checkpoint (CUT, FastCUT, CycleGAN) as a style.')
    .argument('<file>', 'the .pth file (e.g. latest_net_G.pth)')
    .requiredOption('--name <name>', 'the style’s name')
    .option('--out <dir>', 'the style folder to write (default: in the style library)')
    .option('--library <dir>', 'the style library', DEFAULT_LIBRARY)
    .option(
      '--preset <name>',
      `recorded for fine-tuning: ${PRESETS.join(', ')}`,
      oneOf('--preset', PRESETS),
      'cut',
    )
    .action(async (file: string, flags: ImportFlags) => {
      process.exitCode = await runImport(file, flags);
    });
}

async function runImport(file: string, flags: ImportFlags): Promise<number> {
  const out =
    flags.out ??
    styleDir(flags.library, await freeStyleId(flags.library, flags.name, new Set<string>()));
  try {
    const r = await runImportJob({ file, name: flags.name, out, preset: flags.preset });
    const { architecture, config, notes } = r.recognized;
    for (const note of notes) process.stderr.write(`note: ${note}\n`);
    if (architecture === 'cyclegan-resnet') {
      process.stderr.write(
        'note: a CycleGAN generator converts and exports; heatmaps and fine-tuning need a ' +
          'CUT generator\n',
      );
    }
    process.stdout.write(
      `imported ${path.basename(file)}: ${architecture} generator, ngf ${config.ngf}, ` +
        `${config.nBlocks} block${config.nBlocks === 1 ? '' : 's'} → ${r.dir}\n`,
    );
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof PthError)) throw err;
    process.stderr.write(`error: ${path.basename(file)}: ${err.message}\n`);
    return EXIT.failed;
  }
}
