/**
 * Training checkpoints: everything a run needs to continue exactly where it stopped — G, D
 * and H parameters, the three Adam states (m, v, step), the iteration and epoch, the sampling
 * Rng, the loader's position, the resolved options (the reference's train_opt.txt idea) and a
 * short loss history. A resumed run draws the same samples and patches and so ends with the
 * same weights as an uninterrupted one.
 *
 * On disk, under `<out>/checkpoints/`:
 *   iter-<n>/manifest.json   format, state, options, tensor index, sha256 of the blob
 *   iter-<n>/tensors.bin     float32 little-endian, tensors back to back, TF layouts
 *   latest.json              { checkpoint: "iter-<n>" }, replaced atomically
 * A checkpoint is written into a hidden temporary folder, synced and renamed into place; only
 * then does latest.json move to it, and only then are older checkpoints pruned (the newest
 * two are kept). A failed write (disk full, permissions) removes its temporary folder and
 * leaves every earlier checkpoint as it was. Loading verifies the checksum and every shape;
 * a corrupt checkpoint is passed over with a warning for the previous good one, while a
 * checkpoint from options that change the networks' shapes is refused.
 *
 * The tensors themselves are written and read by engine/tensor-file.ts, as the style
 * folder's are.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { validateTrainOptions, type TrainOptions } from '../../../shared/options';
import type { LoaderState } from '../data/dataset';
import type { RngState } from '../rng';
import type { Adam } from './adam';
import { CutModel } from './cut-model';
import type { Net } from './trained-networks';
import type { StepLosses } from './train-step';
import {
  nodeWriter,
  readJson,
  readTensorFile,
  replaceDir,
  TensorFileError,
  writeTensorFile,
  writeTextAtomic,
  type BlobInfo,
  type FileWriter,
  type StoredTensor,
  type TensorEntry,
} from '../tensor-file';

export const CHECKPOINT_FORMAT = 'patchwork-checkpoint-1';
const POINTER_FORMAT = 'patchwork-checkpoint-pointer-1';
const POINTER_FILE = 'latest.json';
const MANIFEST_FILE = 'manifest.json';
const BLOB_FILE = 'tensors.bin';
const CHECKPOINT_DIR = /^iter-(\d+)$/;

// ─── errors ────────────────────────────────────────────────────────────────────────────────

export type CheckpointErrorCode = 'write-failed' | 'corrupt' | 'incompatible';

export class CheckpointError extends Error {
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CheckpointError';
  }
}

// ─── checkpoint contents ───────────────────────────────────────────────────────────────────

export interface LossRecord extends StepLosses {
  iteration: number;
}

/** The loop's state beside the model. */
export interface TrainState {
  /** Steps completed. */
  iteration: number;
  /** 1-based epoch of the last completed step (0 before the first). */
  epoch: number;
  samplingRng: RngState;
  /** The position of the next batch (UnpairedLoader.state()). */
  loader: LoaderState;
  /** Training time so far, over every session of this run. */
  elapsedSeconds: number;
  lossHistory: LossRecord[];
}

interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  iteration: number;
  epoch: number;
  created: string;
  options: TrainOptions;
  state: Omit<TrainState, 'iteration' | 'epoch'>;
  optimizers: Record<Net, { step: number }>;
  blob: BlobInfo;
  tensors: TensorEntry[];
}

const NETS: Net[] = ['G', 'D', 'H'];

function optimizer(model: CutModel, net: Net): Adam {
  return net === 'G' ? model.optG : net === 'D' ? model.optD : model.optH;
}

/** Every tensor of a checkpoint under a stable name: `G/<param>`, `G.m/<param>`, `G.v/<param>`. */
function checkpointTensors(model: CutModel): { name: string; tensor: tf.Tensor }[] {
  const out: { name: string; tensor: tf.Tensor }[] = [];
  const nets = model.networks();
  for (const net of NETS) {
    const opt = optimizer(model, net);
    for (const [name, v] of nets[net]) out.push({ name: `${net}/${name}`, tensor: v });
    for (const [name, m] of opt.m) out.push({ name: `${net}.m/${name}`, tensor: m });
    for (const [name, v] of opt.v) out.push({ name: `${net}.v/${name}`, tensor: v });
  }
  return out;
}

/** Options that change a network's shape: a checkpoint from other values cannot be loaded. */
const SHAPE_OPTIONS = ['ngf', 'ndf', 'nBlocks', 'nLayersD', 'nceTaps', 'projectionDim'] as const;

function optionDiffs(saved: TrainOptions, now: TrainOptions): { key: string; text: string }[] {
  const diffs: { key: string; text: string }[] = [];
  for (const key of Object.keys(now) as (keyof TrainOptions)[]) {
    const a = JSON.stringify(saved[key]);
    const b = JSON.stringify(now[key]);
    if (a !== b) diffs.push({ key, text: `${key} ${a} (checkpoint) vs ${b} (now)` });
  }
  return diffs;
}

