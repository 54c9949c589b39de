/**
 * The upload inbox's upkeep (`<library>/inbox`, filled by ./inbox.ts): what it holds, emptying
 * it on request, and what goes by itself.
 *
 * - At start (and every few hours while the studio runs): hidden temporaries of uploads that
 *   never finished (files/atomic-file's names, past its grace period) and drop folders left
 *   empty by given-up uploads are removed; so are uploaded images older than INBOX_KEEP_DAYS
 *   whose conversion finished — their results, wherever they were written, are the artist's
 *   and are never removed by themselves.
 * - "Empty inbox" removes everything in it, results too, after the artist confirmed; it is
 *   refused while a job, a watched folder or an upload uses the inbox.
 *
 * Which uploads were converted is kept in `<library>/inbox.json` (the ledger): a file the
 * studio reported done (or up to date) with its size and time then, and every output written
 * into the inbox, so a result is never taken for an upload. Only regular files directly in a
 * drop's own folder (isDropFolderName) are ever removed by themselves, and only when they still
 * have the size and time recorded. Nothing outside the inbox is touched: the walk never follows
 * a link (a link is removed as itself, by Empty only), and an inbox folder that is itself a
 * link is refused.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { INBOX_KEEP_DAYS, type FileTally, type InboxUsage } from '../../shared/ipc-files';
import type { ConvertFileInfo } from '../../shared/ipc-jobs';
import { CoalescedJsonWriter, readJsonFile, removeStaleTemporaries } from '../files/atomic-file';
import { InboxError, isDropFolderName, type Inbox } from './inbox';
import { isBelow } from './path-policy';

export const INBOX_LEDGER_FILE = 'inbox.json';
const LEDGER_FORMAT = 'patchwork-inbox-1';
const DAY_MS = 24 * 3600_000;
/** How often a running studio looks again (it may run for weeks under `serve`). */
export const UPKEEP_EVERY_MS = 6 * 3600_000;
/** An empty drop folder younger than this may be a drop whose first upload is starting. */
const EMPTY_DROP_GRACE_MS = 10 * 60_000;

/** A converted upload as the ledger has it: when, and its size and time then. */
interface Converted {
  at: string;
  size: number;
  mtimeMs: number;
}

interface Ledger {
  format: typeof LEDGER_FORMAT;
  /** By path relative to the inbox. */
  converted: Record<string, Converted>;
  /** Outputs written into the inbox, relative to it: never an upload. */
  results: string[];
}

/** What one round of upkeep removed (absolute paths). */
export interface UpkeepReport {
  temporaries: string[];
  emptyDrops: string[];
  converted: string[];
}

export interface InboxUpkeepOptions {
  /** `<library>/inbox.json`. */
  ledgerFile: string;
  /** Why the inbox is in use (a job or a watched folder holds a folder in it), or null. */
  inUse: (inside: (p: string) => boolean) => string | null;
  /** Days an uploaded, converted image is kept (default INBOX_KEEP_DAYS). */
  keepDays?: number;
  now?: () => number;
}

