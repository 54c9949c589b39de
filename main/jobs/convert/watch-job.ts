/**
 * The watch job, assembled once from its WatchJobSpec and run by the engine process (the
 * studio gives every watch one, so it never waits behind a training job) and `patchwork
 * watch` alike: the conversion opened once (convert-job.ts), the FolderWatcher converting each
 * image that arrives. It runs until cancelled (the watcher lets the files in flight finish
 * and saves what is still waiting) or until the watcher stops by itself, e.g. when the output
 * folder disappears: the outcome then carries the reason.
 */
import path from 'node:path';
import type { WatchJobSpec } from '../../../shared/ipc-worker';
import {
  cleanOutputFolder,
  openConversion,
  type CleanedEvent,
  type ConvertJobOutcome,
  type JobContext,
  type OpenEvent,
} from './convert-job';
import type { OutputLock } from './output-lock';
import { FolderWatcher, type WatchEvent } from './watcher';

export type WatchJobEvent =
  | OpenEvent
  | CleanedEvent
  /** The watcher is running (after the files already there were found). */
  | { type: 'watching'; inputRoot: string; outputRoot: string }
  | Exclude<WatchEvent, { type: 'stopped' }>;

export interface WatchJobOutcome extends ConvertJobOutcome {
  /** Why the watcher stopped by itself; null when it was cancelled. */
  stoppedBecause: string | null;
}

export async function runWatchJob(
  spec: WatchJobSpec,
  { signal, onEvent = () => undefined }: JobContext<WatchJobEvent>,
): Promise<WatchJobOutcome> {
  const { settings, engine, styleId, dispose } = await openConversion(spec, onEvent);
  let lock: OutputLock | null = null;
  try {
    let stopped: (reason: string | null) => void = () => undefined;
    const ended = new Promise<string | null>((resolve) => (stopped = resolve));
    const watcher = await FolderWatcher.start({
      input: spec.input,
      output: spec.output,
      recursive: spec.recursive,
      format: spec.format,
      engine,
      styleId,
      settings,
      ...(spec.stableMs !== undefined ? { stableMs: spec.stableMs } : {}),
      checksum: spec.checksum,
      ...(spec.allowedRoots ? { allowedRoots: spec.allowedRoots } : {}),
      // After the watcher has checked the folders, before it writes there.
      prepareOutput: async (outputRoot) => {
        lock = await cleanOutputFolder(outputRoot, Boolean(spec.recursive), onEvent);
      },
      onEvent: (e) => (e.type === 'stopped' ? stopped(e.reason) : onEvent(e)),
    });
    const inputRoot = path.resolve(spec.input);
    const outputRoot = path.resolve(spec.output);
    onEvent({ type: 'watching', inputRoot, outputRoot });
    const onAbort = () => void watcher.stop();
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const reason = await ended;
    signal.removeEventListener('abort', onAbort);
    return {
      status: signal.aborted ? 'cancelled' : 'completed',
      files: watcher.queue.files(),
      inputRoot,
      outputRoot,
      stoppedBecause: reason,
    };
  } finally {
    await (lock as OutputLock | null)?.release();
    dispose();
  }
}
