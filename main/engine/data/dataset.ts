/**
 * Image-folder datasets and the unpaired A/B loader (reference: data/unaligned_dataset.py,
 * data/__init__.py). A folder becomes a sorted file list; a sample is one file decoded and
 * preprocessed (image-io.ts) with a per-sample Rng; the loader walks A in a shuffled order,
 * draws B at random for each A, keeps a few batches decoding ahead, and can save and restore
 * its position so a resumed run draws exactly the samples an uninterrupted one would.
 * Plain typed arrays: the engine turns batches into tensors.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { TrainOptions } from '../../../shared/options';
import { AllowedRoots, OUTSIDE_ALLOWED } from '../../services/path-policy';
import { Rng, type RngState } from '../rng';
import {
  ImageReadError,
  openImage,
  planPreprocess,
  resizeForTraining,
  type PreprocessParams,
  type ReadOptions,
} from './image-io';

export type DatasetErrorCode =
  | 'missing-folder'
  | 'not-a-folder'
  | 'unreadable-folder'
  | 'outside-allowed-folders'
  | 'no-images'
  | 'no-readable-images'
  | 'mixed-sizes'
  | 'state-mismatch'
  | 'closed';

export class DatasetError extends Error {
  constructor(
    readonly code: DatasetErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** A file left out, with a reason code (an ImageReadReason, 'too-small', 'hidden', …). */
export interface SkippedFile {
  path: string;
  reason: string;
  message: string;
}

// ─── folder scan ───────────────────────────────────────────────────────────────────────────

const IMAGE_EXTENSION = /\.(jpe?g|png|webp|tiff?|avif)$/i;

export interface ScanResult {
  /** Absolute paths, sorted by code unit so every machine and locale sees the same order. */
  files: string[];
  skipped: SkippedFile[];
}

export interface ScanOptions {
  recursive?: boolean;
  /**
   * The folders the caller may read (the studio's allowed roots): links leading out of them
   * are skipped as 'outside-allowed-folders'. Absent: no restriction (the CLI).
   */
  allowedRoots?: readonly string[];
}

/** Lists the image files of a folder (optionally its subfolders), hidden entries left out. */
export async function scanImageFolder(dir: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const root = path.resolve(dir);
  await checkFolder(root);
  const allowed = opts.allowedRoots ? await AllowedRoots.of(opts.allowedRoots) : null;
  if (allowed && !(await allowed.holds(root))) {
    throw new DatasetError(
      'outside-allowed-folders',
      `${root} lies outside the folders this studio may use (or links there)`,
    );
  }
  const result: ScanResult = { files: [], skipped: [] };
  const walk: Walk = {
    root,
    recursive: opts.recursive ?? false,
    allowed,
    out: result,
    seen: new Set(),
  };
  walk.seen.add(await fs.realpath(root));
  await walkFolder(root, walk);
  result.files.sort(byCodeUnit);
  if (result.files.length === 0) {
    const also = result.skipped.length ? ` (${result.skipped.length} other entries skipped)` : '';
    throw new DatasetError(
      'no-images',
      `No images in ${root}: looked for .jpg, .jpeg, .png, .webp, .tif, .tiff and .avif files${also}`,
    );
  }
  return result;
}

async function checkFolder(root: string): Promise<void> {
  const stat = await fs.stat(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new DatasetError('missing-folder', `No folder at ${root}`);
    throw new DatasetError('unreadable-folder', `Cannot read the folder ${root}: ${err.message}`);
  });
  if (!stat.isDirectory()) {
    throw new DatasetError('not-a-folder', `${root} is a file, not a folder of images`);
  }
}

interface Walk {
  root: string;
  recursive: boolean;
  allowed: AllowedRoots | null;
  out: ScanResult;
  /** Real paths of the folders read, so a link back up cannot loop. */
  seen: Set<string>;
}

