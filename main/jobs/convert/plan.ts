/**
 * From "convert this FILE or FOLDER into that folder" to a list of (input, output) pairs.
 *
 * - Subfolders are mirrored when recursive: in/trip/a.jpg → out/trip/a.jpg.
 * - Format 'same' keeps each input's name; a chosen format keeps the name and changes the
 *   extension (a.jpg → a.png), except that an input already in that format keeps its own
 *   extension (a.jpeg stays a.jpeg).
 * - Names never collide: of a.jpg and a.png converted to PNG, a.png (already PNG) keeps
 *   a.png and a.jpg becomes a.jpg.png; further clashes get a number (a.jpg-2.png). An output
 *   name the manifest records for another input that still exists is not reused, and an
 *   input keeps the output name it had last time, so names stay stable across runs and while
 *   watching, whatever order files arrive in. A file already in the output folder that the
 *   manifest does not list as Patchwork's is not overwritten either: the output takes the
 *   next name.
 * - An output is never an input: the output folder may lie inside the input folder (it is
 *   left out of the scan), but it may not be the input folder, nor contain it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DatasetError, scanImageFolder, type DatasetErrorCode } from '../../engine/data/dataset';
import { formatForPath } from '../../engine/data/image-io';
import type { FormatChoice } from './convert-settings';
import { FORMAT_EXTENSIONS } from '../../../shared/image-formats';
import { AllowedRoots } from '../../services/path-policy';

export type PlanErrorCode =
  | 'missing-input'
  | 'unreadable-input'
  | 'input-not-folder'
  | 'output-not-folder'
  | 'output-is-input'
  | 'input-inside-output'
  | 'unknown-format'
  | 'no-free-name'
  | 'no-images'
  | 'outside-allowed-folders';

export class PlanError extends Error {
  constructor(
    readonly code: PlanErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PlanError';
  }
}

export interface PlannedFile {
  input: string;
  output: string;
  /** The output relative to the output folder, '/'-separated: the manifest's key. */
  relative: string;
}

export interface IgnoredEntry {
  path: string;
  reason: string;
  message: string;
}

export interface ConversionPlan {
  /** Outputs mirror the input's position below this folder (a single file's own folder). */
  inputRoot: string;
  outputRoot: string;
  files: PlannedFile[];
  /** Entries of the input folder that are not images (or hidden, or subfolders unread). */
  ignored: IgnoredEntry[];
}

export interface PlanOptions {
  input: string;
  output: string;
  recursive?: boolean;
  format?: FormatChoice;
  /** Inputs that link outside these folders are left out (absent: no restriction). */
  allowedRoots?: readonly string[];
}

// ─── extensions ────────────────────────────────────────────────────────────────────────────

/** An image by its name: an image extension, not hidden (Patchwork's temporaries are hidden). */
export function isImagePath(file: string): boolean {
  return !path.basename(file).startsWith('.') && formatForPath(file) !== null;
}

/** Strictly below `parent` (not equal to it). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel);
}

// ─── roots ─────────────────────────────────────────────────────────────────────────────────

export interface Roots {
  input: string;
  kind: 'file' | 'dir';
  inputRoot: string;
  outputRoot: string;
  /** Real paths of the output folder (as far as it exists), for containment checks. */
  outputReal: string;
}

/** Checks the input exists and that the output folder can neither be nor hold the input. */
export async function resolveRoots(input: string, output: string): Promise<Roots> {
  const inPath = path.resolve(input);
  const outputRoot = path.resolve(output);
  const inStat = await fs.stat(inPath).catch(() => null);
  if (!inStat) throw new PlanError('missing-input', `No file or folder at ${inPath}`);
  const outStat = await fs.stat(outputRoot).catch(() => null);
  if (outStat && !outStat.isDirectory()) {
    throw new PlanError('output-not-folder', `The output ${outputRoot} is a file, not a folder`);
  }
  const kind = inStat.isDirectory() ? 'dir' : 'file';
  const inReal = await fs.realpath(inPath);
  const outputReal = await realPathAsFarAsItExists(outputRoot);
  if (kind === 'dir' && (outputReal === inReal || outputRoot === inPath)) {
    throw new PlanError(
      'output-is-input',
      `The output folder is the input folder (${inPath}): choose another one (a subfolder is fine)`,
    );
  }
  if (kind === 'dir' && (isInside(inReal, outputReal) || isInside(inPath, outputRoot))) {
    throw new PlanError(
      'input-inside-output',
      `The input folder ${inPath} lies inside the output folder ${outputRoot}: outputs could ` +
        `land among the inputs; choose an output folder outside it`,
    );
  }
  const inputRoot = kind === 'dir' ? inPath : path.dirname(inPath);
  return { input: inPath, kind, inputRoot, outputRoot, outputReal };
}

