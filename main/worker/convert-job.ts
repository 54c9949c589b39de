/**
 * A conversion job inside the engine's process: the style loaded once, the input planned,
 * the services' ConvertQueue driving decode / translate / encode, each file's state and the
 * queue's progress streamed to the host. Any style conversion takes (CUT, CycleGAN, SinCUT);
 * images over a megapixel are translated tile by tile (seamless), as `patchwork convert` does.
 */
import { promises as fs } from 'node:fs';
import type { ConvertFileInfo } from '../../shared/ipc-jobs';
import type { ConvertJobSpec, WorkerJobEvent, WorkerJobResult } from '../../shared/ipc-worker';
import { initBackend } from '../engine/backend';
import { createImageConverter, type ImageConverter } from '../engine/infer/convert-image';
import { openStyleConversion } from '../engine/style/open-conversion';
import { ConvertQueue, type FileState } from '../services/convert/convert-queue';
import type { ConvertSettings } from '../services/convert/engine';
import { ConvertManifest, styleIdOf } from '../services/convert/manifest';
import { planConversion } from '../services/convert/plan';

/** What a conversion or a watch job runs with; `dispose` frees the style's weights. */
export interface OpenedConversion {
  settings: ConvertSettings;
  engine: ImageConverter;
  dispose(): void;
}

/**
 * The backend, the style's generator (conversion needs only G) and a converter that translates
 * as `patchwork convert` does (openStyleConversion, shared with it): tiled above a megapixel,
 * whatever the architecture; a SinCUT style's StyleGAN2 generator always tile by tile, its
 * tiles sized from the memory budget.
 */
export async function openConversion(spec: ConvertJobSpec): Promise<OpenedConversion> {
  const settings: ConvertSettings = {
    format: spec.format,
    ...(spec.quality !== undefined ? { quality: spec.quality } : {}),
    bitDepth: 8,
    icc: 'srgb',
    metadata: 'strip',
  };
  await initBackend(spec.backend);
  const style = await openStyleConversion(spec.styleDir);
  const engine = createImageConverter({
    translate: style.translate,
    ...(spec.memoryBudgetMB !== undefined
      ? { translateOptions: { memoryBudgetMB: spec.memoryBudgetMB } }
      : {}),
    quality: settings.quality,
    bitDepth: settings.bitDepth,
    icc: settings.icc,
    metadata: settings.metadata,
  });
  return { settings, engine, dispose: () => style.dispose() };
}

export async function runConversion(
  spec: ConvertJobSpec,
  signal: AbortSignal,
  emit: (event: WorkerJobEvent) => void,
): Promise<WorkerJobResult> {
  const { settings, engine, dispose } = await openConversion(spec);
  try {
    const manifest = await ConvertManifest.open(spec.output);
    const plan = await planConversion(
      { input: spec.input, output: spec.output, recursive: spec.recursive, format: spec.format },
      manifest.claims(),
    );
    await fs.mkdir(plan.outputRoot, { recursive: true });
    const queue = new ConvertQueue(engine, {
      outputRoot: plan.outputRoot,
      manifest,
      styleId: await styleIdOf(spec.styleDir),
      settings,
      onEvent: (e) => {
        if (e.type === 'file') emit({ kind: 'convert-file', file: fileInfo(e.file) });
        if (e.type === 'progress' || e.type === 'idle') {
          const { total, queued, converting, done, skipped, failed, etaSeconds } = e.progress;
          emit({
            kind: 'convert-progress',
            progress: { total, queued, converting, done, skipped, failed, etaSeconds },
          });
        }
      },
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
    const failed = queue.files().filter((f) => f.status === 'failed').length;
    return { status: signal.aborted ? 'cancelled' : 'completed', failed };
  } finally {
    dispose();
  }
}

export function fileInfo(f: FileState): ConvertFileInfo {
  return {
    input: f.input,
    output: f.output,
    relative: f.relative,
    status: f.status,
    ...(f.stage ? { stage: f.stage } : {}),
    ...(f.skip ? { skip: f.skip } : {}),
    ...(f.failure ? { failure: { reason: f.failure.reason, message: f.failure.message } } : {}),
    ...(f.seconds !== undefined ? { seconds: f.seconds } : {}),
  };
}
