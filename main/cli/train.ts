/**
 * `patchwork train`: a style from two folders (CUT or FastCUT), with a progress line, clean
 * exit codes and Ctrl-C that checkpoints before it stops (`--resume` continues).
 */
import type { Command } from 'commander';
import { BACKEND_CHOICES, type TrainEvent, type TrainJobSpec } from '../../shared/jobs';
import { PRESETS, PREPROCESS_MODES, type Preset, type TrainOptions } from '../../shared/options';
import { runTrainJob } from '../jobs/train-job';
import { SINCUT_GENERATORS, SINCUT_PRESETS } from '../../shared/options';
import { trainSinCut, type SinCutFlags } from './train-sincut';
import { int, num, oneOf, threadCount, THREADS_HELP, useThreads } from './args';
import { formatDuration, printSharedTrainEvent, type ProgressLine } from './progress';
import { runStoppable } from './stoppable-run';
import { UsageError } from './errors';

/** `patchwork train`'s flags: SinCUT's (--preset sincut), plus those of training on folders. */
interface TrainFlags extends SinCutFlags {
  preset: Preset | 'sincut';
  loadSize?: number;
  preprocess?: TrainOptions['preprocess'];
  untilStopped?: boolean;
  recursive?: boolean;
  rejectSmall?: boolean;
  fromStyle?: string;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('Train a style from two folders: the images you have and the look you want.')
    .requiredOption('--source <dir>', 'folder A: the kind of images you have (photos, …)')
    .requiredOption('--target <dir>', 'folder B: the look you want (paintings, film stills, …)')
    .requiredOption('--out <dir>', 'output folder: checkpoints, previews and the finished style')
    .option(
      '--preset <name>',
      'cut (quality), fastcut (speed, lighter), or sincut (--source and --target are two images)',
      oneOf('--preset', [...PRESETS, 'sincut'] as const),
      'cut',
    )
    .option(
      '--ngf <n>',
      'generator width (64 in the paper; smaller is faster)',
      int('--ngf', { min: 1 }),
    )
    .option('--ndf <n>', 'discriminator width (64 in the paper)', int('--ndf', { min: 1 }))
    .option(
      '--blocks <n>',
      'residual blocks in the generator (9 in the paper)',
      int('--blocks', { min: 1 }),
    )
    .option(
      '--load-size <n>',
      'images are scaled to this size before cropping (286)',
      int('--load-size', { min: 1 }),
    )
    .option(
      '--crop-size <n>',
      'training crop, a multiple of 4 (256)',
      int('--crop-size', { min: 4 }),
    )
    .option(
      '--preprocess <mode>',
      `how images become crops: ${PREPROCESS_MODES.join(', ')}`,
      oneOf('--preprocess', PREPROCESS_MODES),
    )
    .option(
      '--epochs <n>',
      'epochs at the full learning rate (cut 200, fastcut 150)',
      int('--epochs', { min: 0 }),
    )
    .option(
      '--decay-epochs <n>',
      'epochs of linear learning-rate decay after that (cut 200, fastcut 50)',
      int('--decay-epochs', { min: 0 }),
    )
    .option(
      '--iterations <n>',
      'stop after this many steps instead of the epoch schedule',
      int('--iterations', { min: 1 }),
    )
    .option('--until-stopped', 'train until Ctrl-C (a checkpoint and the style are written then)')
    .option('--lr <x>', 'learning rate (2e-4)', num('--lr'))
    .option(
      '--lambda-nce <x>',
      'weight of the PatchNCE content loss (cut 1, fastcut 10)',
      num('--lambda-nce'),
    )
    .option('--lambda-gan <x>', 'weight of the adversarial loss (1)', num('--lambda-gan'))
    .option(
      '--patches <n>',
      'patches sampled per layer for PatchNCE (256)',
      int('--patches', { min: 1 }),
    )
    .option(
      '--seed <n>',
      'random seed: the same seed and backend give the same style',
      int('--seed', { min: 0 }),
    )
    .option(
      '--backend <name>',
      `compute backend: ${BACKEND_CHOICES.join(', ')}`,
      oneOf('--backend', BACKEND_CHOICES),
      'auto',
    )
    .option('--threads <n>', THREADS_HELP, threadCount())
    .option(
      '--setting <name>',
      'sincut: reference (64² crops, batch 16) or paper (128² crops, D on 64² windows)',
      oneOf('--setting', SINCUT_PRESETS),
    )
    .option(
      '--generator <name>',
      'sincut: stylegan2 (as the reference) or resnet (CUT’s generator)',
      oneOf('--generator', SINCUT_GENERATORS),
    )
    .option('--batch-size <n>', 'sincut: crops per step (16)', int('--batch-size', { min: 1 }))
    .option('--recursive', 'also read images in subfolders')
    .option('--resume', 'continue from the output folder’s latest checkpoint')
    .option(
      '--checkpoint-every <n>',
      'steps between checkpoints (500)',
      int('--checkpoint-every', { min: 1 }),
    )
    .option(
      '--preview-every <n>',
      'steps between preview images (500; sincut: a tenth of the run, 25–500; 0 = only at the end)',
      int('--preview-every', { min: 0 }),
    )
    .option('--reject-small', 'skip images smaller than the crop instead of scaling them up')
    .option('--name <text>', 'the style’s name (default: the output folder’s name)')
    .option(
      '--from-style <dir>',
      'fine-tune: start from this style’s generator (trained or imported) instead of random weights',
    )
    .action(async (flags: TrainFlags) => {
      process.exitCode = await train(flags);
    });
}