async function realPathAsFarAsItExists(p: string): Promise<string> {
  const rest: string[] = [];
  let at = p;
  for (;;) {
    const real = await fs.realpath(at).catch(() => null);
    if (real !== null) return path.join(real, ...rest.reverse());
    const parent = path.dirname(at);
    if (parent === at) return p;
    rest.push(path.basename(at));
    at = parent;
  }
}

/** Whether a path lies in the output folder, by its given or its real location. */
export async function inOutputTree(file: string, roots: Roots): Promise<boolean> {
  if (file === roots.outputRoot || isInside(file, roots.outputRoot)) return true;
  const real = await fs.realpath(file).catch(() => file);
  return real === roots.outputReal || isInside(real, roots.outputReal);
}

// ─── the plan ──────────────────────────────────────────────────────────────────────────────

/**
 * Lists the inputs and names their outputs. `claims` are the manifest's output names and the
 * inputs they were made from (ConvertManifest.claims()).
 */
export async function planConversion(
  opts: PlanOptions,
  claims: ReadonlyMap<string, string> = new Map(),
): Promise<ConversionPlan> {
  const roots = await resolveRoots(opts.input, opts.output);
  const format = opts.format ?? 'same';
  const { files, ignored } = await listInputs(roots, Boolean(opts.recursive), opts.allowedRoots);
  if (format === 'same') {
    const unknown = files.find((f) => formatForPath(f) === null);
    if (unknown) {
      throw new PlanError(
        'unknown-format',
        `${unknown}: its extension names no output format; choose one with --format`,
      );
    }
  }
  const namer = new OutputNamer({
    inputRoot: roots.inputRoot,
    outputRoot: roots.outputRoot,
    format,
    claims,
  });
  return {
    inputRoot: roots.inputRoot,
    outputRoot: roots.outputRoot,
    files: await namer.assign(files),
    ignored,
  };
}

async function listInputs(
  roots: Roots,
  recursive: boolean,
  allowedRoots: readonly string[] | undefined,
): Promise<{ files: string[]; ignored: IgnoredEntry[] }> {
  if (roots.kind === 'file') {
    if (allowedRoots && !(await (await AllowedRoots.of(allowedRoots)).holds(roots.input))) {
      throw new PlanError(
        'outside-allowed-folders',
        `${roots.input} lies outside the folders this studio may use (or links there)`,
      );
    }
    return { files: [roots.input], ignored: [] };
  }
  const scan = await scanImageFolder(roots.input, {
    recursive,
    ...(allowedRoots ? { allowedRoots } : {}),
  }).catch((err: unknown) => {
    if (!(err instanceof DatasetError)) throw err;
    throw new PlanError(planCode(err.code), err.message);
  });
  const files: string[] = [];
  for (const f of scan.files) if (!(await inOutputTree(f, roots))) files.push(f);
  const ignored: IgnoredEntry[] = [];
  for (const s of scan.skipped) if (!(await inOutputTree(s.path, roots))) ignored.push(s);
  if (files.length === 0) {
    throw new PlanError('no-images', `No images to convert in ${roots.input} (outside the output)`);
  }
  return { files, ignored };
}

function planCode(code: DatasetErrorCode): PlanErrorCode {
  return code === 'no-images' || code === 'outside-allowed-folders' ? code : 'unreadable-input';
}

// ─── output names ──────────────────────────────────────────────────────────────────────────

export interface NamerOptions {
  inputRoot: string;
  outputRoot: string;
  format: FormatChoice;
  /** Output names recorded for inputs by earlier runs (relative, '/'-separated). */
  claims?: ReadonlyMap<string, string>;
  /** Whether a file exists (default: it is on disk); for claimants and unclaimed targets. */
  exists?: (file: string) => Promise<boolean>;
}

