/**
 * `patchwork train --preset sincut`: a style from one source image and one target image
 * (SinCUT), with the same progress line, exit codes and Ctrl-C behaviour as folder training.
 */
import { resolveSinCutOptions, type SinCutOptions } from '../../shared/options';
import type { TrainBackendChoice } from '../../shared/jobs';
import type { ThreadSetting } from '../../shared/threads';
import { runSinCutTrainJob, type SinCutEvent } from '../jobs/train-job';
import { formatDuration, printSharedTrainEvent, type ProgressLine } from './progress';
import { runStoppable } from './stoppable-run';

export interface SinCutFlags {
  source: string;
  target: string;
  out: string;
  setting?: SinCutOptions['variant'];
  generator?: SinCutOptions['netG'];
  ngf?: number;
  ndf?: number;
  blocks?: number;
  cropSize?: number;
  batchSize?: number;
  epochs?: number;
  decayEpochs?: number;
  iterations?: number;
  lr?: number;
  lambdaNce?: number;
  lambdaGan?: number;
  patches?: number;
  seed?: number;
  backend: TrainBackendChoice;
  threads?: ThreadSetting;
  resume?: boolean;
  checkpointEvery?: number;
  previewEvery?: number;
  name?: string;
}

export function sincutOptionsFromFlags(f: SinCutFlags): SinCutOptions {
  return resolveSinCutOptions({
    variant: f.setting,
    netG: f.generator,
    ngf: f.ngf,
    ndf: f.ndf,
    nBlocks: f.blocks,
    cropSize: f.cropSize,
    // The paper's D judges 64² windows; a smaller crop gets a D of its own size.
    ...(f.cropSize !== undefined && f.cropSize < 64
      ? { dPatch: 2 ** Math.floor(Math.log2(f.cropSize)) }
      : {}),
    batchSize: f.batchSize,
    epochs: f.epochs,
    decayEpochs: f.decayEpochs,
    lr: f.lr,
    lambdaNCE: f.lambdaNce,
    lambdaGAN: f.lambdaGan,
    numPatches: f.patches,
    seed: f.seed,
  });
}

export async function trainSinCut(flags: SinCutFlags): Promise<number> {
  const options = sincutOptionsFromFlags(flags);
  return runStoppable((signal, line) =>
    runSinCutTrainJob(
      {
        source: flags.source,
        target: flags.target,
        out: flags.out,
        options,
        iterations: flags.iterations ?? null,
        backend: flags.backend,
        ...(flags.checkpointEvery !== undefined ? { checkpointEvery: flags.checkpointEvery } : {}),
        ...(flags.previewEvery !== undefined ? { previewEvery: flags.previewEvery } : {}),
        ...(flags.name ? { name: flags.name } : {}),
      },
      {
        signal,
        resume: Boolean(flags.resume),
        onEvent: (e) => printSinCutEvent(e, line),
      },
    ),
  );
}

function printSinCutEvent(e: SinCutEvent, line: ProgressLine): void {
  switch (e.type) {
    case 'started': {
      const [sw, sh] = e.images.source;
      const [tw, th] = e.images.target;
      const resumed = e.resumedFrom !== null ? `, resuming at step ${e.resumedFrom}` : '';
      line.log(`backend: ${e.backend.detail}`);
      line.log(
        `sincut: source ${sw}×${sh}, target ${tw}×${th}, ${e.totalIterations} steps${resumed}`,
      );
      break;
    }
    case 'progress': {
      const l = e.losses;
      const left = (e.totalIterations - e.iteration) / Math.max(e.itPerSec, 1e-9);
      line.update(
        `step ${e.iteration}/${e.totalIterations} · D ${l.D.toFixed(3)} R1 ${l.D_R1.toFixed(3)} ` +
          `G_GAN ${l.G_GAN.toFixed(3)} NCE ${l.NCE.toFixed(3)} idt ${l.idt.toFixed(3)} · ` +
          `${e.itPerSec.toFixed(2)} it/s · ETA ${formatDuration(left)}`,
        e.iteration === e.totalIterations,
      );
      break;
    }
    case 'preview':
      line.log(`preview at step ${e.iteration}: ${e.paths.join(', ')}`);
      break;
    default:
      printSharedTrainEvent(e, line);
  }
}
