/**
 * A watched folder: images that appear in it (or change) are converted into the output
 * folder once they are completely written.
 *
 * What it does, and the choices made:
 * - Complete files only: a file is handed over when its size has not changed for
 *   `stableMs` (chokidar's awaitWriteFinish; chokidar does not apply it before its initial
 *   scan ends, so what it reports until then gets the same wait here). Patchwork's
 *   temporaries and every hidden file are ignored, and so is the output folder when it lies
 *   inside the watched one, so outputs are never converted again.
 * - Files already in the folder when watching starts are looked at too; the manifest makes
 *   that cheap: what was converted with this style and settings is skipped, so a file is
 *   never converted twice, across restarts included. A file that failed and has not changed
 *   since is not retried (nor reported again) until it changes.
 * - The queue of files seen but not yet converted is saved in the output folder
 *   (.patchwork-watch.json, atomically) whenever it changes. On start those files are queued
 *   first, once their size is stable; those gone meanwhile are reported as removed. A file
 *   still being written when watching stopped is simply found again at the next start.
 * - A changed input is converted again and its output replaced (atomically). A deleted input
 *   leaves its output alone (Patchwork never deletes what it wrote; the user may have kept it
 *   on purpose); if it was still waiting it is dropped. A rename or move is a deletion plus a
 *   new file: the file is converted under its new name and the old output stays.
 * - If the output folder disappears, the queue fails what is left and the watcher stops.
 * - Files chokidar never reports are found anyway. chokidar re-reads a folder when something in
 *   it changes, at most once a second, and drops the changes that come during a read that
 *   outlasts that second (the process busy translating): a file that appears after the read
 *   listed the folder is then never reported, unless something else changes there later
 *   (and a read that ends late can drop a file it did not list, reported as removed or not
 *   at all). So SWEEP_MS after a change in a folder (at most once per SWEEP_MS while changes
 *   go on), and after each removal, the folder is listed here too, and an image that
 *   chokidar does not know of and that was not taken already is taken like one found at
 *   start: once its size holds still, unless it was taken or chokidar found it meanwhile.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { AllowedRoots, OUTSIDE_ALLOWED } from '../../services/path-policy';
import { CoalescedJsonWriter, readJsonFile } from '../../files/atomic-file';
import { ConvertQueue, type QueueEvent } from './convert-queue';
import type { ConvertEngine, ConvertSettings, FormatChoice } from './convert-settings';
import { ConvertManifest } from './manifest';
import { inOutputTree, isImagePath, isInside, OutputNamer, PlanError, resolveRoots } from './plan';
import type { Roots } from './plan';

export const PENDING_FILE = '.patchwork-watch.json';
export const PENDING_FORMAT = 'patchwork-watch-pending-1';

export interface WatchOptions {
  input: string;
  output: string;
  recursive?: boolean;
  format?: FormatChoice;
  engine: ConvertEngine;
  styleId: string;
  settings: ConvertSettings;
  /** How long a file's size must hold still before it is converted (default 2000 ms). */
  stableMs?: number;
  /** How often a growing file is looked at (default stableMs / 4, at most 100 ms). */
  pollMs?: number;
  /** Poll the file system instead of using native events (network drives). */
  usePolling?: boolean;
  checksum?: boolean;
  parallelFiles?: number;
  /** Files that link outside these folders are left out, with a warning each (absent: none). */
  allowedRoots?: readonly string[];
  /**
   * Runs once the folders are checked and the output folder exists, before the watcher reads
   * or writes anything there (the watch job takes the folder and clears leftovers here).
   */
  prepareOutput?: (outputRoot: string) => Promise<void>;
  onEvent?: (event: WatchEvent) => void;
}

export type WatchEvent =
  | QueueEvent
  /** The files present at start have been found (they may still be converting). */
  | { type: 'ready'; restored: number }
  /** An input was deleted or moved away; a waiting one is dropped, its output kept. */
  | { type: 'removed'; input: string }
  | { type: 'stopped'; reason: string | null };

export class FolderWatcher {
  private watcher: FSWatcher | null = null;
  private readonly tasks = new Set<Promise<void>>();
  private stopping: Promise<void> | null = null;
  private pendingWarned = false;
  private readonly pending: CoalescedJsonWriter;
  /** Files from the saved queue or the initial scan, waiting for their size to hold still. */
  private readonly settling = new Set<string>();
  private readonly halt = new AbortController();
  private initialScanDone = false;
  /** Inputs handed on to be queued, until chokidar reports them removed. */
  private readonly taken = new Set<string>();
  /** Folders that changed since the last sweep, and the sweep's timer. */
  private readonly toSweep = new Set<string>();
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Resolves once the files present at start have been found. */
  readonly ready: Promise<void>;
  private markReady: () => void = () => undefined;

