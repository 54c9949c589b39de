/**
 * `patchwork convert` and `patchwork watch`: apply a trained style to a file, a folder (with
 * its subfolders on request) or a folder that is watched for new images. Outputs go to their
 * own folder with the conversion manifest, so running the same command again only converts
 * what is new or changed. Exit codes: 0 all converted (or already up to date), 3 some files
 * failed (each is listed with the reason), 1 the style, input or output folder is unusable.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { ENGINE_CHOICES, holdsSixteenBits, ICC_CHOICES } from '../../shared/convert-options';
import type { ConvertJobSpec } from '../../shared/ipc-worker';
import { BACKEND_CHOICES } from '../../shared/jobs';
import { runConvertJob } from '../jobs/convert/convert-job';
import type { FileState, QueueEvent, QueueProgress } from '../jobs/convert/convert-queue';
import {
  FAILURE_TEXT,
  type ConvertSettings,
  type FormatChoice,
} from '../jobs/convert/convert-settings';
import { PlanError } from '../jobs/convert/plan';
import { runWatchJob } from '../jobs/convert/watch-job';
import type { WatchEvent } from '../jobs/convert/watcher';
import { int, oneOf, threadCount, THREADS_HELP, useThreads } from './args';
import type { ThreadSetting } from '../../shared/threads';
import { EXIT, UsageError } from './errors';
import { formatDuration, progressLine, type ProgressLine } from './progress';
import { FORMAT_CHOICES } from '../../shared/image-formats';

export interface ConvertFlags {
  style: string;
  input: string;
  output: string;
  format: FormatChoice;
  quality?: number;
  bitDepth: '8' | '16';
  recursive?: boolean;
  memoryBudget?: number;
  tile?: number;
  keepMetadata?: boolean;
  icc: ConvertSettings['icc'];
  backend: ConvertJobSpec['backend'];
  engine: NonNullable<ConvertJobSpec['engine']>;
  threads?: ThreadSetting;
  force?: boolean;
  checksum?: boolean;
}

interface WatchFlags extends ConvertFlags {
  stableMs: number;
}

export function registerConvert(program: Command): void {
  withConvertOptions(
    program.command('convert').description('Apply a style to an image or a folder of images.'),
  )
    .option('--force', 'convert again even what the output folder says is up to date')
    .action(async (flags: ConvertFlags) => {
      useThreads(flags.threads);
      process.exitCode = await userErrors(() => convert(flags));
    });
}

export function registerWatch(program: Command): void {
  withConvertOptions(
    program
      .command('watch')
      .description('Watch a folder and apply a style to every image that appears or changes.'),
  )
    .option(
      '--stable-ms <ms>',
      'a file is converted once its size has held still this long',
      int('--stable-ms', { min: 0 }),
      2000,
    )
    .action(async (flags: WatchFlags) => {
      useThreads(flags.threads);
      process.exitCode = await userErrors(() => watchFolder(flags));
    });
}

function withConvertOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--style <dir>', 'the style folder (made by `patchwork train`)')
    .requiredOption('--input <path>', 'an image or a folder of images')
    .requiredOption('--output <dir>', 'where the converted images go (never over an input)')
    .option(
      '--format <name>',
      `output format: ${FORMAT_CHOICES.join(', ')} (same: as each input)`,
      oneOf('--format', FORMAT_CHOICES),
      'same',
    )
    .option('--quality <n>', 'jpeg/webp/avif quality, 1–100', percent('--quality'))
    .option(
      '--bit-depth <n>',
      'bits per channel: 8, or 16 (png, tiff)',
      oneOf('--bit-depth', ['8', '16'] as const),
      '8',
    )
    .option('--recursive', 'also convert images in subfolders (mirrored in the output)')
    .option(
      '--memory-budget <mb>',
      'peak memory of the process while it translates, MiB (1024); images over 1 Mpx, or all ' +
        'when given, are tiled',
      int('--memory-budget', { min: 1 }),
    )
    .option(
      '--tile <n>',
      'tile side in pixels (default: the largest that fits the budget); implies tiling',
      int('--tile', { min: 8 }),
    )
    .option('--keep-metadata', 'copy EXIF and XMP from each input (orientation reset)')
    .option(
      '--icc <mode>',
      'colour profile of the output: srgb (embed sRGB), source (the input’s), none',
      oneOf('--icc', ICC_CHOICES),
      'srgb',
    )
    .option('--checksum', 'also compare file contents, so a touched but unchanged file is skipped')
    .option(
      '--backend <name>',
      `compute backend: ${BACKEND_CHOICES.join(', ')}`,
      oneOf('--backend', BACKEND_CHOICES),
      'auto',
    )
    .option(
      '--engine <name>',
      'inference engine: onnx (ONNX Runtime), tfjs, auto (ONNX Runtime where it loads and ' +
        'runs the style, else TF.js, saying why)',
      oneOf('--engine', ENGINE_CHOICES),
      'auto',
    )
    .option('--threads <n>', THREADS_HELP, threadCount());
}

function percent(flag: string) {
  const parse = int(flag, { min: 1 });
  return (value: string): number => {
    const n = parse(value);
    if (n > 100) throw new UsageError(`${flag} must be at most 100, got ${n}`);
    return n;
  };
}

/** Plan errors are the user's to fix: their message, exit 1 (like a bad style folder). */
async function userErrors(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT.failed;
  }
}