export function specFromFlags(f: TrainFlags): TrainJobSpec {
  if (f.preset === 'sincut') throw new Error('a SinCUT run has no folder-training job spec');
  const options: TrainJobSpec['options'] = { preset: f.preset };
  const set = <K extends keyof TrainOptions>(key: K, value: TrainOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set('ngf', f.ngf);
  set('ndf', f.ndf);
  set('nBlocks', f.blocks);
  set('loadSize', f.loadSize);
  set('cropSize', f.cropSize);
  set('preprocess', f.preprocess);
  set('epochs', f.epochs);
  set('decayEpochs', f.decayEpochs);
  set('lr', f.lr);
  set('lambdaNCE', f.lambdaNce);
  set('lambdaGAN', f.lambdaGan);
  set('numPatches', f.patches);
  set('seed', f.seed);
  return {
    source: f.source,
    target: f.target,
    out: f.out,
    options,
    ...(f.iterations !== undefined ? { iterations: f.iterations } : {}),
    ...(f.untilStopped ? { untilStopped: true } : {}),
    backend: f.backend,
    recursive: Boolean(f.recursive),
    ...(f.checkpointEvery !== undefined ? { checkpointEvery: f.checkpointEvery } : {}),
    ...(f.previewEvery !== undefined ? { previewEvery: f.previewEvery } : {}),
    smallImages: f.rejectSmall ? 'reject' : 'upscale',
    ...(f.name ? { name: f.name } : {}),
    ...(f.fromStyle ? { initFrom: f.fromStyle } : {}),
  };
}

/** Flags that mean something for one kind of training only, with their option names. */
const FOLDER_ONLY: [keyof TrainFlags, string][] = [
  ['loadSize', '--load-size'],
  ['preprocess', '--preprocess'],
  ['untilStopped', '--until-stopped'],
  ['recursive', '--recursive'],
  ['rejectSmall', '--reject-small'],
  ['fromStyle', '--from-style'],
];
const SINCUT_ONLY: [keyof TrainFlags, string][] = [
  ['setting', '--setting'],
  ['generator', '--generator'],
  ['batchSize', '--batch-size'],
];

/** A flag the chosen kind of training would ignore is refused, naming it, before any work. */
export function checkFlagsForPreset(flags: TrainFlags): void {
  const sincut = flags.preset === 'sincut';
  const given = (sincut ? FOLDER_ONLY : SINCUT_ONLY).filter(([k]) => flags[k] !== undefined);
  if (given.length === 0) return;
  const names = given.map(([, n]) => n).join(', ');
  throw new UsageError(
    sincut
      ? `${names}: not used by --preset sincut (one image pair)` +
          (flags.fromStyle !== undefined
            ? '; a SinCUT run continues only from its own checkpoint (--resume)'
            : '')
      : `${names}: only for --preset sincut`,
  );
}

async function train(flags: TrainFlags): Promise<number> {
  checkFlagsForPreset(flags);
  useThreads(flags.threads);
  if (flags.preset === 'sincut') return trainSinCut({ ...flags, backend: flags.backend });
  const spec = specFromFlags(flags);
  return runStoppable((signal, line) =>
    runTrainJob(spec, {
      signal,
      resume: Boolean(flags.resume),
      onEvent: (e) => printEvent(e, line),
    }),
  );
}

export function printEvent(e: TrainEvent, line: ProgressLine): void {
  switch (e.type) {
    case 'started': {
      const total = e.totalIterations === null ? 'until stopped' : `${e.totalIterations} steps`;
      const resumed = e.resumedFrom !== null ? `, resuming at step ${e.resumedFrom}` : '';
      const tuned = e.initFrom !== null ? `, fine-tuning ${e.initFrom}` : '';
      line.log(`backend: ${e.backend.detail}`);
      for (const s of e.backend.skipped) line.log(`  (not ${s.name}: ${s.reason})`);
      line.log(
        `${e.options.preset}: ${e.datasetSizes.source} source and ${e.datasetSizes.target} target images, ` +
          `${e.stepsPerEpoch} steps per epoch, ${total}${resumed}${tuned}`,
      );
      for (const s of e.skipped) line.log(`skipped ${s.path}: ${s.message}`);
      break;
    }
    case 'progress': {
      const l = e.losses;
      const total = e.totalIterations === null ? '' : `/${e.totalIterations}`;
      const nceY = l.NCE_Y === null ? '' : ` NCE_Y ${l.NCE_Y.toFixed(3)}`;
      line.update(
        `step ${e.iteration}${total} · epoch ${e.epoch} · D ${l.D.toFixed(3)} G_GAN ${l.G_GAN.toFixed(3)} ` +
          `NCE ${l.NCE.toFixed(3)}${nceY} · ${e.itPerSec.toFixed(2)} it/s · ETA ${formatDuration(e.etaSeconds)}`,
        e.iteration === e.totalIterations,
      );
      break;
    }
    case 'preview':
      line.log(
        `previews at step ${e.iteration}: ${e.paths[0] ?? ''}${e.paths.length > 1 ? ' …' : ''}`,
      );
      break;
    case 'skipped-file':
      line.log(`skipped ${e.path}: ${e.message}`);
      break;
    default:
      printSharedTrainEvent(e, line);
  }
}
