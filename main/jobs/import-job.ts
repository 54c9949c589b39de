/**
 * The import job (`patchwork import`): a reference generator checkpoint (CUT, FastCUT or
 * CycleGAN `latest_net_G.pth`) becomes a style folder. The file is read without Python and
 * without executing anything in it; every way it can be unusable is a PthError saying why.
 */
import type { Preset } from '../../shared/options';
import { initBackend } from '../engine/backend';
import { importCheckpoint, type ImportResult } from '../engine/import/import-style';
import { PthError } from '../engine/import/pth';

export { PthError };
export type { ImportResult };

export interface ImportJobSpec {
  /** The .pth file. */
  file: string;
  name: string;
  /** The style folder to write. */
  out: string;
  /** Recorded for fine-tuning (the file does not say). */
  preset: Preset;
}

export async function runImportJob(spec: ImportJobSpec): Promise<ImportResult> {
  await initBackend('cpu'); // only holds the weights while the folder is written
  return importCheckpoint(spec.file, { name: spec.name, out: spec.out, preset: spec.preset });
}