/**
 * Gives every input an output name that no other input has, remembering what it gave. Names
 * are compared case-insensitively, so the outputs also fit a case-insensitive file system.
 */
export class OutputNamer {
  private readonly byInput = new Map<string, string>();
  private readonly byName = new Map<string, string>();
  private readonly claimByName = new Map<string, string>();
  private readonly claimByInput = new Map<string, string>();
  private readonly exists: (file: string) => Promise<boolean>;

  constructor(private readonly opts: NamerOptions) {
    for (const [rel, input] of opts.claims ?? []) {
      this.claimByName.set(rel.toLowerCase(), input);
      this.claimByInput.set(input, rel);
    }
    this.exists =
      opts.exists ??
      ((f) =>
        fs.stat(f).then(
          () => true,
          () => false,
        ));
  }

  /**
   * Names the outputs of `inputs` (those not named before), in the order given. Inputs that
   * already have the output format are placed first, so they keep their plain names.
   */
  async assign(inputs: readonly string[]): Promise<PlannedFile[]> {
    const fresh = [...new Set(inputs)].filter((i) => !this.byInput.has(i));
    fresh.sort((a, b) => this.rank(a) - this.rank(b) || byCodeUnit(a, b));
    for (const input of fresh) await this.place(input);
    return inputs.map((input) => {
      const relative = this.byInput.get(input) as string;
      return { input, relative, output: path.join(this.opts.outputRoot, relative) };
    });
  }

  private rank(input: string): number {
    return this.outputExtension(input).toLowerCase() === path.extname(input).toLowerCase() ? 0 : 1;
  }

  private async place(input: string): Promise<void> {
    const claimed = this.claimByInput.get(input);
    const usable = claimed !== undefined && this.fits(input, claimed);
    if (usable && !this.byName.has(claimed.toLowerCase())) return this.take(input, claimed);
    for (const rel of this.candidates(input)) {
      if (await this.isFree(rel, input)) return this.take(input, rel);
    }
  }

  private take(input: string, rel: string): void {
    this.byInput.set(input, rel);
    this.byName.set(rel.toLowerCase(), input);
  }

  private async isFree(rel: string, input: string): Promise<boolean> {
    const key = rel.toLowerCase();
    if (this.byName.has(key)) return false;
    const target = path.join(this.opts.outputRoot, rel);
    if (target.toLowerCase() === input.toLowerCase()) return false;
    const claimant = this.claimByName.get(key);
    // Not Patchwork's output: somebody's file, which is left alone.
    if (claimant === undefined) return !(await this.exists(target));
    return claimant === input || !(await this.exists(claimant));
  }

  /** a.png; then a.jpg.png (the source extension kept); then a.jpg-2.png, a.jpg-3.png, … */
  private *candidates(input: string): Generator<string> {
    const dir = this.relativeDir(input);
    const ext = path.extname(input);
    const stem = path.basename(input, ext);
    const out = this.outputExtension(input);
    const at = (name: string) => (dir ? `${dir}/${name}` : name);
    yield at(`${stem}${out}`);
    const marked = `${stem}${ext || '.out'}`;
    yield at(`${marked}${out}`);
    for (let n = 2; n <= 9999; n++) yield at(`${marked}-${n}${out}`);
    throw new PlanError(
      'no-free-name',
      `No free output name for ${input} in ${this.opts.outputRoot}`,
    );
  }

  private relativeDir(input: string): string {
    return path.relative(this.opts.inputRoot, path.dirname(input)).split(path.sep).join('/');
  }

  private outputExtension(input: string): string {
    const own = path.extname(input);
    const { format } = this.opts;
    if (format === 'same' || formatForPath(input) === format) return own;
    // The format's first extension is the one written (an input already in it keeps its own).
    return FORMAT_EXTENSIONS[format][0];
  }

  /** A remembered name is kept only if it is still in the right subfolder and format. */
  private fits(input: string, rel: string): boolean {
    const slash = rel.lastIndexOf('/');
    const dir = slash < 0 ? '' : rel.slice(0, slash);
    const ext = path.extname(rel).toLowerCase();
    return dir === this.relativeDir(input) && ext === this.outputExtension(input).toLowerCase();
  }
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