async function walkFolder(dir: string, walk: Walk): Promise<void> {
  const { out, recursive, seen } = walk;
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (dir === walk.root) {
      throw new DatasetError('unreadable-folder', `Cannot read ${dir}: ${message}`);
    }
    out.skipped.push({ path: dir, reason: 'unreadable', message });
    return;
  }
  entries.sort((a, b) => byCodeUnit(a.name, b.name));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    const skip = (reason: string, message: string) =>
      out.skipped.push({ path: full, reason, message });
    if (entry.name.startsWith('.')) {
      skip('hidden', 'hidden entries are left out');
      continue;
    }
    // Only a link can lead out: anything else below an allowed folder is inside it.
    if (entry.isSymbolicLink() && walk.allowed && !(await walk.allowed.holds(full))) {
      skip(OUTSIDE_ALLOWED, 'a link to a place outside the folders this studio may use');
      continue;
    }
    const kind = entry.isSymbolicLink() ? await linkKind(full) : entryKind(entry);
    if (kind === 'file') {
      if (IMAGE_EXTENSION.test(entry.name)) out.files.push(full);
      else skip('not-an-image', 'not an image file extension');
    } else if (kind === 'dir') {
      if (!recursive) skip('folder', 'subfolders are read only when recursive');
      else if (await firstVisit(full, seen)) await walkFolder(full, walk);
      else skip('loop', 'a link back to a folder already read');
    } else {
      skip('not-a-file', 'not a regular file');
    }
  }
}

type EntryKind = 'file' | 'dir' | 'other';

function entryKind(entry: { isFile(): boolean; isDirectory(): boolean }): EntryKind {
  return entry.isFile() ? 'file' : entry.isDirectory() ? 'dir' : 'other';
}

async function linkKind(full: string): Promise<EntryKind> {
  const stat = await fs.stat(full).catch(() => null);
  return stat ? entryKind(stat) : 'other';
}

