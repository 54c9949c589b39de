/**
 * Watched folders as the interface sees them: one WatchInfo per folder the artist switched
 * on, and the events that change it. The services keep theirs with applyWatchEvent and the
 * renderer keeps its copy with the same function (as with jobs, shared/ipc-jobs.ts).
 */
import type { ConvertFileInfo, ConvertProgressInfo } from './ipc-jobs';

/** starting: the engine loads the style; watching: new images are converted as they come. */
export type WatchState = 'starting' | 'watching' | 'stopped' | 'failed';

export type WatchFormat = 'same' | 'png' | 'jpeg' | 'webp' | 'tiff' | 'avif';

export interface WatchInfo {
  id: string;
  styleId: string;
  styleName: string;
  input: string;
  output: string;
  recursive: boolean;
  format: WatchFormat;
  state: WatchState;
  /** Why watching stopped by itself or failed; `detail` is the technical part. */
  error: { message: string; detail?: string } | null;
  /** The newest problems worth a line (a file that could not be looked at, …). */
  warnings: string[];
  /** The newest files seen since watching started (at most MAX_WATCH_FILES). */
  files: ConvertFileInfo[];
  progress: ConvertProgressInfo | null;
  /** ISO 8601: when this run of watching started. */
  since: string | null;
}

export type StudioWatchEvent =
  /** A watch appeared, changed state or was removed (`removed`: drop it). */
  | { type: 'watch'; watch: WatchInfo; removed?: boolean }
  | { type: 'watch-file'; watchId: string; file: ConvertFileInfo }
  | { type: 'watch-progress'; watchId: string; progress: ConvertProgressInfo };

export const MAX_WATCH_FILES = 200;
export const MAX_WATCH_WARNINGS = 5;

export function isWatching(w: Pick<WatchInfo, 'state'>): boolean {
  return w.state === 'starting' || w.state === 'watching';
}

/** Applies one event to a list of watches, in place; returns the watch it changed. */
export function applyWatchEvent(watches: WatchInfo[], event: StudioWatchEvent): WatchInfo | null {
  if (event.type === 'watch') {
    const at = watches.findIndex((w) => w.id === event.watch.id);
    if (event.removed) {
      if (at >= 0) watches.splice(at, 1);
      return null;
    }
    if (at < 0) watches.push(event.watch);
    else watches[at] = event.watch;
    return event.watch;
  }
  const watch = watches.find((w) => w.id === event.watchId);
  if (!watch) return null;
  if (event.type === 'watch-progress') {
    watch.progress = event.progress;
    return watch;
  }
  const at = watch.files.findIndex((f) => f.input === event.file.input);
  if (at >= 0) watch.files.splice(at, 1);
  // Newest first: what just arrived is what the artist looks for.
  watch.files.unshift(event.file);
  if (watch.files.length > MAX_WATCH_FILES) watch.files.length = MAX_WATCH_FILES;
  return watch;
}
