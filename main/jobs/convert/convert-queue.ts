/**
 * The conversion queue: files in, per-file outcomes and progress out.
 *
 * Up to `parallelFiles` files are in flight (default 3): while the engine translates one,
 * the next is being decoded and the previous encoded, so reading and writing large images
 * hide behind the network's work; the engine itself gets one file at a time (a FIFO turn).
 * A file that fails, for whatever reason, is reported with a reason and skipped; the batch
 * goes on. The exception is an output folder that disappears: then nothing else can be
 * written, so every remaining file fails with 'output-missing' and the queue stops
 * ('aborted'), rather than recreating a folder the user removed.
 *
 * Before a file is decoded it is checked against the manifest: an output made from the same
 * input contents, style and settings that is still on disk is skipped ('up-to-date').
 *
 * While a file is translated tile by tile, its `fraction` of tiles done is reported with its
 * 'file' event, at most every FRACTION_EVERY_MS per file (the studio's time left uses it).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  classifyFailure,
  type ConvertEngine,
  type ConvertSettings,
  type Failure,
  type Stage,
} from './convert-settings';
import {
  settingsKey,
  stampOf,
  type ConvertManifest,
  type InputStamp,
  type Wanted,
} from './manifest';
import type { PlannedFile } from './plan';
import type { OUTSIDE_ALLOWED } from '../../services/path-policy';
import type { ConvertProgressInfo } from '../../../shared/ipc-jobs';

export type FileStatus = 'queued' | 'converting' | 'done' | 'skipped' | 'failed';
export type ConvertStage = 'decoding' | 'translating' | 'encoding';
/** up-to-date: converted before; failed-before: unchanged since it failed (watching only);
 * removed: the input was deleted while it waited. */
export type SkipReason =
  | 'up-to-date'
  | 'failed-before'
  | 'removed'
  /** A link leading outside the folders the studio may use: never read (path-policy.ts). */
  | typeof OUTSIDE_ALLOWED;

export interface FileState extends PlannedFile {
  status: FileStatus;
  stage?: ConvertStage;
  skip?: SkipReason;
  failure?: Failure;
  /** Encoder notes for a done file (e.g. alpha dropped for JPEG). */
  notes?: string[];
  /** Wall time from the start of decoding to the end of writing. */
  seconds?: number;
  /** While translating tile by tile: the tiles done, 0–1 (absent when not known). */
  fraction?: number;
}

/** The studio's progress (counts and time left) plus the queue's own timing. */
export interface QueueProgress extends ConvertProgressInfo {
  /** Seconds the queue has spent with work in flight. */
  busySeconds: number;
  /** Busy seconds per file converted (or failed after decoding started). */
  secondsPerFile: number | null;
}

export type QueueEvent =
  | { type: 'file'; file: FileState }
  | { type: 'progress'; progress: QueueProgress }
  | { type: 'idle'; progress: QueueProgress }
  | { type: 'aborted'; message: string }
  | { type: 'warning'; message: string };

export interface ConvertQueueOptions {
  outputRoot: string;
  manifest: ConvertManifest;
  /** styleIdOf(styleDir): outputs of another style are not up to date. */
  styleId: string;
  settings: ConvertSettings;
  /** Files in flight at once (decode ahead, translate, encode behind); at least 1. */
  parallelFiles?: number;
  /** Convert even what the manifest says is up to date. */
  force?: boolean;
  /** Retry files that failed before and have not changed since (default true). */
  retryFailed?: boolean;
  /** Record and compare a SHA-256 of each input, so a touched file is not converted again. */
  checksum?: boolean;
  onEvent?: (event: QueueEvent) => void;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}

interface Item {
  state: FileState;
  /** Decoding started: the file counts towards the time per file. */
  worked?: boolean;
  /** When this file's last event went out (ms): fractions are throttled from it. */
  toldAt?: number;
}

/** A file's fraction of tiles done is told at most this often (4 times a second). */
export const FRACTION_EVERY_MS = 250;