// ─── flags → the job's spec ──────────────────────────────────────────────────────────────

export function specFromFlags(flags: ConvertFlags): ConvertJobSpec {
  const bitDepth = flags.bitDepth === '16' ? 16 : 8;
  if (bitDepth === 16 && (flags.format === 'same' || !holdsSixteenBits(flags.format))) {
    throw new UsageError('--bit-depth 16 needs --format png or --format tiff');
  }
  return {
    styleDir: flags.style,
    input: flags.input,
    output: flags.output,
    recursive: Boolean(flags.recursive),
    format: flags.format,
    ...(flags.quality !== undefined ? { quality: flags.quality } : {}),
    bitDepth,
    icc: flags.icc,
    metadata: flags.keepMetadata ? 'copy' : 'strip',
    ...(flags.memoryBudget !== undefined ? { memoryBudgetMB: flags.memoryBudget } : {}),
    ...(flags.tile !== undefined ? { tile: flags.tile } : {}),
    // Tiled when asked for (a tile or a budget) or when the image is large; untiled otherwise.
    alwaysTiled: flags.tile !== undefined || flags.memoryBudget !== undefined,
    backend: flags.backend,
    engine: flags.engine ?? 'auto',
    force: Boolean(flags.force),
    checksum: Boolean(flags.checksum),
  };
}

/** The job's opening lines: the backend, the engine, then the style. */
function opened(
  e:
    | { type: 'backend'; detail: string }
    | { type: 'engine'; detail: string }
    | { type: 'style'; name: string; preset: string; styleId: string },
  line: ProgressLine,
): void {
  if (e.type === 'backend') line.log(`backend: ${e.detail}`);
  else if (e.type === 'engine') line.log(`engine: ${e.detail}`);
  else line.log(`style: ${e.name} (${e.preset}, ${e.styleId})`);
}

function cleaned(e: { outputRoot: string; removed: string[] }, line: ProgressLine): void {
  const n = e.removed.length;
  line.log(
    `removed ${n} stale temporary file${n === 1 ? '' : 's'} in ${e.outputRoot} ` +
      '(left by an interrupted run)',
  );
}

// ─── convert ─────────────────────────────────────────────────────────────────────────────

async function convert(flags: ConvertFlags): Promise<number> {
  const spec = specFromFlags(flags);
  const line = progressLine();
  const started = Date.now();
  const controller = new AbortController();
  let printer: EventPrinter | null = null;
  const interrupt = interruption(line, () => controller.abort());
  try {
    const outcome = await runConvertJob(spec, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'backend' || e.type === 'engine' || e.type === 'style') {
          return opened(e, line);
        }
        if (e.type === 'planned') {
          printer = new EventPrinter(line, e.inputRoot, false);
          interrupt.listen();
          return;
        }
        if (e.type === 'warning') return line.log(`warning: ${e.message}`);
        if (e.type === 'cleaned') return cleaned(e, line);
        printer?.queue(e);
      },
    });
    interrupt.off();
    line.done();
    const files = outcome.files;
    printSummary(files, outcome.inputRoot, outcome.outputRoot, (Date.now() - started) / 1000);
    if (interrupt.fired) {
      const left = files.filter((f) => f.status === 'queued').length;
      process.stdout.write(`interrupted: ${left} files not converted (run again to go on)\n`);
      return EXIT.interrupted;
    }
    return finalStates(files).some((f) => f.status === 'failed') ? EXIT.partial : EXIT.ok;
  } finally {
    interrupt.off();
    line.done();
  }
}

// ─── watch ───────────────────────────────────────────────────────────────────────────────

async function watchFolder(flags: WatchFlags): Promise<number> {
  const spec = { ...specFromFlags(flags), stableMs: flags.stableMs };
  const line = progressLine();
  const started = Date.now();
  const controller = new AbortController();
  const printer = new EventPrinter(line, path.resolve(flags.input), true);
  const interrupt = interruption(line, () => controller.abort());
  try {
    const outcome = await runWatchJob(spec, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'backend' || e.type === 'engine' || e.type === 'style') {
          return opened(e, line);
        }
        if (e.type === 'watching') {
          line.log(`watching ${e.inputRoot} → ${e.outputRoot} (Ctrl-C to stop)`);
          interrupt.listen();
          return;
        }
        if (e.type === 'cleaned') return cleaned(e, line);
        printer.watch(e);
      },
    });
    interrupt.off();
    line.done();
    if (outcome.stoppedBecause) process.stdout.write(`stopped: ${outcome.stoppedBecause}\n`);
    const files = outcome.files;
    printSummary(files, outcome.inputRoot, outcome.outputRoot, (Date.now() - started) / 1000);
    return finalStates(files).some((f) => f.status === 'failed') ? EXIT.partial : EXIT.ok;
  } finally {
    interrupt.off();
    line.done();
  }
}

