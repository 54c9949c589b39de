/**
 * The studio's watched folders: each one the artist switched on runs in an engine process of
 * its own (a WorkerHost made for it), so it converts as images arrive while a training job
 * has the main engine. The services' FolderWatcher does the watching inside that process
 * (main/jobs/convert/watch-job.ts); this file starts and stops it, keeps each watch's state and
 * newest files, and remembers which folders are watched in `<library>/watches.json`, so
 * watching resumes when the studio starts again. A watch whose process dies or whose watcher
 * stops by itself (the output folder vanished) is marked failed with the reason and stays
 * off until switched on again.
 *
 * Memory: a watch's process is never idle while it watches (a file may arrive at any moment,
 * and its watcher lives there), but the wasm heap a conversion grew stays with it. So once a
 * watch has converted files and then had nothing to do for the engines' idle time, its
 * process is replaced by a fresh one: the watch stops gracefully (nothing is in flight; what
 * waits is saved in the output folder) and starts again at once, keeping its state and files.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  applyWatchEvent,
  MAX_WATCH_WARNINGS,
  type StudioWatchEvent,
  type WatchFormat,
  type WatchInfo,
} from '../../shared/ipc-watch';
import type { ConvertEncoding } from '../../shared/convert-options';
import type { WatchJobSpec, WorkerJobEvent } from '../../shared/ipc-worker';
import { engineIdleExitMs, WorkerJobError, type IdleClock, type WorkerHost } from './worker-host';
import { writeFileAtomic } from '../files/atomic-file';

export const WATCHES_FILE = 'watches.json';
export const WATCHES_FORMAT = 'patchwork-watches-1';

/** What a watch is, as saved: enough to start it again. */
export interface WatchSetup {
  id: string;
  styleId: string;
  styleName: string;
  styleDir: string;
  input: string;
  output: string;
  recursive: boolean;
  format: WatchFormat;
  backend: WatchJobSpec['backend'];
  /** The inference engine (absent in lists saved before it existed: auto). */
  engine?: WatchJobSpec['engine'];
  memoryBudgetMB?: number;
  /** Bit depth, profile, metadata, quality and tile as asked (absent: the defaults). */
  encoding?: Omit<ConvertEncoding, 'format'>;
  /** Switched on: started again when the studio starts. */
  active: boolean;
}

interface Entry {
  setup: WatchSetup;
  info: WatchInfo;
  host: WorkerHost | null;
  runId: string | null;
  /** Settles when the current run has ended and its process is gone. */
  ended: Promise<void>;
  /** The quiet timer: armed by each conversion event of the current run. */
  quiet: unknown;
  /** The current run is being replaced by a fresh process (not stopped, not failed). */
  renewing: boolean;
}

export interface WatchesOptions {
  libraryDir: string;
  /** A fresh engine process host for one watch. */
  spawnHost: () => WorkerHost;
  emit: (event: StudioWatchEvent) => void;
  /** How long a file's size must hold still before it is converted (tests shorten it). */
  stableMs?: number;
  /** The studio's allowed folders, asked when a watch starts (not saved with a watch: they
   * grow as the artist grants folders). Files that link outside them are left out. Absent or
   * null: no restriction. */
  allowedRoots?: () => string[] | null;
  log?: (line: string) => void;
  /**
   * How long a watch that converted files must have been quiet before its process is replaced
   * by a fresh one (ms; default engineIdleExitMs(), 60 s). null: never.
   */
  renewAfterMs?: number | null;
  /** The quiet timer's clock (tests drive it by hand). */
  clock?: IdleClock;
}

