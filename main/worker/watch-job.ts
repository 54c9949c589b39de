/**
 * A watched folder inside an engine process of its own (the studio gives every watch one, so
 * it never waits behind a training job): the style loaded once, the services' FolderWatcher
 * (the same one `patchwork watch` runs) converting each image that arrives, each file's state
 * streamed to the host. It runs until cancelled (the watcher lets the files in flight finish
 * and saves what is still waiting) or until the watcher stops by itself, e.g. when the output
 * folder disappears, which fails the job with the reason.
 */
import type { ConvertJobSpec, WorkerJobEvent, WorkerJobResult } from '../../shared/ipc-worker';
import { styleIdOf } from '../services/convert/manifest';
import { FolderWatcher } from '../services/convert/watcher';
import { fileInfo, openConversion } from './convert-job';

export class WatchStoppedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchStopped';
  }
}

export async function runWatch(
  spec: ConvertJobSpec & { stableMs?: number },
  signal: AbortSignal,
  emit: (event: WorkerJobEvent) => void,
): Promise<WorkerJobResult> {
  const { settings, engine, dispose } = await openConversion(spec);
  try {
    let stopped: (reason: string | null) => void = () => undefined;
    const ended = new Promise<string | null>((resolve) => (stopped = resolve));
    const watcher = await FolderWatcher.start({
      input: spec.input,
      output: spec.output,
      recursive: spec.recursive,
      format: spec.format,
      engine,
      styleId: await styleIdOf(spec.styleDir),
      settings,
      ...(spec.stableMs !== undefined ? { stableMs: spec.stableMs } : {}),
      onEvent: (e) => {
        if (e.type === 'file') emit({ kind: 'convert-file', file: fileInfo(e.file) });
        else if (e.type === 'progress' || e.type === 'idle') {
          const { total, queued, converting, done, skipped, failed, etaSeconds } = e.progress;
          emit({
            kind: 'convert-progress',
            progress: { total, queued, converting, done, skipped, failed, etaSeconds },
          });
        } else if (e.type === 'ready') emit({ kind: 'watch', event: { type: 'ready' } });
        else if (e.type === 'warning') {
          emit({ kind: 'watch', event: { type: 'warning', message: e.message } });
        } else if (e.type === 'removed') {
          emit({ kind: 'watch', event: { type: 'removed', input: e.input } });
        } else if (e.type === 'stopped') stopped(e.reason);
      },
    });
    const onAbort = () => void watcher.stop();
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const reason = await ended;
    signal.removeEventListener('abort', onAbort);
    if (reason && !signal.aborted) throw new WatchStoppedError(`Watching stopped: ${reason}`);
    const failed = watcher.queue.files().filter((f) => f.status === 'failed').length;
    return { status: signal.aborted ? 'cancelled' : 'completed', failed };
  } finally {
    dispose();
  }
}