// ─── output ──────────────────────────────────────────────────────────────────────────────

/**
 * Ctrl-C (or SIGTERM), once listening: the first stops after the files in progress, a second
 * quits at once.
 */
function interruption(line: ProgressLine, stop: () => void) {
  const state = { fired: false, listen, off };
  function handler() {
    if (state.fired) process.exit(EXIT.interrupted);
    state.fired = true;
    line.log('stopping after the files in progress (Ctrl-C again to quit now)…');
    stop();
  }
  function listen() {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  }
  function off() {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  }
  return state;
}

/** Turns queue and watcher events into log lines and the progress line. */
class EventPrinter {
  private current = '';
  private last: QueueEvent | null = null;

  constructor(
    private readonly line: ProgressLine,
    private readonly inputRoot: string,
    /** Log every converted file (watching), not only the failures. */
    private readonly each: boolean,
  ) {}

  watch(e: WatchEvent): void {
    switch (e.type) {
      case 'ready':
        if (e.restored) this.line.log(`${e.restored} files still to do from the last run`);
        return;
      case 'removed':
        return this.line.log(`removed ${this.name(e.input)} (its output, if any, is kept)`);
      case 'stopped':
        return;
      default:
        return this.queue(e);
    }
  }

  queue(e: QueueEvent): void {
    switch (e.type) {
      case 'file':
        return this.file(e.file);
      case 'progress':
        this.last = e;
        return this.progress(e.progress);
      case 'idle':
        if (this.each) this.line.log('waiting for new images…');
        return;
      case 'aborted':
        return this.line.log(`stopped: ${e.message}`);
      case 'warning':
        return this.line.log(`warning: ${e.message}`);
    }
  }

  private file(f: FileState): void {
    const name = this.name(f.input);
    if (f.status === 'failed' && f.failure) {
      this.line.log(`failed ${name}: ${f.failure.reason} (${detail(f)})`);
    } else if (f.status === 'done') {
      for (const note of f.notes ?? []) this.line.log(`note ${name}: ${note}`);
      if (this.each) {
        this.line.log(`converted ${name} → ${f.relative} (${(f.seconds ?? 0).toFixed(1)} s)`);
      }
    } else if (f.stage === 'translating') {
      this.current = name;
      if (this.last?.type === 'progress') this.progress(this.last.progress);
    }
  }

  private progress(p: QueueProgress): void {
    const finished = p.done + p.skipped + p.failed;
    const failed = p.failed ? ` · ${p.failed} failed` : '';
    const rate = p.secondsPerFile === null ? '' : ` · ${p.secondsPerFile.toFixed(1)} s/file`;
    const now = this.current && finished < p.total ? ` · ${this.current}` : '';
    this.line.update(
      `${finished}/${p.total} files${failed}${rate} · ETA ${formatDuration(p.etaSeconds)}${now}`,
      finished === p.total,
    );
  }

  private name(file: string): string {
    return shortPath(file, this.inputRoot);
  }
}

/** The latest state of each input (watching can see the same input more than once). */
function finalStates(files: FileState[]): FileState[] {
  return [...new Map(files.map((f) => [f.input, f])).values()];
}

function printSummary(files: FileState[], inputRoot: string, outputRoot: string, s: number) {
  const last = finalStates(files);
  const count = (status: FileState['status']) => last.filter((f) => f.status === status).length;
  const upToDate = last.filter((f) => f.skip === 'up-to-date').length;
  const parts = [`${count('done')} converted`];
  if (upToDate) parts.push(`${upToDate} already up to date`);
  const otherSkips = count('skipped') - upToDate;
  if (otherSkips) parts.push(`${otherSkips} skipped`);
  if (count('failed')) parts.push(`${count('failed')} failed`);
  process.stdout.write(
    `${parts.join(', ')} of ${last.length} files in ${formatDuration(s)} → ${outputRoot}\n`,
  );
  const failed = last.filter((f) => f.status === 'failed');
  if (!failed.length) return;
  process.stdout.write('failed:\n');
  for (const f of failed) {
    const reason = f.failure?.reason ?? 'write-failed';
    const why = detail(f) || FAILURE_TEXT[reason];
    process.stdout.write(`  ${shortPath(f.input, inputRoot)}: ${why} [${reason}]\n`);
  }
}

/** The failure's message without the file name it usually starts with. */
function detail(f: FileState): string {
  const message = f.failure?.message ?? '';
  return message.startsWith(`${f.input}: `) ? message.slice(f.input.length + 2) : message;
}

function shortPath(file: string, root: string): string {
  const rel = path.relative(root, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}