async function firstVisit(dir: string, seen: Set<string>): Promise<boolean> {
  const real = await fs.realpath(dir);
  if (seen.has(real)) return false;
  seen.add(real);
  return true;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ─── one folder as samples ─────────────────────────────────────────────────────────────────

export interface Sample {
  /** [H, W, 3] in [-1, 1]. */
  data: Float32Array;
  width: number;
  height: number;
  path: string;
  /** The file actually used: the next readable one when the requested file was skipped. */
  index: number;
}

/** What the loader needs from a dataset; tests substitute fakes. */
export interface SampleSource {
  readonly size: number;
  /** Takes exactly one draw from rng, synchronously, so concurrent loads stay reproducible. */
  load(index: number, rng: Rng): Promise<Sample>;
}

export interface DatasetOptions extends PreprocessParams, ReadOptions {
  /** Images whose short side is below cropSize: scale them up (default) or skip them. */
  smallImages?: 'upscale' | 'reject';
}

/** The preprocessing part of the training options. */
export function preprocessFromOptions(o: TrainOptions): PreprocessParams {
  return { mode: o.preprocess, loadSize: o.loadSize, cropSize: o.cropSize, flip: o.flip };
}

/** An image below the crop size while smallImages is 'reject'. */
class SmallImageError extends Error {}

function checkCropFits(file: string, width: number, height: number, o: DatasetOptions): void {
  if (o.mode === 'none' || o.mode === 'scale_width') return;
  if (Math.min(width, height) >= o.cropSize) return;
  throw new SmallImageError(
    `${file}: ${width}×${height} is smaller than the ${o.cropSize}×${o.cropSize} crop ` +
      `(set smallImages to 'upscale' to scale such images up instead)`,
  );
}

export class ImageDataset implements SampleSource {
  /** Files left out, by the scan and then by loading (corrupt, unreadable, too small). */
  readonly skipped: SkippedFile[];
  private readonly bad = new Set<number>();

  constructor(
    readonly files: readonly string[],
    readonly options: DatasetOptions,
    scanSkipped: SkippedFile[] = [],
  ) {
    if (files.length === 0) throw new DatasetError('no-images', 'An image dataset needs files');
    this.skipped = [...scanSkipped];
  }

  static async fromFolder(
    dir: string,
    options: DatasetOptions & ScanOptions,
  ): Promise<ImageDataset> {
    const { files, skipped } = await scanImageFolder(dir, options);
    return new ImageDataset(files, options, skipped);
  }

  get size(): number {
    return this.files.length;
  }

  /**
   * Loads file `index`, or when it cannot be used the next usable one (cyclically); the
   * unusable file is recorded in `skipped` and not tried again. Every attempt preprocesses
   * with the same seed, so which file failed, and how far it got, never shifts the draws.
   */
  async load(index: number, rng: Rng): Promise<Sample> {
    const seed = rng.nextU32();
    const n = this.files.length;
    let last = 'all were skipped earlier';
    for (let k = 0; k < n; k++) {
      const i = (index + k) % n;
      if (this.bad.has(i)) continue;
      try {
        return await this.loadFile(i, new Rng(seed));
      } catch (err) {
        if (!(err instanceof ImageReadError || err instanceof SmallImageError)) throw err;
        this.markBad(i, err);
        last = err.message;
      }
    }
    throw new DatasetError('no-readable-images', `None of the ${n} images could be used (${last})`);
  }

  private async loadFile(i: number, rng: Rng): Promise<Sample> {
    const file = this.files[i];
    const image = await openImage(file, this.options);
    const { width, height } = image.info;
    if (this.options.smallImages === 'reject') checkCropFits(file, width, height, this.options);
    const plan = planPreprocess(width, height, this.options, rng);
    const out = await resizeForTraining(image, plan, this.options);
    return { ...out, path: file, index: i };
  }

  private markBad(i: number, err: ImageReadError | SmallImageError): void {
    // Concurrent loads may meet the same bad file; record it once.
    if (this.bad.has(i)) return;
    this.bad.add(i);
    const reason = err instanceof ImageReadError ? err.reason : 'too-small';
    this.skipped.push({ path: this.files[i], reason, message: err.message });
  }
}

// ─── the unpaired loader ───────────────────────────────────────────────────────────────────

/** Where the loader stands: the batch `next()` will return. JSON-safe. */
export interface LoaderState {
  epoch: number;
  step: number;
  /** What the position depends on besides the Rng; checked on resume. */
  sizeA: number;
  sizeB: number;
  batchSize: number;
  shuffle: boolean;
  /** The Rng state before this epoch's order was drawn. */
  epochRng: RngState;
  /** The Rng state before this step's draws. */
  rng: RngState;
}

export interface LoaderOptions {
  batchSize?: number;
  /** A in a shuffled order each epoch (default), or in file order. B is always drawn at random. */
  shuffle?: boolean;
  /** Batches decoding ahead of the one being consumed (default 3). */
  prefetch?: number;
  seed?: number;
  /** Continue from a saved position instead of from the seed. */
  resume?: LoaderState;
}

/** n images of one size, packed [n, H, W, 3] for a tensor. */
export interface ImageBatch {
  data: Float32Array;
  n: number;
  width: number;
  height: number;
  paths: string[];
}

export interface UnpairedBatch {
  a: ImageBatch;
  b: ImageBatch;
  indexA: number[];
  indexB: number[];
  /** 0-based epoch and step within it. */
  epoch: number;
  step: number;
}

interface Pending {
  before: LoaderState;
  batch: Promise<UnpairedBatch>;
}

/**
 * An epoch is max(|A|, |B|) samples, as in the reference's UnalignedDataset; with batches,
 * floor(that / batchSize) steps (its training DataLoader drops the last partial batch), at
 * least one. Each batch's draws (B indices, one seed per sample) happen when it is scheduled,
 * in step order, so decoding may finish in any order without changing what is drawn.
 */
export class UnpairedLoader {
  readonly batchSize: number;
  readonly stepsPerEpoch: number;
  private readonly length: number;
  private readonly shuffle: boolean;
  private readonly prefetch: number;
  private readonly queue: Pending[] = [];
  private rng: Rng;
  private epochRng: RngState;
  private order: Int32Array;
  private epoch = 0;
  private step = 0;
  private closed = false;

  constructor(
    private readonly a: SampleSource,
    private readonly b: SampleSource,
    opts: LoaderOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 1;
    this.shuffle = opts.shuffle ?? true;
    this.prefetch = opts.prefetch ?? 3;
    this.length = Math.max(a.size, b.size);
    this.stepsPerEpoch = Math.max(1, Math.floor(this.length / this.batchSize));
    const resume = opts.resume;
    if (resume) this.checkResumable(resume);
    this.rng = new Rng(resume ? resume.epochRng : (opts.seed ?? 0));
    this.epochRng = this.rng.state();
    this.order = this.drawOrder();
    if (resume) {
      this.epoch = resume.epoch;
      this.step = resume.step;
      this.rng = new Rng(resume.rng);
    }
    // Start decoding now: the first step should not wait for disk either.
    this.fill();
  }

  /** The next batch; the ones after it are already decoding. */
  async next(): Promise<UnpairedBatch> {
    if (this.closed) throw new DatasetError('closed', 'The loader was closed');
    const head = this.queue.shift() ?? this.schedule();
    this.fill();
    return head.batch;
  }

  /** The position of the batch `next()` returns next; save it beside a checkpoint. */
  state(): LoaderState {
    return this.queue.length ? this.queue[0].before : this.snapshot();
  }

  /** Batches scheduled and not yet taken (for tests and progress displays). */
  get pending(): number {
    return this.queue.length;
  }

  /** Stops scheduling; loads in flight finish and are dropped. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private fill(): void {
    while (!this.closed && this.queue.length < this.prefetch) {
      this.queue.push(this.schedule());
    }
  }

  private schedule(): Pending {
    const before = this.snapshot();
    const { epoch, step } = this;
    const indexA: number[] = [];
    const indexB: number[] = [];
    const loadsA: Promise<Sample>[] = [];
    const loadsB: Promise<Sample>[] = [];
    for (let j = 0; j < this.batchSize; j++) {
      // Reference: index_A = index % A_size over a permutation of max(|A|, |B|); B at random.
      const ia = this.order[(step * this.batchSize + j) % this.length] % this.a.size;
      const ib = this.rng.int(this.b.size);
      indexA.push(ia);
      indexB.push(ib);
      loadsA.push(this.a.load(ia, new Rng(this.rng.nextU32())));
      loadsB.push(this.b.load(ib, new Rng(this.rng.nextU32())));
    }
    this.advance();
    const batch = Promise.all([Promise.all(loadsA), Promise.all(loadsB)]).then(([sa, sb]) => ({
      a: packBatch(sa),
      b: packBatch(sb),
      indexA,
      indexB,
      epoch,
      step,
    }));
    // A prefetched batch may fail before anyone awaits it; next() still delivers the error.
    batch.catch(() => undefined);
    return { before, batch };
  }

  private advance(): void {
    this.step += 1;
    if (this.step < this.stepsPerEpoch) return;
    this.epoch += 1;
    this.step = 0;
    // The new order is drawn at once, so a snapshot always has it behind it.
    this.epochRng = this.rng.state();
    this.order = this.drawOrder();
  }

  private drawOrder(): Int32Array {
    if (this.shuffle) return this.rng.sampleWithoutReplacement(this.length, this.length);
    return Int32Array.from({ length: this.length }, (_, i) => i);
  }

  private snapshot(): LoaderState {
    return {
      epoch: this.epoch,
      step: this.step,
      sizeA: this.a.size,
      sizeB: this.b.size,
      batchSize: this.batchSize,
      shuffle: this.shuffle,
      epochRng: this.epochRng,
      rng: this.rng.state(),
    };
  }

  private checkResumable(s: LoaderState): void {
    if (s.sizeA !== this.a.size || s.sizeB !== this.b.size) {
      throw new DatasetError(
        'state-mismatch',
        `The saved position is for ${s.sizeA} A and ${s.sizeB} B images; the folders now ` +
          `hold ${this.a.size} and ${this.b.size}, so the run cannot resume exactly`,
      );
    }
    if (s.batchSize !== this.batchSize || s.shuffle !== this.shuffle) {
      throw new DatasetError(
        'state-mismatch',
        `The saved position is for batch size ${s.batchSize}, shuffle ${s.shuffle}; this ` +
          `loader has ${this.batchSize}, ${this.shuffle}`,
      );
    }
  }
}

function packBatch(samples: Sample[]): ImageBatch {
  const [first] = samples;
  const { width, height } = first;
  const paths = samples.map((s) => s.path);
  const odd = samples.find((s) => s.width !== width || s.height !== height);
  if (odd) {
    throw new DatasetError(
      'mixed-sizes',
      `A batch needs images of one size: ${first.path} is ${width}×${height}, ${odd.path} is ` +
        `${odd.width}×${odd.height} (use a crop preprocess mode or batch size 1)`,
    );
  }
  if (samples.length === 1) return { data: first.data, n: 1, width, height, paths };
  const data = new Float32Array(samples.length * first.data.length);
  samples.forEach((s, i) => data.set(s.data, i * first.data.length));
  return { data, n: samples.length, width, height, paths };
}
