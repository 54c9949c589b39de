/**
 * The conversion job, assembled once from its ConvertJobSpec and run by the engine process
 * (main/worker) and `patchwork convert` alike: the backend, the style's generator (conversion
 * needs only G) on the chosen inference engine (ONNX Runtime or TF.js), an image converter with the spec's encoding (bit depth, ICC profile,
 * metadata, tiles), the output folder's manifest, the plan and the ConvertQueue driving
 * decode / translate / encode. Any style converts (CUT, CycleGAN, SinCUT); images over a
 * megapixel are translated tile by tile (seamless), a SinCUT style's StyleGAN2 generator
 * always, its tiles sized from the memory budget.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { removeStaleTemporaries } from '../../files/atomic-file';
import { DEFAULT_ENCODING } from '../../../shared/convert-options';
import type { ConvertJobSpec } from '../../../shared/ipc-worker';
import { initBackend } from '../../engine/backend';
import { createImageConverter, type ImageConverter } from '../../engine/infer/convert-image';
import { openStyleConversion } from '../../engine/style/open-conversion';
import { ConvertQueue, type FileState, type QueueEvent } from './convert-queue';
import type { ConvertSettings } from './convert-settings';
import { ConvertManifest, styleIdOf } from './manifest';
import { OutputLock } from './output-lock';
import { planConversion, type ConversionPlan } from './plan';
import { OUTSIDE_ALLOWED } from '../../services/path-policy';

/**
 * What opening a conversion says before any file: the backend, the engine that translates
 * (ONNX Runtime or TF.js, with why TF.js when auto fell back), then the style. A later
 * `engine` event says a session changed provider (e.g. out of GPU memory, on to cpu).
 */
export type OpenEvent =
  | { type: 'backend'; detail: string }
  | { type: 'engine'; detail: string }
  | { type: 'style'; name: string; preset: string; styleId: string };

/** Temporaries that an interrupted run left in the output folder, removed before any file. */
export type CleanedEvent = { type: 'cleaned'; outputRoot: string; removed: string[] };

export type ConvertJobEvent =
  | OpenEvent
  | CleanedEvent
  /** The input and output folders, known before the first file. */
  | { type: 'planned'; inputRoot: string; outputRoot: string }
  | QueueEvent;

/**
 * Takes the output folder for this job (output-lock.ts) and removes what a conversion killed
 * mid-write left there (and, when recursive, in the subfolders it mirrors into): hidden `.tmp`
 * temporaries of files/atomic-file only. With no other job running in the folder every one of
 * them is a leftover and goes, however young (a run killed a moment ago and started again);
 * while another job may be writing there, only those past the grace period go, so it keeps
 * its own. Reports what went, if anything. The caller releases the lock when the job ends;
 * nothing of this job may write into the folder before this has run.
 */
export async function cleanOutputFolder(
  outputRoot: string,
  recursive: boolean,
  onEvent: (event: CleanedEvent) => void,
): Promise<OutputLock> {
  const lock = await OutputLock.take(outputRoot);
  const removed = await removeStaleTemporaries(
    outputRoot,
    lock.alone ? { recursive, now: lock.takenMs, olderThanMs: 0 } : { recursive },
  );
  if (removed.length) onEvent({ type: 'cleaned', outputRoot, removed });
  return lock;
}

/**
 * An input never read: a link out of the allowed folders. It has no output; `relative` is its
 * place in the input folder, which is what the studio's file list shows.
 */
function leftOut(input: string, inputRoot: string): FileState {
  const relative = path.relative(inputRoot, input).split(path.sep).join('/');
  return { input, output: '', relative, status: 'skipped', skip: OUTSIDE_ALLOWED };
}

/** A job's context: cancelled by `signal`; what it reports on the way goes to `onEvent`. */
export interface JobContext<E> {
  signal: AbortSignal;
  onEvent?: (event: E) => void;
}

export interface ConvertJobOutcome {
  status: 'completed' | 'cancelled';
  /** Every file's last reported state, in the order they were taken. */
  files: FileState[];
  inputRoot: string;
  outputRoot: string;
}

/** What a conversion or a watch job runs with; `dispose` frees the style's weights. */
export interface OpenedConversion {
  settings: ConvertSettings;
  engine: ImageConverter;
  styleId: string;
  dispose(): void;
}