const REAL_CLOCK: IdleClock = {
  setTimeout: (fire, ms) => setTimeout(fire, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class Watches {
  private readonly entries: Entry[] = [];
  private readonly file: string;
  private saving: Promise<void> = Promise.resolve();
  private disposed = false;
  private readonly renewMs: number | null;
  private readonly clock: IdleClock;
  /** Processes replaced by fresh ones after a quiet spell. */
  renewals = 0;

  private constructor(private readonly opts: WatchesOptions) {
    this.file = path.join(opts.libraryDir, WATCHES_FILE);
    this.renewMs = opts.renewAfterMs !== undefined ? opts.renewAfterMs : engineIdleExitMs();
    this.clock = opts.clock ?? REAL_CLOCK;
  }

  /** The saved watches; those switched on start watching again. */
  static async open(opts: WatchesOptions): Promise<Watches> {
    const watches = new Watches(opts);
    for (const setup of await watches.load()) {
      const entry = watches.add(setup);
      if (setup.active) watches.run(entry);
    }
    return watches;
  }

  list(): WatchInfo[] {
    return this.entries.map((e) => structuredClone(e.info));
  }

  /**
   * Switches a folder's watch on. The same input folder keeps its one watch: switching it on
   * again (with this style, output and format) restarts it.
   */
  async start(setup: Omit<WatchSetup, 'id' | 'active'>): Promise<WatchInfo> {
    let entry = this.entries.find((e) => e.setup.input === setup.input);
    if (entry && entry.host) {
      throw new WatchesError('rejected', `${setup.input} is already being watched`);
    }
    if (entry) {
      entry.setup = { ...entry.setup, ...setup, active: true };
      entry.info = infoOf(entry.setup);
    } else {
      entry = this.add({ ...setup, id: randomUUID().slice(0, 13), active: true });
    }
    this.run(entry);
    await this.save();
    return structuredClone(entry.info);
  }

  /** Switches a watch off: the files in flight finish, what waits is saved for next time. */
  async stop(id: string): Promise<WatchInfo> {
    const entry = this.find(id);
    entry.setup.active = false;
    entry.renewing = false;
    await this.save();
    if (entry.host && entry.runId) {
      entry.host.cancel(entry.runId);
      await entry.ended;
    }
    entry.info.state = 'stopped';
    this.changed(entry);
    return structuredClone(entry.info);
  }

  /** Forgets a watch that is off (its outputs and the folder's state files stay). */
  async remove(id: string): Promise<void> {
    const entry = this.find(id);
    if (entry.host) throw new WatchesError('rejected', 'switch the watch off first');
    this.entries.splice(this.entries.indexOf(entry), 1);
    await this.save();
    this.opts.emit({ type: 'watch', watch: structuredClone(entry.info), removed: true });
  }

  /**
   * Ends every process (the studio is closing). Watches stay switched on in watches.json and
   * start again with the studio; a file being converted is found again then.
   */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const e of this.entries) {
      this.stopQuietTimer(e);
      e.host?.dispose();
    }
    await Promise.all(this.entries.map((e) => e.ended));
    await this.saving;
  }

  // ─── running ─────────────────────────────────────────────────────────────────────────────

  private add(setup: WatchSetup): Entry {
    const entry: Entry = {
      setup,
      info: infoOf(setup),
      host: null,
      runId: null,
      ended: Promise.resolve(),
      quiet: null,
      renewing: false,
    };
    this.entries.push(entry);
    return entry;
  }

  private run(entry: Entry): void {
    const host = this.opts.spawnHost();
    const runId = `watch-${entry.setup.id}-${randomUUID().slice(0, 8)}`;
    entry.host = host;
    entry.runId = runId;
    // A renewed watch keeps its state and files: to the artist it never stopped.
    if (!entry.renewing) {
      entry.info = { ...infoOf(entry.setup), state: 'starting', since: new Date().toISOString() };
      this.changed(entry);
    }
    const {
      styleDir,
      input,
      output,
      recursive,
      format,
      backend,
      engine,
      memoryBudgetMB,
      encoding,
    } = entry.setup;
    const allowedRoots = this.opts.allowedRoots?.() ?? null;
    const spec: WatchJobSpec = {
      ...encoding,
      styleDir,
      input,
      output,
      recursive,
      format,
      backend,
      ...(engine !== undefined ? { engine } : {}),
      ...(memoryBudgetMB !== undefined ? { memoryBudgetMB } : {}),
      ...(this.opts.stableMs !== undefined ? { stableMs: this.opts.stableMs } : {}),
      ...(allowedRoots ? { allowedRoots } : {}),
    };
    entry.ended = host
      .run({ type: 'watch', jobId: runId, spec }, (e) => this.event(entry, runId, e))
      .then(
        () => {
          if (entry.runId === runId && !this.disposed && !entry.renewing) {
            entry.info.state = 'stopped';
          }
        },
        (err: unknown) => {
          if (entry.runId !== runId || this.disposed) return;
          entry.renewing = false;
          const detail = err instanceof WorkerJobError ? err.detail : undefined;
          const message = err instanceof Error ? err.message : String(err);
          entry.info.state = 'failed';
          entry.info.error = { message, ...(detail ? { detail } : {}) };
          // A failed watch stays off: starting it again is the artist's call.
          entry.setup.active = false;
          void this.save();
        },
      )
      .finally(() => {
        host.dispose();
        if (entry.runId !== runId) return;
        this.stopQuietTimer(entry);
        entry.host = null;
        entry.runId = null;
        if (this.disposed) return;
        if (entry.renewing && entry.setup.active) this.run(entry);
        else this.changed(entry);
        entry.renewing = false;
      });
  }

  /**
   * After a conversion event: once the watch has converted something, has nothing in flight
   * and stays so for the idle time, its process is replaced (see the module's note).
   */
  private armQuietTimer(entry: Entry, runId: string): void {
    this.stopQuietTimer(entry);
    const p = entry.info.progress;
    if (this.renewMs === null || !p || p.done + p.failed === 0) return;
    if (p.queued > 0 || p.converting > 0) return;
    entry.quiet = this.clock.setTimeout(() => {
      entry.quiet = null;
      if (entry.runId !== runId || !entry.host || this.disposed || !entry.setup.active) return;
      entry.renewing = true;
      this.renewals += 1;
      entry.host.cancel(runId);
    }, this.renewMs);
  }

  private stopQuietTimer(entry: Entry): void {
    if (entry.quiet === null) return;
    this.clock.clearTimeout(entry.quiet);
    entry.quiet = null;
  }

  private event(entry: Entry, runId: string, e: WorkerJobEvent): void {
    if (entry.runId !== runId) return;
    const watchId = entry.setup.id;
    if (e.kind === 'convert-file') {
      this.emit({ type: 'watch-file', watchId, file: e.file });
      this.armQuietTimer(entry, runId);
    } else if (e.kind === 'convert-progress') {
      this.emit({ type: 'watch-progress', watchId, progress: e.progress });
      this.armQuietTimer(entry, runId);
    } else if (e.kind === 'watch') {
      if (e.event.type === 'ready') entry.info.state = 'watching';
      else if (e.event.type === 'warning') {
        entry.info.warnings = [...entry.info.warnings, e.event.message].slice(-MAX_WATCH_WARNINGS);
      } else return; // a removed input leaves its line as it was
      this.changed(entry);
    }
  }

  /** Applies a file or progress event to the entry it concerns, then sends it on. */
  private emit(event: StudioWatchEvent): void {
    applyWatchEvent(
      this.entries.map((e) => e.info),
      event,
    );
    this.opts.emit(event);
  }

  private changed(entry: Entry): void {
    this.opts.emit({ type: 'watch', watch: structuredClone(entry.info) });
  }

  private find(id: string): Entry {
    const entry = this.entries.find((e) => e.setup.id === id);
    if (!entry) throw new WatchesError('not-found', `there is no watched folder ${id}`);
    return entry;
  }

  // ─── the saved list ──────────────────────────────────────────────────────────────────────

  private async load(): Promise<WatchSetup[]> {
    let raw: unknown;
    try {
      raw = JSON.parse(await fs.readFile(this.file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log(`warning: the watch list ${this.file} could not be read; started afresh`);
      }
      return [];
    }
    const saved = raw as { format?: unknown; watches?: unknown };
    if (saved.format !== WATCHES_FORMAT || !Array.isArray(saved.watches)) {
      this.log(`warning: ${this.file} is not a watch list Patchwork wrote; ignored`);
      return [];
    }
    return (saved.watches as WatchSetup[]).filter(
      (w) =>
        w &&
        typeof w.id === 'string' &&
        typeof w.input === 'string' &&
        typeof w.output === 'string' &&
        typeof w.styleDir === 'string',
    );
  }

  private save(): Promise<void> {
    const body = `${JSON.stringify({
      format: WATCHES_FORMAT,
      watches: this.entries.map((e) => e.setup),
    })}\n`;
    this.saving = this.saving.then(async () => {
      try {
        await writeFileAtomic(this.file, body, { makeFolder: true });
      } catch (err) {
        this.log(`warning: could not save the watch list: ${String(err)}`);
      }
    });
    return this.saving;
  }

  private log(line: string): void {
    (this.opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }
}

export class WatchesError extends Error {
  constructor(
    readonly code: 'not-found' | 'rejected',
    message: string,
  ) {
    super(message);
    this.name = 'WatchesError';
  }
}

function infoOf(setup: WatchSetup): WatchInfo {
  return {
    id: setup.id,
    styleId: setup.styleId,
    styleName: setup.styleName,
    input: setup.input,
    output: setup.output,
    recursive: setup.recursive,
    format: setup.format,
    state: 'stopped',
    error: null,
    warnings: [],
    files: [],
    progress: null,
    since: null,
  };
}