// ─── the store ─────────────────────────────────────────────────────────────────────────────

export interface LoadedCheckpoint {
  model: CutModel;
  state: TrainState;
  /** The options the checkpoint was written with. */
  savedOptions: TrainOptions;
  path: string;
  /** Checkpoints passed over and option changes, in words. */
  warnings: string[];
}

interface Candidate {
  name: string;
  iteration: number;
}

/** The checkpoints of one output folder. */
export class CheckpointStore {
  readonly dir: string;
  /** The newest checkpoint known to be good (loaded or written by this store). */
  private lastGood: string | null = null;

  constructor(
    outDir: string,
    private readonly writer: FileWriter = nodeWriter,
  ) {
    this.dir = path.join(path.resolve(outDir), 'checkpoints');
  }

  /** Checkpoint folders, newest first. */
  async list(): Promise<Candidate[]> {
    const entries = await fs.readdir(this.dir, { withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isDirectory() && CHECKPOINT_DIR.test(e.name))
      .map((e) => ({ name: e.name, iteration: Number(CHECKPOINT_DIR.exec(e.name)?.[1]) }))
      .sort((a, b) => b.iteration - a.iteration);
  }

  /**
   * Writes a checkpoint and points latest.json at it; returns its folder. Any failure throws
   * CheckpointError('write-failed') and leaves the earlier checkpoints untouched.
   */
  async save(model: CutModel, state: TrainState): Promise<string> {
    const name = `iter-${state.iteration}`;
    const final = path.join(this.dir, name);
    // The same iteration as the last good one is the same state: nothing new to write.
    if (name === this.lastGood) return final;
    // What latest.json names now is the previous good checkpoint, and pruning keeps it.
    const previous = this.lastGood ?? (await this.readPointer(false, []));
    const temp = path.join(this.dir, `.tmp-${name}-${randomUUID()}`);
    try {
      await fs.mkdir(temp, { recursive: true });
      await this.writeContents(temp, model, state);
      await replaceDir(temp, final);
      const pointer = { format: POINTER_FORMAT, checkpoint: name, iteration: state.iteration };
      await writeTextAtomic(this.writer, path.join(this.dir, POINTER_FILE), json(pointer));
    } catch (err) {
      await fs.rm(temp, { recursive: true, force: true }).catch(() => undefined);
      const why = err instanceof Error ? err.message : String(err);
      throw new CheckpointError('write-failed', `Could not write checkpoint ${final}: ${why}`, {
        cause: err,
      });
    }
    await this.prune([name, previous]);
    this.lastGood = name;
    return final;
  }

  private async writeContents(dir: string, model: CutModel, state: TrainState): Promise<void> {
    const tensors = checkpointTensors(model);
    const { blob, index } = await writeTensorFile(this.writer, path.join(dir, BLOB_FILE), tensors);
    const { iteration, epoch, ...rest } = state;
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      iteration,
      epoch,
      created: new Date().toISOString(),
      options: model.opts,
      state: rest,
      optimizers: {
        G: { step: model.optG.step },
        D: { step: model.optD.step },
        H: { step: model.optH.step },
      },
      blob,
      tensors: index,
    };
    await this.writer.writeFile(path.join(dir, MANIFEST_FILE), [Buffer.from(json(manifest))]);
  }

  /** Keeps the new checkpoint and the previous good one; removes the rest and stale temporaries. */
  private async prune(keep: (string | null)[]): Promise<void> {
    const keepSet = new Set(keep);
    const entries = await fs.readdir(this.dir).catch(() => [] as string[]);
    for (const entry of entries) {
      const stale = CHECKPOINT_DIR.test(entry) ? !keepSet.has(entry) : isLeftover(entry);
      if (stale) await fs.rm(path.join(this.dir, entry), { recursive: true, force: true });
    }
  }

  /**
   * The newest good checkpoint, loaded into a model built from `options`; null when the folder
   * has none. The one latest.json names is tried first, then the others newest first; corrupt
   * ones are passed over with a warning. Throws CheckpointError('incompatible') when the
   * checkpoint's network shapes differ from `options`, and ('corrupt') when none is usable.
   */
  async loadLatest(options: TrainOptions): Promise<LoadedCheckpoint | null> {
    const warnings: string[] = [];
    const candidates = await this.candidates(warnings);
    if (candidates.length === 0) return null;
    const failures: string[] = [];
    for (const c of candidates) {
      try {
        const loaded = await this.load(c, options);
        if (failures.length) {
          warnings.unshift(
            `Checkpoint ${failures.join('; ')}. Resuming from the previous good one, ${c.name}.`,
          );
        }
        this.lastGood = c.name;
        return { ...loaded, warnings: [...warnings, ...loaded.warnings] };
      } catch (err) {
        if (!(err instanceof TensorFileError)) throw err;
        failures.push(`${c.name} is unusable (${err.message})`);
      }
    }
    throw new CheckpointError(
      'corrupt',
      `No usable checkpoint in ${this.dir}: ${failures.join('; ')}`,
    );
  }