export class InboxUpkeep {
  private converted = new Map<string, Converted>();
  private results = new Set<string>();
  private readonly writer: CoalescedJsonWriter;
  private readonly now: () => number;
  private readonly keepDays: number;
  /** The inbox's real path too, when it differs (a library reached through a link). */
  private realRoot: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();
  /** Records and saves under way: dispose waits for them. */
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly inbox: Inbox,
    private readonly opts: InboxUpkeepOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.keepDays = opts.keepDays ?? INBOX_KEEP_DAYS;
    this.writer = new CoalescedJsonWriter(opts.ledgerFile, () => this.ledger(), {
      indent: 0,
      makeFolder: true,
    });
  }

  get root(): string {
    return path.resolve(this.inbox.root);
  }

  /** Reads the ledger and runs a first round; then again every UPKEEP_EVERY_MS. */
  async start(): Promise<UpkeepReport> {
    await this.load();
    this.realRoot = await fs.realpath(this.root).catch(() => null);
    const report = await this.tidy();
    this.timer = setInterval(() => void this.tidy().catch(() => undefined), UPKEEP_EVERY_MS);
    this.timer.unref();
    return report;
  }

  async dispose(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running.catch(() => undefined);
    while (this.writing.size) await Promise.all([...this.writing]);
  }

  /** Whether `p` is the inbox or lies in it (by its path as given, never through a link). */
  inside(p: string): boolean {
    const abs = path.resolve(p);
    return [this.root, this.realRoot].some((root) => root !== null && isWithin(root, abs));
  }

  /** A file a conversion reported: a finished upload goes on the ledger, an output too. */
  noteFile(file: ConvertFileInfo): void {
    const finished =
      file.status === 'done' || (file.status === 'skipped' && file.skip === 'up-to-date');
    if (finished) this.track(this.record(file));
  }

  private async record(file: ConvertFileInfo): Promise<void> {
    // The inbox may be newer than the studio, or be named through a link by the job.
    this.realRoot ??= await fs.realpath(this.root).catch(() => null);
    const output = file.output ? this.relative(file.output) : null;
    const input = this.relative(file.input);
    if (output !== null) this.results.add(output);
    const stat =
      input === null ? null : await fs.lstat(path.join(this.root, input)).catch(() => null);
    if (input !== null && stat?.isFile()) {
      const at = new Date(this.now()).toISOString();
      this.converted.set(input, { at, size: stat.size, mtimeMs: stat.mtimeMs });
    }
    if (output !== null || stat) await this.save();
  }

  private track(work: Promise<void>): void {
    const done = work.catch(() => undefined).finally(() => this.writing.delete(done));
    this.writing.add(done);
  }

  /** What the inbox holds, and whether it may be emptied now. */
  async usage(): Promise<InboxUsage> {
    const total = tally();
    const uploads = tally();
    if (await this.rootFolder()) {
      for (const entry of await listDir(this.root)) {
        const t = await measure(path.join(this.root, entry.name));
        add(total, t);
        if (entry.isDirectory() && isDropFolderName(entry.name)) add(uploads, t);
      }
    }
    return {
      path: this.root,
      total,
      uploads,
      busy: this.busyReason(),
      keepDays: this.keepDays,
    };
  }

  /** Removes everything in the inbox (it stays, empty); refused while anything uses it. */
  async empty(): Promise<FileTally> {
    const busy = this.busyReason();
    if (busy) throw new InboxError('rejected', `The inbox cannot be emptied now: ${busy}.`);
    return this.inbox.closedWhile(
      'the inbox is being emptied: drop the images again in a moment',
      'The inbox cannot be emptied now: images are being uploaded into it.',
      () => this.serially(() => this.removeAll()),
    );
  }

  /** One round: stale temporaries, abandoned drop folders, old converted uploads. */
  tidy(): Promise<UpkeepReport> {
    return this.serially(async () => {
      const report: UpkeepReport = { temporaries: [], emptyDrops: [], converted: [] };
      if (!(await this.rootFolder())) return report;
      this.realRoot ??= await fs.realpath(this.root).catch(() => null);
      report.temporaries = await removeStaleTemporaries(this.root, {
        recursive: true,
        now: this.now(),
      });
      const cutoff = this.now() - this.keepDays * DAY_MS;
      for (const drop of await listDir(this.root)) {
        if (!drop.isDirectory() || !isDropFolderName(drop.name)) continue;
        const dir = path.join(this.root, drop.name);
        if (this.opts.inUse((p) => overlaps(p, dir))) continue;
        for (const entry of await listDir(dir)) {
          if (!entry.isFile()) continue;
          const rel = path.join(drop.name, entry.name);
          if (await this.expired(rel, cutoff)) {
            const file = path.join(this.root, rel);
            if (await succeeded(fs.unlink(file))) report.converted.push(file);
          }
        }
        const stat = await fs.lstat(dir).catch(() => null);
        const abandoned = stat && stat.mtimeMs < this.now() - EMPTY_DROP_GRACE_MS;
        // Emptied just now by the round, or left empty by given-up uploads long ago.
        const emptied = report.converted.some((f) => path.dirname(f) === dir);
        // rmdir refuses a folder that holds anything.
        if ((emptied || abandoned) && (await succeeded(fs.rmdir(dir)))) report.emptyDrops.push(dir);
      }
      await this.forgetMissing();
      return report;
    });
  }

  // ─── inside ──────────────────────────────────────────────────────────────────────────────

  /** A converted upload past its days, unchanged since, and never an output. */
  private async expired(rel: string, cutoff: number): Promise<boolean> {
    const record = this.converted.get(rel);
    if (!record || this.results.has(rel)) return false;
    const stat = await fs.lstat(path.join(this.root, rel)).catch(() => null);
    return (
      stat !== null &&
      stat.isFile() &&
      stat.size === record.size &&
      stat.mtimeMs === record.mtimeMs &&
      stat.mtimeMs < cutoff
    );
  }

  private busyReason(): string | null {
    if (this.inbox.openUploads) return 'images are being uploaded into it';
    // A job on a folder in the inbox, or on one holding it (the library, recursively).
    return this.opts.inUse((p) => this.inside(p) || isWithin(path.resolve(p), this.root));
  }

  private async removeAll(): Promise<FileTally> {
    const removed = tally();
    if (await this.rootFolder()) {
      for (const entry of await listDir(this.root)) {
        add(removed, await removeTree(path.join(this.root, entry.name)));
      }
    }
    this.converted.clear();
    this.results.clear();
    await this.save();
    return removed;
  }

  /** The inbox is a real folder (true), missing (false), or refused (a link, a file). */
  private async rootFolder(): Promise<boolean> {
    const stat = await fs.lstat(this.root).catch(() => null);
    if (!stat) return false;
    if (!stat.isDirectory()) {
      throw new InboxError(
        'rejected',
        `${this.root} is ${stat.isSymbolicLink() ? 'a link' : 'not a folder'}: the studio does not look after an inbox that is not its own folder`,
      );
    }
    return true;
  }

  private relative(p: string): string | null {
    if (!p || !this.inside(p)) return null;
    const abs = path.resolve(p);
    const root = this.realRoot && !isWithin(this.root, abs) ? this.realRoot : this.root;
    const rel = path.relative(root, abs);
    return rel === '' ? null : rel;
  }

  private async forgetMissing(): Promise<void> {
    let changed = false;
    for (const rel of [...this.converted.keys(), ...this.results]) {
      const there = await fs.lstat(path.join(this.root, rel)).then(
        () => true,
        () => false,
      );
      if (there) continue;
      changed = this.converted.delete(rel) || changed;
      changed = this.results.delete(rel) || changed;
    }
    if (changed) await this.save();
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.running.then(work, work);
    this.running = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<void> {
    const raw = (await readJsonFile(this.opts.ledgerFile).catch(() => null)) as Ledger | null;
    // An unreadable ledger forgets which uploads were converted: none is removed by itself.
    if (raw?.format !== LEDGER_FORMAT) return;
    for (const [rel, c] of Object.entries(raw.converted ?? {})) {
      if (safeRelative(rel) && typeof c?.size === 'number' && typeof c.mtimeMs === 'number') {
        this.converted.set(rel, { at: String(c.at), size: c.size, mtimeMs: c.mtimeMs });
      }
    }
    for (const rel of Array.isArray(raw.results) ? raw.results : []) {
      if (typeof rel === 'string' && safeRelative(rel)) this.results.add(rel);
    }
  }

  private ledger(): Ledger {
    return {
      format: LEDGER_FORMAT,
      converted: Object.fromEntries(this.converted),
      results: [...this.results],
    };
  }

  private save(): Promise<void> {
    const saved = this.writer.save().catch((err: unknown) => {
      process.stderr.write(`warning: could not save the inbox's ledger: ${String(err)}\n`);
    });
    this.track(saved);
    return saved;
  }
}