  private constructor(
    private readonly opts: WatchOptions,
    private readonly roots: Roots,
    readonly queue: ConvertQueue,
    private readonly namer: OutputNamer,
    private readonly allowed: AllowedRoots | null,
  ) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.pending = new CoalescedJsonWriter(path.join(roots.outputRoot, PENDING_FILE), () => ({
      format: PENDING_FORMAT,
      input: roots.inputRoot,
      pending: [...new Set([...this.settling, ...queue.pendingInputs()])],
    }));
    queue.on((e) => this.onQueueEvent(e));
  }

  static async start(opts: WatchOptions): Promise<FolderWatcher> {
    const roots = await resolveRoots(opts.input, opts.output);
    if (roots.kind !== 'dir') {
      throw new PlanError('input-not-folder', `${roots.input} is a file: watch needs a folder`);
    }
    const allowed = opts.allowedRoots ? await AllowedRoots.of(opts.allowedRoots) : null;
    if (allowed && !(await allowed.holds(roots.input))) {
      throw new PlanError(
        'outside-allowed-folders',
        `${roots.input} lies outside the folders this studio may use (or links there)`,
      );
    }
    await fs.mkdir(roots.outputRoot, { recursive: true });
    await opts.prepareOutput?.(roots.outputRoot);
    const manifest = await ConvertManifest.open(roots.outputRoot);
    const emit = (e: WatchEvent) => opts.onEvent?.(e);
    if (manifest.warning) emit({ type: 'warning', message: manifest.warning });
    const queue = new ConvertQueue(opts.engine, {
      outputRoot: roots.outputRoot,
      manifest,
      styleId: opts.styleId,
      settings: opts.settings,
      retryFailed: false,
      checksum: opts.checksum,
      parallelFiles: opts.parallelFiles,
    });
    const namer = new OutputNamer({
      inputRoot: roots.inputRoot,
      outputRoot: roots.outputRoot,
      format: opts.format ?? 'same',
      claims: manifest.claims(),
    });
    const w = new FolderWatcher(opts, roots, queue, namer, allowed);
    const restored = await w.restore(path.join(roots.outputRoot, PENDING_FILE));
    w.watch(restored.length);
    return w;
  }

  /** Stops watching, lets the files in flight finish and saves what is still waiting. */
  stop(reason: string | null = null): Promise<void> {
    this.stopping ??= (async () => {
      this.halt.abort();
      if (this.sweepTimer) clearTimeout(this.sweepTimer);
      this.sweepTimer = null;
      await this.watcher?.close();
      while (this.tasks.size) await Promise.all([...this.tasks]);
      await this.queue.stop();
      await this.savePending();
      this.markReady();
      this.opts.onEvent?.({ type: 'stopped', reason });
    })();
    return this.stopping;
  }

  // ─── events ──────────────────────────────────────────────────────────────────────────────

  private watch(restored: number): void {
    const stableMs = this.opts.stableMs ?? 2000;
    const { outputRoot, outputReal, inputRoot } = this.roots;
    this.watcher = watch(inputRoot, {
      ignoreInitial: false,
      depth: this.opts.recursive ? undefined : 0,
      usePolling: this.opts.usePolling ?? false,
      awaitWriteFinish: {
        stabilityThreshold: stableMs,
        pollInterval: this.opts.pollMs ?? Math.max(10, Math.min(100, stableMs / 4)),
      },
      ignored: (p: string) =>
        (p !== inputRoot && path.basename(p).startsWith('.')) ||
        p === outputRoot ||
        isInside(p, outputRoot) ||
        p === outputReal ||
        isInside(p, outputReal),
    });
    this.watcher
      .on('add', (p) => this.track(this.settled(p)))
      .on('change', (p) => this.track(this.settled(p)))
      .on('unlink', (p) => this.removed(p))
      .on('raw', (_event, p, details) => this.changedIn(p, details))
      .on('error', (err) => {
        const message = err instanceof Error ? err.message : String(err);
        this.opts.onEvent?.({ type: 'warning', message: `watching: ${message}` });
      })
      .on('ready', () => {
        this.initialScanDone = true;
        this.markReady();
        this.opts.onEvent?.({ type: 'ready', restored });
      });
  }

  /**
   * A raw change in a watched folder (or of a watched file): its folder is swept SWEEP_MS after
   * the first change since the last sweep. Native events name the watched path in `details`;
   * polled ones pass it as `p`.
   */
  private changedIn(p: string, details: unknown): void {
    const watched = (details as { watchedPath?: unknown } | null | undefined)?.watchedPath;
    const where = typeof watched === 'string' ? watched : p;
    if (path.isAbsolute(where)) this.sweepLater(where);
  }

  private sweepLater(dir: string): void {
    if (this.stopping) return;
    this.toSweep.add(dir);
    this.sweepTimer ??= setTimeout(() => {
      this.sweepTimer = null;
      this.track(this.sweep());
    }, SWEEP_MS);
  }

  /**
   * Lists the folders that changed and takes the images that neither chokidar knows of nor
   * were taken already.
   */
  private async sweep(): Promise<void> {
    const { inputRoot } = this.roots;
    const places = [...this.toSweep];
    this.toSweep.clear();
    for (const dir of places) {
      if (this.stopping) return;
      const inScope = dir === inputRoot || (this.opts.recursive && isInside(dir, inputRoot));
      if (!inScope || (await inOutputTree(dir, this.roots))) continue;
      // A watched file's path is no folder: nothing to list.
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
      const known = new Set(this.watcher?.getWatched()[dir] ?? []);
      for (const e of entries) {
        const file = path.join(dir, e.name);
        if (!(e.isFile() || e.isSymbolicLink()) || e.name.startsWith('.')) continue;
        if (known.has(e.name) || this.taken.has(file) || this.settling.has(file)) continue;
        if (!isImagePath(file)) continue;
        this.track(this.whenStable(file, { missed: true }));
      }
    }
  }

  /** Whether chokidar watches `file` (it then reports it itself once it holds still). */
  private tracked(file: string): boolean {
    const children = this.watcher?.getWatched()[path.dirname(file)] ?? [];
    return children.includes(path.basename(file));
  }

  private onQueueEvent(e: QueueEvent): void {
    this.opts.onEvent?.(e);
    if (e.type === 'file' || e.type === 'idle') void this.savePending();
    if (e.type === 'aborted') void this.stop(e.message);
  }

  /**
   * chokidar applies awaitWriteFinish only once its initial scan is over ('ready'): until
   * then its events (a file found by the scan, or one changing meanwhile) may come while the
   * file is still being written, so they get the same wait here.
   */
  private settled(file: string): Promise<void> {
    return this.initialScanDone ? this.arrived(file) : this.whenStable(file);
  }

  private async arrived(file: string): Promise<void> {
    this.taken.add(file);
    if (this.stopping || !isImagePath(file) || (await inOutputTree(file, this.roots))) return;
    // chokidar follows links, so each file is checked where it really is, when it is taken.
    if (this.allowed && !(await this.allowed.holds(file))) {
      this.opts.onEvent?.({
        type: 'warning',
        message: `${file} is left out (${OUTSIDE_ALLOWED}): it links outside the folders this studio may use`,
      });
      return;
    }
    const [planned] = await this.namer.assign([file]);
    if (!this.stopping) this.queue.add(planned);
  }

  private removed(file: string): void {
    if (!isImagePath(file)) return;
    this.taken.delete(file);
    // chokidar also reports a file it merely lost track of (a folder read that ended late):
    // if it is still there, the sweep takes it again.
    this.sweepLater(path.dirname(file));
    if (this.settling.has(file)) return; // whenStable notices and reports it
    this.queue.remove(file);
    this.opts.onEvent?.({ type: 'removed', input: file });
  }

  private track(task: Promise<void>): void {
    const t = task.catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      this.opts.onEvent?.({ type: 'warning', message });
    });
    this.tasks.add(t);
    void t.finally(() => this.tasks.delete(t));
  }

  // ─── the saved queue ─────────────────────────────────────────────────────────────────────

  /** Queues the files a previous run had still to do, each once its size holds still. */
  private async restore(file: string): Promise<string[]> {
    const saved = (await readJsonFile(file).catch(() => null)) as {
      format?: unknown;
      input?: unknown;
      pending?: unknown;
    } | null;
    const ok = saved?.format === PENDING_FORMAT && saved.input === this.roots.inputRoot;
    const list = ok && Array.isArray(saved.pending) ? saved.pending : [];
    const inputs = list.filter(
      (p): p is string => typeof p === 'string' && isInside(p, this.roots.inputRoot),
    );
    for (const input of inputs) this.track(this.whenStable(input));
    return inputs;
  }

  /**
   * Queues a file once its size and time have held still for stableMs. A file chokidar
   * `missed` is dropped if it was taken meanwhile, or gone (it was never reported, so its
   * removal is not either); if chokidar has found it meanwhile it is left to chokidar, and
   * its folder swept again in case chokidar loses it before reporting it.
   */
  private async whenStable(input: string, { missed = false } = {}): Promise<void> {
    if (!isImagePath(input) || this.settling.has(input)) return;
    const stableMs = this.opts.stableMs ?? 2000;
    this.settling.add(input);
    let last = await sizeAndTime(input);
    // Stopping ends the wait; the file then stays in the saved queue for the next start.
    while (last !== null && (await sleep(stableMs, this.halt.signal))) {
      const now = await sizeAndTime(input);
      if (now === last) break;
      last = now;
    }
    if (this.stopping) return;
    this.settling.delete(input);
    if (missed && (last === null || this.taken.has(input))) return;
    if (missed && this.tracked(input)) return this.sweepLater(path.dirname(input));
    if (last === null) this.removed(input);
    else await this.arrived(input);
  }

  private async savePending(): Promise<void> {
    try {
      await this.pending.save();
    } catch (err) {
      if (this.pendingWarned) return;
      this.pendingWarned = true;
      const why = err instanceof Error ? err.message : String(err);
      this.opts.onEvent?.({ type: 'warning', message: `could not save the watch queue: ${why}` });
    }
  }
}

/** How long after a folder changes it is listed for files chokidar missed (see the top). */
const SWEEP_MS = 1500;

async function sizeAndTime(file: string): Promise<string | null> {
  const s = await fs.stat(file).catch(() => null);
  return s?.isFile() ? `${s.size}:${s.mtimeMs}` : null;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (slept: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      resolve(slept);
    };
    const stop = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', stop);
  });
}
