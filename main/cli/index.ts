/**
 * `patchwork`: the headless command line over the engine and services. Every command that
 * can fail on user input exits with a clear message and a meaningful code (see errors.ts).
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../files/package-root';
import { registerConvert, registerWatch } from './convert';
import { registerDemo } from './demo';
import { EXIT, reportError } from './errors';
import { registerExport } from './export';
import { registerHeatmap } from './heatmap';
import { registerImport } from './import';
import { registerServe } from './serve';
import { registerTrain } from './train';

export function buildProgram(): Command {
  const program = new Command('patchwork')
    .description('Train unpaired image-to-image styles (CUT, FastCUT) and apply them.')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .showHelpAfterError()
    .exitOverride();
  registerTrain(program);
  registerDemo(program);
  registerConvert(program);
  registerWatch(program);
  registerHeatmap(program);
  registerServe(program);
  registerImport(program);
  registerExport(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; their text is already printed.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(err);
  }
}