// ─── files ───────────────────────────────────────────────────────────────────────────────

function tally(): FileTally {
  return { files: 0, bytes: 0 };
}

function add(to: FileTally, t: FileTally): void {
  to.files += t.files;
  to.bytes += t.bytes;
}

/** Whether a file operation went through (a failed one leaves things as they were). */
function succeeded(op: Promise<unknown>): Promise<boolean> {
  return op.then(
    () => true,
    () => false,
  );
}

/** `abs` is `root` or lies below it, by their letters. */
function isWithin(root: string, abs: string): boolean {
  return abs === root || isBelow(abs, root);
}

/** Whether either path holds the other: a job on a drop's folder, or on the whole inbox. */
function overlaps(a: string, b: string): boolean {
  return isWithin(path.resolve(a), path.resolve(b)) || isWithin(path.resolve(b), path.resolve(a));
}

/** A ledger's key: relative, inside, no `..`. */
function safeRelative(rel: string): boolean {
  return rel !== '' && !path.isAbsolute(rel) && !rel.split(/[\\/]/).includes('..');
}

async function listDir(dir: string) {
  return fs.readdir(dir, { withFileTypes: true }).catch(() => []);
}

/** Files and bytes under `p` (lstat: a link counts as itself). */
async function measure(p: string): Promise<FileTally> {
  const stat = await fs.lstat(p).catch(() => null);
  if (!stat) return tally();
  if (!stat.isDirectory()) return { files: 1, bytes: stat.size };
  const t = tally();
  for (const entry of await listDir(p)) add(t, await measure(path.join(p, entry.name)));
  return t;
}

/** Removes `p` and what is under it, never through a link; answers what went. */
async function removeTree(p: string): Promise<FileTally> {
  const stat = await fs.lstat(p).catch(() => null);
  if (!stat) return tally();
  if (!stat.isDirectory()) {
    return fs.unlink(p).then(
      () => ({ files: 1, bytes: stat.size }),
      () => tally(),
    );
  }
  const t = tally();
  for (const entry of await listDir(p)) add(t, await removeTree(path.join(p, entry.name)));
  await fs.rmdir(p).catch(() => undefined);
  return t;
}