/** The bytes-changing settings of a spec, absent options at today's defaults. */
export function settingsOf(spec: ConvertJobSpec): ConvertSettings {
  return {
    format: spec.format,
    ...(spec.quality !== undefined ? { quality: spec.quality } : {}),
    bitDepth: spec.bitDepth ?? DEFAULT_ENCODING.bitDepth,
    icc: spec.icc ?? DEFAULT_ENCODING.icc,
    metadata: spec.metadata ?? DEFAULT_ENCODING.metadata,
  };
}

/**
 * The backend, the style's generator and a converter that translates as the spec asks:
 * tiled above a megapixel, or always when the spec gives a tile or says so (a budget given to
 * the CLI), whatever the architecture.
 */
export async function openConversion(
  spec: ConvertJobSpec,
  onEvent: (event: OpenEvent) => void = () => undefined,
): Promise<OpenedConversion> {
  const settings = settingsOf(spec);
  const backend = await initBackend(spec.backend);
  onEvent({ type: 'backend', detail: backend.detail });
  // A tile size asks for tiles whatever the image's size.
  const alwaysTiled = spec.alwaysTiled === true || spec.tile !== undefined;
  const style = await openStyleConversion(spec.styleDir, {
    alwaysTiled,
    engine: spec.engine ?? 'auto',
    onEngineNote: (note) => onEvent({ type: 'engine', detail: note }),
  });
  try {
    onEvent({ type: 'engine', detail: style.engine });
    const styleId = await styleIdOf(spec.styleDir);
    onEvent({ type: 'style', name: style.name, preset: style.preset, styleId });
    const { memoryBudgetMB, tile } = spec;
    const engine = createImageConverter({
      translate: style.translate,
      ...(memoryBudgetMB !== undefined || tile !== undefined
        ? { translateOptions: { memoryBudgetMB, tile } }
        : {}),
      quality: settings.quality,
      bitDepth: settings.bitDepth,
      icc: settings.icc,
      metadata: settings.metadata,
    });
    return { settings, engine, styleId, dispose: () => style.dispose() };
  } catch (err) {
    style.dispose();
    throw err;
  }
}

/** Converts what the spec names; a cancel lets the files in flight finish. */
export async function runConvertJob(
  spec: ConvertJobSpec,
  { signal, onEvent = () => undefined }: JobContext<ConvertJobEvent>,
): Promise<ConvertJobOutcome> {
  const { settings, engine, styleId, dispose } = await openConversion(spec, onEvent);
  try {
    const manifest = await ConvertManifest.open(spec.output);
    if (manifest.warning) onEvent({ type: 'warning', message: manifest.warning });
    const plan = await planConversion(
      {
        input: spec.input,
        output: spec.output,
        recursive: spec.recursive,
        format: spec.format,
        ...(spec.allowedRoots ? { allowedRoots: spec.allowedRoots } : {}),
      },
      manifest.claims(),
    );
    await fs.mkdir(plan.outputRoot, { recursive: true });
    const lock = await cleanOutputFolder(plan.outputRoot, Boolean(spec.recursive), onEvent);
    try {
      return await convertPlanned(spec, plan, {
        settings,
        engine,
        styleId,
        manifest,
        signal,
        onEvent,
      });
    } finally {
      await lock.release();
    }
  } finally {
    dispose();
  }
}

/** The planned files through a queue, in the folder this job holds. */
async function convertPlanned(
  spec: ConvertJobSpec,
  plan: ConversionPlan,
  {
    settings,
    engine,
    styleId,
    manifest,
    signal,
    onEvent,
  }: Omit<OpenedConversion, 'dispose'> & {
    manifest: ConvertManifest;
    signal: AbortSignal;
    onEvent: (event: ConvertJobEvent) => void;
  },
): Promise<ConvertJobOutcome> {
  onEvent({ type: 'planned', inputRoot: plan.inputRoot, outputRoot: plan.outputRoot });
  // Listed beside the converted files, so the artist sees why an image they see is missing.
  for (const entry of plan.ignored) {
    if (entry.reason === OUTSIDE_ALLOWED) {
      onEvent({ type: 'file', file: leftOut(entry.path, plan.inputRoot) });
    }
  }
  const queue = new ConvertQueue(engine, {
    outputRoot: plan.outputRoot,
    manifest,
    styleId,
    settings,
    force: spec.force,
    checksum: spec.checksum,
    onEvent,
  });
  const onAbort = () => void queue.stop();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    queue.add(plan.files);
    await queue.whenIdle();
    await queue.stop();
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return {
    status: signal.aborted ? 'cancelled' : 'completed',
    files: queue.files(),
    inputRoot: plan.inputRoot,
    outputRoot: plan.outputRoot,
  };
}