export class ConvertQueue {
  private readonly items: FileState[] = [];
  private readonly waiting: Item[] = [];
  private readonly waitingInputs = new Set<string>();
  /** Files per status, kept as they change: progress is asked for after every event. */
  private readonly counts: Record<FileStatus, number> = {
    queued: 0,
    converting: 0,
    done: 0,
    skipped: 0,
    failed: 0,
  };
  private readonly inFlight = new Map<string, Item>();
  /** Inputs added again while in flight: re-checked once the current run of them ends. */
  private readonly again = new Map<string, PlannedFile>();
  private readonly running = new Set<Promise<void>>();
  private readonly listeners = new Set<(e: QueueEvent) => void>();
  private idleWaiters: (() => void)[] = [];
  private engineTurn: Promise<unknown> = Promise.resolve();
  private readonly settingsKey: string;
  private readonly parallel: number;
  private readonly now: () => number;
  private aborted: string | null = null;
  private stopped = false;
  private busySince: number | null = null;
  private busyMs = 0;
  private worked = 0;
  private manifestWarned = false;
  /** Something was added since the last 'idle' event. */
  private hadWork = false;

  constructor(
    private readonly engine: ConvertEngine,
    private readonly opts: ConvertQueueOptions,
  ) {
    this.settingsKey = settingsKey(opts.settings);
    this.parallel = Math.max(1, Math.floor(opts.parallelFiles ?? 3));
    this.now = opts.now ?? Date.now;
    if (opts.onEvent) this.listeners.add(opts.onEvent);
  }

  /** Listens to every event; returns the way to stop listening. */
  on(listener: (e: QueueEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Queues files. An input already waiting is not queued twice; one being converted is
   * looked at again when that conversion ends (and converted again only if it changed).
   */
  add(files: PlannedFile | readonly PlannedFile[]): void {
    for (const file of [files].flat()) {
      if (this.waitingInputs.has(file.input)) continue;
      if (this.inFlight.has(file.input)) {
        this.again.set(file.input, file);
        continue;
      }
      const state: FileState = { ...file, status: 'queued' };
      this.items.push(state);
      this.counts.queued += 1;
      this.waiting.push({ state });
      this.waitingInputs.add(file.input);
      this.hadWork = true;
      this.emit({ type: 'file', file: { ...state } });
    }
    if (this.aborted) this.failWaiting();
    this.pump();
    this.emitProgress();
  }

  /** Drops a waiting input (it was deleted); false if it is not waiting. */
  remove(input: string): boolean {
    this.again.delete(input);
    const at = this.waiting.findIndex((w) => w.state.input === input);
    if (at < 0) return false;
    const [item] = this.waiting.splice(at, 1);
    this.waitingInputs.delete(input);
    this.update(item, { status: 'skipped', skip: 'removed' });
    this.settle();
    return true;
  }

  /** Every file added so far with its latest state (a re-added file appears again). */
  files(): FileState[] {
    return this.items.map((s) => ({ ...s }));
  }

  /** Inputs waiting or in flight, in queue order: what a restart would still have to do. */
  pendingInputs(): string[] {
    const inputs = [...this.inFlight.keys(), ...this.waiting.map((w) => w.state.input)];
    return [...new Set([...inputs, ...this.again.keys()])];
  }

  get abortReason(): string | null {
    return this.aborted;
  }

  /** Resolves when nothing is waiting or in flight (or, once stopped, nothing in flight). */
  whenIdle(): Promise<QueueProgress> {
    return new Promise((resolve) => {
      const check = () => resolve(this.progress());
      if (this.isIdle()) check();
      else this.idleWaiters.push(check);
    });
  }

  /** Starts nothing new, lets the files in flight finish, saves the manifest. */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.running.size) await Promise.all([...this.running]);
    await this.saveManifest();
    this.settle();
  }

  progress(): QueueProgress {
    const { queued, converting, done, skipped, failed } = this.counts;
    const busyMs = this.busyMs + (this.busySince === null ? 0 : this.now() - this.busySince);
    const secondsPerFile = this.worked ? busyMs / 1000 / this.worked : null;
    return {
      total: this.items.length,
      queued,
      converting,
      done,
      skipped,
      failed,
      busySeconds: busyMs / 1000,
      secondsPerFile,
      etaSeconds: secondsPerFile === null ? null : (queued + converting) * secondsPerFile,
    };
  }

  // ─── scheduling ──────────────────────────────────────────────────────────────────────────

  private pump(): void {
    while (!this.stopped && !this.aborted && this.inFlight.size < this.parallel) {
      const item = this.waiting.shift();
      if (!item) break;
      this.waitingInputs.delete(item.state.input);
      this.inFlight.set(item.state.input, item);
      if (this.busySince === null) this.busySince = this.now();
      const run: Promise<void> = this.process(item)
        .catch((err: unknown) => this.fail(item, classifyFailure(err, 'encode')))
        .finally(() => {
          this.running.delete(run);
          this.finished(item);
        });
      this.running.add(run);
    }
  }