  /** The pointer's target first, then every other checkpoint folder, newest first. */
  private async candidates(warnings: string[]): Promise<Candidate[]> {
    const all = await this.list();
    const pointed = await this.readPointer(all.length > 0, warnings);
    const first = all.find((c) => c.name === pointed);
    return first ? [first, ...all.filter((c) => c !== first)] : all;
  }

  private async readPointer(expected: boolean, warnings: string[]): Promise<string | null> {
    const file = path.join(this.dir, POINTER_FILE);
    const text = await fs.readFile(file, 'utf8').catch(() => null);
    const pointer = text === null ? null : (safeJson(text) as { checkpoint?: unknown } | null);
    const name = typeof pointer?.checkpoint === 'string' ? pointer.checkpoint : null;
    if (name === null && expected) {
      warnings.push(`${file} is missing or unreadable; using the newest checkpoint found.`);
    }
    return name;
  }

  private async load(c: Candidate, options: TrainOptions): Promise<LoadedCheckpoint> {
    const dir = path.join(this.dir, c.name);
    const manifest = await readManifest(dir, c);
    const savedOptions = manifest.options;
    const diffs = optionDiffs(savedOptions, options);
    const shapeDiffs = diffs.filter((d) => (SHAPE_OPTIONS as readonly string[]).includes(d.key));
    if (shapeDiffs.length) {
      throw new CheckpointError(
        'incompatible',
        `The checkpoint ${dir} was trained with other network shapes (` +
          `${shapeDiffs.map((d) => d.text).join(', ')}); resume with the options it was ` +
          `saved with, or train into a new output folder.`,
      );
    }
    const tensors = await readTensorFile(dir, manifest.blob, manifest.tensors);
    const model = CutModel.create(options);
    try {
      restoreModel(model, tensors, dir);
      for (const net of NETS) optimizer(model, net).step = manifest.optimizers[net].step;
    } catch (err) {
      model.dispose();
      throw err;
    }
    const warnings = diffs.length
      ? [`Options changed since the checkpoint: ${diffs.map((d) => d.text).join(', ')}.`]
      : [];
    const state: TrainState = {
      iteration: manifest.iteration,
      epoch: manifest.epoch,
      ...manifest.state,
    };
    return { model, state, savedOptions, path: dir, warnings };
  }
}

async function readManifest(dir: string, c: Candidate): Promise<CheckpointManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  const text = await fs.readFile(file, 'utf8').catch((err: Error) => {
    throw new TensorFileError('missing', `${file}: ${err.message}`);
  });
  const m = readJson(text, file) as Partial<CheckpointManifest> | null;
  const problem =
    !m || m.format !== CHECKPOINT_FORMAT
      ? `not a ${CHECKPOINT_FORMAT} manifest`
      : m.iteration !== c.iteration
        ? `it says iteration ${m.iteration}, its folder ${c.name}`
        : !m.blob || !Array.isArray(m.tensors) || !m.state || !m.optimizers
          ? 'fields are missing'
          : null;
  if (problem) throw new TensorFileError('index', `${file}: ${problem}`);
  const manifest = m as CheckpointManifest;
  try {
    manifest.options = validateTrainOptions(manifest.options);
  } catch (err) {
    throw new TensorFileError(
      'index',
      `${file}: saved options are invalid (${(err as Error).message})`,
    );
  }
  return manifest;
}

/** Copies stored values into the model's variables and Adam moments, checking every shape. */
function restoreModel(model: CutModel, tensors: Map<string, StoredTensor>, dir: string): void {
  const nets = model.networks();
  const used = new Set<string>();
  const assign = (key: string, target: tf.Variable) => {
    const stored = tensors.get(key);
    if (!stored) throw new TensorFileError('index', `${dir}: no tensor ${key}`);
    if (!tf.util.arraysEqual(stored.shape, target.shape)) {
      throw new TensorFileError(
        'index',
        `${dir}: ${key} has shape [${stored.shape}], the model needs [${target.shape}]`,
      );
    }
    used.add(key);
    tf.tidy(() => target.assign(tf.tensor(stored.data, stored.shape, 'float32')));
  };
  for (const net of NETS) {
    const opt = optimizer(model, net);
    for (const [name, v] of nets[net]) assign(`${net}/${name}`, v);
    for (const [name, m] of opt.m) assign(`${net}.m/${name}`, m);
    for (const [name, v] of opt.v) assign(`${net}.v/${name}`, v);
  }
  const extra = [...tensors.keys()].find((k) => !used.has(k));
  if (extra) throw new TensorFileError('index', `${dir}: unexpected tensor ${extra}`);
}

/** Temporary and set-aside folders a crash mid-save can leave behind. */
function isLeftover(entry: string): boolean {
  return entry.startsWith('.tmp-') || (entry.startsWith('.') && /\.(old|tmp)$/.test(entry));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 1)}\n`;
}