  private finished(item: Item): void {
    this.inFlight.delete(item.state.input);
    if (item.worked) this.worked += 1;
    const again = this.again.get(item.state.input);
    this.again.delete(item.state.input);
    if (this.inFlight.size === 0 && this.busySince !== null) {
      this.busyMs += this.now() - this.busySince;
      this.busySince = null;
    }
    if (again && !this.aborted) {
      this.add(again); // pumps and reports progress
    } else {
      this.pump();
      this.emitProgress();
    }
    this.settle();
  }

  private isIdle(): boolean {
    return (
      this.inFlight.size === 0 && (this.stopped || this.aborted !== null || !this.waiting.length)
    );
  }

  private settle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    if (this.hadWork) this.emit({ type: 'idle', progress: this.progress() });
    this.hadWork = false;
    for (const w of waiters) w();
  }

  /** The engine's work, one file at a time, in the order files asked for it. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.engineTurn.then(work);
    this.engineTurn = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  // ─── one file ────────────────────────────────────────────────────────────────────────────

  private async process(item: Item): Promise<void> {
    const { input } = item.state;
    const want = await this.wanted(input).catch((err: unknown) => {
      this.fail(item, classifyFailure(err, 'read'));
      return null;
    });
    if (!want) return;
    const skip = await this.skipReason(item.state, want);
    if (skip) return this.update(item, { status: 'skipped', skip });
    const started = this.now();
    item.worked = true;
    this.update(item, { status: 'converting', stage: 'decoding' });
    const translated = await this.decodeAndTranslate(item, want);
    if (translated === FAILED) return;
    this.update(item, { stage: 'encoding' });
    if (!(await this.prepareOutputFolder(item))) return;
    // The output's record is on disk before the new file takes its name, and so before it is
    // reported done: a process killed at any moment leaves either a file that the record names
    // (skipped next time) or a record with no file (converted again), never a finished file
    // that the next run converts again. An older output of that name goes first, so a record
    // saved for the new one never vouches for the old.
    let recorded = false;
    const record = async () => {
      this.opts.manifest.recordOutput(item.state.relative, want, this.opts.settings);
      await this.saveManifest();
      recorded = true;
    };
    const beforeRename = async () => {
      await fs.rm(item.state.output, { force: true });
      await record();
    };
    const outcome = await this.stage(item, want, 'encode', () =>
      this.engine.encode(translated, item.state.output, input, { beforeRename }),
    );
    if (outcome === FAILED) return;
    // An engine that does not call the hook: record what it wrote, after the fact.
    if (!recorded) await record();
    const notes = outcome?.notes?.length ? { notes: outcome.notes } : {};
    const seconds = (this.now() - started) / 1000;
    this.update(item, { status: 'done', stage: undefined, seconds, ...notes });
  }

  /**
   * Its own function so the decoded input can be collected while the output is encoded. The
   * input is stamped again once read: if it changed meanwhile (rewritten as the read began),
   * what was read may be the new contents while `want` holds the old size and time, and the
   * record would then send those same contents through again. It is read again, up to
   * READ_TRIES times, until a read starts and ends on the same stamp, and `want` takes it.
   */
  private async decodeAndTranslate(item: Item, want: Wanted): Promise<unknown> {
    let decoded: unknown = FAILED;
    for (let tries = 0; tries < READ_TRIES; tries++) {
      decoded = await this.stage(item, want, 'decode', () => this.engine.decode(want.input));
      if (decoded === FAILED) return FAILED;
      const after = await stampOf(want.input, this.opts.checksum).catch(() => null);
      // Gone or unchanged: what was read is what the stamp says (a deleted input keeps it).
      if (after === null || sameStamp(after, want.stamp)) break;
      want.stamp = after;
    }
    return this.stage(item, want, 'translate', () =>
      this.exclusive(() => {
        this.update(item, { stage: 'translating' });
        return this.engine.translate(decoded, (done, total) => this.tiles(item, done, total));
      }),
    );
  }

  private async wanted(input: string): Promise<Wanted> {
    const stamp = await stampOf(input, this.opts.checksum);
    return { input, stamp, style: this.opts.styleId, settings: this.settingsKey };
  }

  private async skipReason(file: FileState, want: Wanted): Promise<SkipReason | null> {
    const { manifest, force, retryFailed = true } = this.opts;
    if (force) return null;
    if (manifest.isCurrent(file.relative, want) && (await isFile(file.output))) return 'up-to-date';
    if (!retryFailed && manifest.failedBefore(want)) return 'failed-before';
    return null;
  }

  /** Runs one stage; a failure is reported (and recorded) here and becomes FAILED. */
  private async stage<T>(
    item: Item,
    want: Wanted,
    stage: Stage,
    work: () => Promise<T>,
  ): Promise<T | typeof FAILED> {
    try {
      return await work();
    } catch (err) {
      const failure = classifyFailure(err, stage);
      if (stage === 'encode' && !(await isFolder(this.opts.outputRoot))) {
        this.abort(item);
        return FAILED;
      }
      this.fail(item, failure);
      this.opts.manifest.recordFailure(want, this.opts.settings, failure.reason, failure.message);
      void this.saveManifest();
      return FAILED;
    }
  }

  /** Creates the output's subfolders below the output folder, but never the folder itself. */
  private async prepareOutputFolder(item: Item): Promise<boolean> {
    const root = this.opts.outputRoot;
    if (!(await isFolder(root))) {
      this.abort(item);
      return false;
    }
    const rel = path.relative(root, path.dirname(item.state.output));
    let dir = root;
    try {
      for (const part of rel ? rel.split(path.sep) : []) {
        dir = path.join(dir, part);
        await fs.mkdir(dir).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
      }
      return true;
    } catch (err) {
      if (!(await isFolder(root))) this.abort(item);
      else this.fail(item, classifyFailure(err, 'encode'));
      return false;
    }
  }

  private abort(item: Item): void {
    const message = `the output folder ${this.opts.outputRoot} disappeared`;
    this.fail(item, { reason: 'output-missing', message });
    if (this.aborted) return;
    this.aborted = message;
    this.emit({ type: 'aborted', message: `${message}; the remaining files were not converted` });
    this.failWaiting();
  }

  private failWaiting(): void {
    const message = `not converted: ${this.aborted ?? 'the queue stopped'}`;
    this.waitingInputs.clear();
    for (const item of this.waiting.splice(0)) {
      this.fail(item, { reason: 'output-missing', message });
    }
    this.again.clear();
  }

  /** Tiles done of a file being translated: its fraction, told at most every 250 ms. */
  private tiles(item: Item, done: number, total: number): void {
    if (item.state.stage !== 'translating' || !(total > 0)) return;
    const now = this.now();
    if (item.toldAt !== undefined && now - item.toldAt < FRACTION_EVERY_MS) return;
    this.update(item, { fraction: Math.min(1, Math.max(0, done / total)) });
  }

  private fail(item: Item, failure: Failure): void {
    this.update(item, { status: 'failed', stage: undefined, failure });
  }

  private update(item: Item, patch: Partial<FileState>): void {
    if (patch.status && patch.status !== item.state.status) {
      this.counts[item.state.status] -= 1;
      this.counts[patch.status] += 1;
    }
    // A fraction is of the translation under way: a new stage or status ends it.
    if (('stage' in patch || 'status' in patch) && !('fraction' in patch)) {
      delete item.state.fraction;
    }
    Object.assign(item.state, patch);
    if (patch.stage === undefined && 'stage' in patch) delete item.state.stage;
    item.toldAt = this.now();
    this.emit({ type: 'file', file: { ...item.state } });
  }

  private async saveManifest(): Promise<void> {
    try {
      await this.opts.manifest.save();
    } catch (err) {
      // Most often the output folder is gone, which the files themselves report; say it once.
      if (this.manifestWarned) return;
      this.manifestWarned = true;
      const why = err instanceof Error ? err.message : String(err);
      this.emit({ type: 'warning', message: `could not save the conversion manifest: ${why}` });
    }
  }

  private emitProgress(): void {
    this.emit({ type: 'progress', progress: this.progress() });
  }

  private emit(event: QueueEvent): void {
    for (const l of this.listeners) l(event);
  }
}

const FAILED = Symbol('failed');
/** Reads of an input that keeps changing as it is read, before the last one is used. */
const READ_TRIES = 3;

function sameStamp(a: InputStamp, b: InputStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.sha256 === b.sha256;
}

async function isFolder(dir: string): Promise<boolean> {
  return fs.stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
