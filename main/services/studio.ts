/**
 * The studio's services behind the one contract (shared/ipc.ts): the Electron handlers and
 * `patchwork serve` both hand every raw message to Studio.handle, which validates it, runs
 * it and answers with a Reply; events go to every subscriber. Jobs run one at a time in the
 * engine's process (WorkerHost), in the order they were asked for; a job whose process dies
 * fails with the reason and the queue goes on with a fresh process.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  parseRequest,
  type AppInfo,
  type Channel,
  type IpcError,
  type ParsedRequest,
  type Reply,
  type RequestOutputs,
  type StepEstimate,
  type StudioEvent,
  type StyleInfo,
} from '../../shared/ipc';
import {
  applyJobEvent,
  emptyTrainView,
  isFinished,
  type JobSnapshot,
  type StudioJobEvent,
} from '../../shared/ipc-jobs';
import {
  resolveSinCutJobOptions,
  type HeatmapJobResult,
  type PairCheckResult,
  type SinCutJobSpec,
  type WorkerJobEvent,
  type WorkerJobResult,
} from '../../shared/ipc-worker';
import {
  DEFAULT_SETTINGS,
  type BackendDetection,
  type SettingsPatch,
  type SettingsView,
  type StudioSettings,
} from '../../shared/ipc-settings';
import { BACKEND_CHOICES, resolveTrainJob, type TrainJobSpec } from '../../shared/jobs';
import { OptionsError, resolveTrainOptions } from '../../shared/options';
import { EstimateCache, estimateKey } from './estimates';
import { scanFolder } from './folder-scan';
import { INTERRUPTED, JobStore, type StoredJob } from './job-store';
import { PathPolicy } from './path-policy';
import { SETTINGS_FILE, SettingsStore } from './settings';
import { defaultThumbnailDir, Thumbnails } from './thumbnails';
import { TileRangeError, Tiles, type TileInfo } from './tiles';
import { Watches, WatchesError } from './watches';
import {
  deleteStyle,
  duplicateStyle,
  freeStyleId,
  listStyles,
  ownedStyleFolder,
  renameStyle,
  styleDir,
  StyleLibraryError,
  styleOutDir,
  stylesRoot,
} from './style-library';
import { WorkerJobError, type WorkerHost, type WorkerJob } from './worker-host';

export interface StudioOptions {
  libraryDir: string;
  host: WorkerHost;
  transport: AppInfo['transport'];
  version: string;
  /** resources/samples (with source/, target/, held-out/), or null. */
  samplesDir: string | null;
  /** Folders requests may name; null: any (the desktop app). */
  allowedRoots: string[] | null;
  /** Native pickers (Electron); absent: 'unsupported'. */
  pick?: (kind: 'folder' | 'files', title?: string) => Promise<string[]>;
  /** Shows a folder in the file manager (Electron's shell.showItemInFolder); absent: none. */
  reveal?: (path: string) => void | Promise<void>;
  /** Where thumbnails are cached (default: a folder in the system's temp per library). */
  thumbnailDir?: string;
  /**
   * A fresh engine process host for a side task (each watched folder gets one, so it never
   * waits behind a training job); absent: watching answers 'unsupported'.
   */
  spawnHost?: () => WorkerHost;
  /** How long a watched file's size must hold still before it is converted (ms). */
  watchStableMs?: number;
  /** Where the settings are kept (default: settings.json in the library). */
  settingsFile?: string;
  /** The library is given from outside (`serve --library`): the settings cannot move it. */
  libraryFixed?: boolean;
}

/** A request that cannot be done, with the code the reply carries. */
export class RequestError extends Error {
  constructor(
    readonly code: IpcError['code'],
    message: string,
    readonly issues?: IpcError['issues'],
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

interface Queued {
  snapshot: JobSnapshot;
  work: WorkerJob;
}

export class Studio {
  private readonly jobs: JobSnapshot[] = [];
  /** Training specs by job id: what Resume runs again. */
  private readonly specs = new Map<string, TrainJobSpec>();
  /** SinCUT training specs by job id. */
  private readonly sincutSpecs = new Map<string, SinCutJobSpec>();
  /** Running training jobs asked to pause: their cancel ends in 'paused', not 'cancelled'. */
  private readonly pausing = new Set<string>();
  /**
   * The engine process kept for quick looks (a SinCUT pair) and step measurements, beside the
   * queue so New style never waits behind a training job; one request at a time.
   */
  private lookHost: WorkerHost | null = null;
  private readonly lookChain = new OneAtATime();
  private readonly estimates: EstimateCache;
  private readonly store: JobStore;
  private readonly queue: Queued[] = [];
  private readonly listeners = new Set<(event: StudioEvent) => void>();
  private readonly policy: PathPolicy;
  private readonly thumbs: Thumbnails;
  /** Full-resolution tiles for the before/after viewer, cached beside the thumbnails. */
  private readonly tiles: Tiles;
  private watches: Watches | null = null;
  private settingsStore: SettingsStore | null = null;
  /** The engine process kept for heatmaps (made on first use), and its request chain. */
  private heatmapHost: WorkerHost | null = null;
  private readonly heatmapChain = new OneAtATime();
  /** What the engine found on this machine (Settings), for the GPU adapter it was asked with. */
  private detection: { adapter: string | null; found: Promise<BackendDetection> } | null = null;
  /** PATCHWORK_GPU_ADAPTER as the studio was started: in force while the setting is null. */
  private readonly envAdapter = process.env.PATCHWORK_GPU_ADAPTER || null;
  private readonly heatmapDir: string;
  private running: Queued | null = null;
  private runningDone: Promise<void> = Promise.resolve();
  private disposed = false;

  /** A studio with the jobs of its last run (unfinished ones interrupted, resumable). */
  static async open(opts: StudioOptions): Promise<Studio> {
    const studio = new Studio(opts);
    const { jobs, warning } = await JobStore.load(studio.store.file);
    for (const j of jobs) {
      studio.jobs.push(j.snapshot);
      if (j.spec) studio.specs.set(j.snapshot.id, j.spec);
      if (j.sincut) studio.sincutSpecs.set(j.snapshot.id, j.sincut);
    }
    if (warning) process.stderr.write(`warning: ${warning}\n`);
    const settings = await SettingsStore.open(
      opts.settingsFile ?? path.join(opts.libraryDir, SETTINGS_FILE),
    );
    if (settings.warning) process.stderr.write(`warning: ${settings.warning}\n`);
    studio.settingsStore = settings.store;
    studio.applyGpuAdapter();
    if (opts.spawnHost) {
      studio.watches = await Watches.open({
        libraryDir: opts.libraryDir,
        spawnHost: opts.spawnHost,
        emit: (e) => studio.emit(e),
        ...(opts.watchStableMs !== undefined ? { stableMs: opts.watchStableMs } : {}),
      });
    }
    return studio;
  }

  constructor(private readonly opts: StudioOptions) {
    this.store = new JobStore(JobStore.fileIn(opts.libraryDir), () => this.stored());
    const roots = opts.allowedRoots && [
      ...opts.allowedRoots,
      opts.libraryDir,
      ...(opts.samplesDir ? [opts.samplesDir] : []),
    ];
    this.policy = new PathPolicy(roots);
    this.thumbs = new Thumbnails(opts.thumbnailDir ?? defaultThumbnailDir(opts.libraryDir));
    this.heatmapDir = path.join(this.thumbs.dir, 'heatmaps');
    this.tiles = new Tiles(path.join(this.thumbs.dir, 'tiles'));
    this.estimates = new EstimateCache(EstimateCache.fileIn(opts.libraryDir));
  }

  /** The settings in force (defaults until open() has read the file). */
  get settings(): StudioSettings {
    return this.settingsStore?.get() ?? { ...DEFAULT_SETTINGS };
  }

  /** The engine process's id while one runs (for diagnostics and crash tests). */
  get enginePid(): number | null {
    return this.opts.host.pid;
  }

  subscribe(listener: (event: StudioEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Validates and runs one raw request; never throws. */
  async handle(raw: unknown): Promise<Reply<unknown>> {
    const request = parseRequest(raw);
    if ('code' in request) return { ok: false, error: request };
    try {
      return { ok: true, value: await this.dispatch(request) };
    } catch (err) {
      return { ok: false, error: toIpcError(err) };
    }
  }

  /** A file the interface may show (a preview, a thumbnail, an output): its path, or null. */
  async readableFile(p: string): Promise<string | null> {
    // Heatmap pictures are the studio's own files, outside any folder the user chose.
    const own = path.isAbsolute(p) && path.dirname(path.resolve(p)) === this.heatmapDir;
    const abs = own ? path.resolve(p) : await this.policy.resolve(p);
    if (!abs || !/\.(png|jpe?g|webp|avif|tiff?|gif)$/i.test(abs)) return null;
    const stat = await fs.stat(abs).catch(() => null);
    return stat?.isFile() ? abs : null;
  }

  /**
   * A small WebP of an image the interface may show, made once and cached (thumbnails.ts):
   * its path, or null when the file is not allowed or not an image sharp can read.
   */
  async thumbnail(p: string, size: number): Promise<string | null> {
    const abs = await this.readableFile(p);
    if (!abs) return null;
    return this.thumbs.get(abs, size).catch(() => null);
  }

  /**
   * One full-resolution tile of an image the interface may show (tiles.ts): its WebP, or the
   * HTTP status and reason (400: a level or tile outside the image; 404: not allowed or not
   * an image sharp can read).
   */
  async tile(
    p: string,
    level: number,
    x: number,
    y: number,
  ): Promise<{ file: string } | { status: 400 | 404; message: string }> {
    const abs = await this.readableFile(p);
    if (!abs) return { status: 404, message: 'no image the studio may show there' };
    try {
      return { file: await this.tiles.tile(abs, level, x, y) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return { status: err instanceof TileRangeError ? 400 : 404, message };
    }
  }

  /** The size and tile pyramid of an image the interface may show ('image:tiles'). */
  private async tileInfo(p: string): Promise<TileInfo> {
    const abs = await this.readableFile(p);
    if (!abs) {
      throw new RequestError('not-found', `path: ${p} is not an image the studio may show`, [
        { path: 'path', message: 'not an allowed image' },
      ]);
    }
    try {
      return await this.tiles.info(abs);
    } catch (err) {
      throw new RequestError('rejected', err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * Before quitting: drops what waits, stops what runs gracefully (a training job pauses:
   * it writes a checkpoint and its style, and resumes from there next time; the host kills it
   * after its grace time), then disposes.
   */
  async stopAll(): Promise<void> {
    await this.watches?.dispose();
    this.heatmapHost?.dispose();
    this.lookHost?.dispose();
    for (const q of this.queue.splice(0)) this.finish(q.snapshot, 'cancelled', null);
    const running = this.running;
    if (running) {
      if (running.snapshot.kind === 'train') this.pausing.add(running.snapshot.id);
      this.opts.host.cancel(running.snapshot.id);
      await this.runningDone;
    }
    await this.dispose();
  }

  /** Drops what waits, kills the engine's process (a running job is interrupted), saves. */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.watches?.dispose();
    this.heatmapHost?.dispose();
    this.lookHost?.dispose();
    for (const q of this.queue.splice(0)) this.finish(q.snapshot, 'failed', null);
    this.opts.host.dispose();
    await this.runningDone;
    await this.persist();
    this.listeners.clear();
  }

  // ─── dispatch ────────────────────────────────────────────────────────────────────────────

  private async dispatch(r: ParsedRequest): Promise<RequestOutputs[Channel]> {
    switch (r.channel) {
      case 'app:info':
        return this.info();
      case 'jobs:list':
        return { jobs: structuredClone(this.jobs) };
      case 'styles:list':
        return { styles: await this.styles() };
      case 'train:start':
        return { job: await this.startTraining(r.input) };
      case 'convert:start':
        return { job: await this.startConversion(r.input) };
      case 'job:cancel':
        return { job: this.cancel(r.input.jobId) };
      case 'train:resume':
        return { job: this.resume(r.input.jobId) };
      case 'train:sincut':
        return { job: await this.startSinCut(r.input) };
      case 'train:pause':
        return { job: this.pause(r.input.jobId) };
      case 'train:estimate':
        return { estimate: await this.estimate(r.input) };
      case 'sincut:inspect':
        return this.inspectPair(r.input);
      case 'folder:inspect': {
        const dir = await this.folder(r.input.path, 'path');
        return scanFolder(dir, r.input.recursive ?? false);
      }
      case 'dialog:pick': {
        if (!this.opts.pick) {
          throw new RequestError('unsupported', 'file dialogs exist only in the desktop app');
        }
        return { paths: await this.opts.pick(r.input.kind, r.input.title) };
      }
      case 'style:rename':
        this.notTraining(r.input.styleId, 'renamed');
        await renameStyle(this.opts.libraryDir, r.input.styleId, r.input.name);
        this.emit({ type: 'styles-changed' });
        return { style: await this.style(r.input.styleId) };
      case 'style:delete':
        this.notTraining(r.input.styleId, 'deleted');
        await deleteStyle(this.opts.libraryDir, r.input.styleId);
        this.emit({ type: 'styles-changed' });
        return { styleId: r.input.styleId };
      case 'style:duplicate': {
        const taken = new Set(this.jobs.flatMap((j) => (j.train ? [j.train.styleId] : [])));
        const id = await duplicateStyle(this.opts.libraryDir, r.input.styleId, taken);
        this.emit({ type: 'styles-changed' });
        return { style: await this.style(id) };
      }
      case 'watch:list':
        return { watches: this.watches?.list() ?? [] };
      case 'watch:start':
        return { watch: await this.startWatch(r.input) };
      case 'watch:stop':
        return { watch: await this.watching().stop(r.input.watchId) };
      case 'watch:remove':
        await this.watching().remove(r.input.watchId);
        return { watchId: r.input.watchId };
      case 'image:tiles':
        return this.tileInfo(r.input.path);
      case 'settings:get':
        return this.settingsView();
      case 'settings:detect':
        return this.detect(r.input.refresh ?? false);
      case 'settings:set':
        return this.changeSettings(r.input);
      case 'heatmap:open':
        return this.heatmap(r.input.styleId, r.input.image, null);
      case 'heatmap:query': {
        const { styleId, image, x, y, tap, opacity } = r.input;
        return this.heatmap(styleId, image, { x, y, tap: tap ?? null, opacity });
      }
      case 'heatmap:grid': {
        const { styleId, image, n, tap, opacity } = r.input;
        return this.heatmap(styleId, image, { grid: n, tap: tap ?? null, opacity });
      }
      case 'style:reveal': {
        const dir = await ownedStyleFolder(this.opts.libraryDir, r.input.styleId);
        const inside = styleDir(this.opts.libraryDir, r.input.styleId);
        const shown = (await fs.stat(inside).catch(() => null)) ? inside : dir;
        if (!this.opts.reveal) return { path: shown, revealed: false };
        await this.opts.reveal(shown);
        return { path: shown, revealed: true };
      }
    }
  }

  private async style(id: string): Promise<StyleInfo> {
    const found = (await this.styles()).find((s) => s.id === id);
    if (!found) throw new RequestError('not-found', `there is no style "${id}"`);
    return found;
  }

  /** A style being trained keeps its name and folder until its job ends. */
  private notTraining(styleId: string, what: string): void {
    const training = this.jobs.some((j) => j.train?.styleId === styleId && !isFinished(j.status));
    if (training) {
      throw new RequestError(
        'rejected',
        `the style is still training; stop it first, then it can be ${what}`,
      );
    }
  }

  private info(): AppInfo {
    const s = this.opts.samplesDir;
    return {
      version: this.opts.version,
      transport: this.opts.transport,
      libraryDir: this.opts.libraryDir,
      samples: s
        ? {
            source: path.join(s, 'source'),
            target: path.join(s, 'target'),
            heldOut: path.join(s, 'held-out'),
          }
        : null,
      canPick: Boolean(this.opts.pick),
      allowedRoots: this.policy.roots ?? [],
    };
  }

  private async styles(): Promise<StyleInfo[]> {
    const styles = await listStyles(this.opts.libraryDir);
    for (const job of this.jobs) {
      if (job.kind !== 'train' || !job.train || isFinished(job.status)) continue;
      const style = styles.find((s) => s.id === job.train?.styleId);
      const status = job.status === 'paused' ? 'paused' : 'training';
      if (style) Object.assign(style, { status, jobId: job.id, name: job.title });
    }
    return styles;
  }

  // ─── starting jobs ───────────────────────────────────────────────────────────────────────

  private async startTraining(input: Extract<ParsedRequest, { channel: 'train:start' }>['input']) {
    const source = await this.folder(input.source, 'source');
    const target = await this.folder(input.target, 'target');
    const { styleId, out } = await this.newStyleFolder(input.name);
    const spec: TrainJobSpec = {
      source,
      target,
      out,
      options: { ...input.options, preset: input.preset },
      name: input.name,
      ...(input.iterations != null ? { iterations: input.iterations } : {}),
      ...(input.recursive !== undefined ? { recursive: input.recursive } : {}),
      ...(input.backend || this.settings.backend !== 'auto'
        ? { backend: input.backend ?? this.settings.backend }
        : {}),
      ...(input.previewEvery !== undefined ? { previewEvery: input.previewEvery } : {}),
      ...(input.progressEvery !== undefined ? { progressEvery: input.progressEvery } : {}),
      ...(input.checkpointEvery !== undefined ? { checkpointEvery: input.checkpointEvery } : {}),
    };
    resolveTrainJob(spec); // options errors answer the request instead of failing the job
    await fs.mkdir(out, { recursive: true });
    const id = newJobId();
    const snapshot = this.newJob(id, 'train', input.name);
    snapshot.train = emptyTrainView(styleId, out);
    this.specs.set(id, spec);
    const job = this.enqueue({ snapshot, work: { type: 'train', jobId: id, spec, resume: false } });
    this.emit({ type: 'styles-changed' });
    return job;
  }

  /** A style id no job or folder uses yet, from the style's name, and its output folder. */
  private async newStyleFolder(name: string): Promise<{ styleId: string; out: string }> {
    const taken = new Set(this.jobs.flatMap((j) => (j.train ? [j.train.styleId] : [])));
    await fs.mkdir(stylesRoot(this.opts.libraryDir), { recursive: true });
    const styleId = await freeStyleId(this.opts.libraryDir, name, taken);
    return { styleId, out: styleOutDir(this.opts.libraryDir, styleId) };
  }

  private async startSinCut(input: Extract<ParsedRequest, { channel: 'train:sincut' }>['input']) {
    const source = await this.imageFile(input.source, 'source');
    const target = await this.imageFile(input.target, 'target');
    const options = { variant: input.setting ?? 'reference', ...input.options } as const;
    resolveSinCutJobOptions(options); // options errors answer the request
    const { styleId, out } = await this.newStyleFolder(input.name);
    const spec: SinCutJobSpec = {
      source,
      target,
      out,
      options,
      iterations: input.iterations ?? null,
      name: input.name,
      backend: input.backend ?? this.settings.backend,
      ...(input.progressEvery !== undefined ? { progressEvery: input.progressEvery } : {}),
      ...(input.checkpointEvery !== undefined ? { checkpointEvery: input.checkpointEvery } : {}),
    };
    await fs.mkdir(out, { recursive: true });
    const id = newJobId();
    const snapshot = this.newJob(id, 'train', input.name);
    snapshot.train = emptyTrainView(styleId, out);
    this.sincutSpecs.set(id, spec);
    const work = { type: 'train-sincut', jobId: id, spec, resume: false } as const;
    const job = this.enqueue({ snapshot, work });
    this.emit({ type: 'styles-changed' });
    return job;
  }

  /** The engine's look at a SinCUT pair, in the look-up process (never behind the queue). */
  private async inspectPair(
    input: Extract<ParsedRequest, { channel: 'sincut:inspect' }>['input'],
  ): Promise<PairCheckResult> {
    const source = input.source ? await this.imageFile(input.source, 'source') : null;
    const target = input.target ? await this.imageFile(input.target, 'target') : null;
    const cropSize = input.cropSize ?? 64;
    const result = await this.look({
      type: 'check-pair',
      jobId: `pair-${newJobId()}`,
      spec: { source, target, cropSize },
    });
    if (!result.pair) throw new RequestError('internal', 'the engine sent no answer');
    return result.pair;
  }

  /**
   * Seconds per training step of a configuration on this machine: from the library's cache,
   * or measured in the look-up process (a warm-up step, then two timed ones on random crops).
   */
  private async estimate(
    input: Extract<ParsedRequest, { channel: 'train:estimate' }>['input'],
  ): Promise<StepEstimate | null> {
    const backend = input.backend ?? this.settings.backend;
    let options: Record<string, unknown>;
    let resolved: Record<string, unknown>;
    try {
      if (input.preset === 'sincut') {
        const sincut = { variant: input.setting ?? 'reference', ...input.options } as const;
        resolved = resolveSinCutJobOptions(sincut);
        options = sincut;
      } else {
        options = { ...input.options };
        resolved = resolveTrainOptions({ ...options, preset: input.preset });
      }
    } catch (err) {
      // A configuration that cannot train was never measured (a form mid-edit asks too).
      if (input.cachedOnly && err instanceof OptionsError) return null;
      throw err;
    }
    const key = estimateKey(input.preset, backend, resolved);
    const known = input.remeasure ? null : await this.estimates.get(key);
    if (known) return { ...known, cached: true };
    if (input.cachedOnly) return null;
    const contended = () => this.running !== null;
    const busyBefore = contended();
    const result = await this.look({
      type: 'estimate',
      jobId: `estimate-${newJobId()}`,
      spec: { preset: input.preset, options, backend },
    });
    if (!result.estimate) throw new RequestError('internal', 'the engine sent no measurement');
    const measured = {
      secondsPerStep: result.estimate.secondsPerStep,
      backend: result.estimate.backendDetail,
      measuredAt: new Date().toISOString(),
      contended: busyBefore || contended(),
    };
    await this.estimates.set(key, measured).catch((err: unknown) => {
      process.stderr.write(`warning: could not save the step measurement: ${String(err)}\n`);
    });
    return { ...measured, cached: false };
  }

  /** Runs a short job in the look-up engine process, one at a time; its errors answer the request. */
  private async look<J extends WorkerJob>(work: J): Promise<WorkerJobResult<J['type']>> {
    if (!this.opts.spawnHost) {
      throw new RequestError('unsupported', 'the engine cannot be asked for this here');
    }
    const spawn = this.opts.spawnHost;
    const run = () => {
      this.lookHost ??= spawn();
      return this.lookHost.run(work, () => undefined);
    };
    return this.lookChain.run(run);
  }

  private async startConversion(
    input: Extract<ParsedRequest, { channel: 'convert:start' }>['input'],
  ) {
    const dir = styleDir(this.opts.libraryDir, input.styleId);
    const meta = await fs.readFile(path.join(dir, 'style.json'), 'utf8').catch(() => null);
    if (meta === null) {
      throw new RequestError('not-found', `there is no trained style "${input.styleId}"`);
    }
    const from = await this.allowed(input.input, 'input');
    if (!(await fs.stat(from).catch(() => null))) {
      throw new RequestError('rejected', `the input ${from} does not exist`, [
        { path: 'input', message: 'does not exist' },
      ]);
    }
    const output = await this.allowed(input.output, 'output');
    const id = newJobId();
    const name = (JSON.parse(meta) as { name?: string }).name ?? input.styleId;
    const snapshot = this.newJob(id, 'convert', `Convert with ${name}`);
    snapshot.convert = { styleId: input.styleId, input: from, output, files: [], progress: null };
    return this.enqueue({
      snapshot,
      work: {
        type: 'convert',
        jobId: id,
        spec: {
          styleDir: dir,
          input: from,
          output,
          recursive: input.recursive ?? false,
          format: input.format ?? 'same',
          ...(input.quality !== undefined ? { quality: input.quality } : {}),
          backend: input.backend ?? this.settings.backend,
          memoryBudgetMB: this.settings.memoryBudgetMB,
        },
      },
    });
  }

  /**
   * Runs a heatmap request in the heatmap engine process, one at a time (a click while one
   * is computed waits for it); the process keeps the translated image between requests.
   */
  private async heatmap(
    styleId: string,
    image: string,
    query:
      | { x: number; y: number; tap: string | null; opacity?: number }
      | { grid: number; tap: string | null; opacity?: number }
      | null,
  ): Promise<HeatmapJobResult> {
    if (!this.opts.spawnHost) {
      throw new RequestError('unsupported', 'heatmaps are not available here');
    }
    const dir = styleDir(this.opts.libraryDir, styleId);
    if (!(await fs.stat(path.join(dir, 'style.json')).catch(() => null))) {
      throw new RequestError('not-found', `there is no trained style "${styleId}"`);
    }
    const file = await this.allowed(image, 'image');
    if (!(await fs.stat(file).catch(() => null))?.isFile()) {
      throw new RequestError('rejected', `image: ${file} is not an image file`, [
        { path: 'image', message: 'not a file' },
      ]);
    }
    const spawn = this.opts.spawnHost;
    const run = async () => {
      this.heatmapHost ??= spawn();
      const result = await this.heatmapHost.run(
        {
          type: 'heatmap',
          jobId: `heatmap-${newJobId()}`,
          spec: {
            styleDir: dir,
            image: file,
            point: query && 'x' in query ? { x: query.x, y: query.y } : null,
            ...(query && 'grid' in query ? { grid: query.grid } : {}),
            tap: query?.tap ?? null,
            ...(query?.opacity !== undefined ? { opacity: query.opacity } : {}),
            outDir: this.heatmapDir,
            backend: this.settings.backend,
          },
        },
        () => undefined,
      );
      if (!result.heatmap) throw new RequestError('internal', 'the engine sent no heatmap');
      return result.heatmap;
    };
    return this.heatmapChain.run(run);
  }

  private settingsView(): SettingsView {
    const settings = this.settings;
    const inUse = path.resolve(this.opts.libraryDir);
    return {
      settings,
      libraryInUse: inUse,
      libraryFixed: this.opts.libraryFixed ?? false,
      restartNeeded:
        !this.opts.libraryFixed &&
        settings.libraryDir !== null &&
        path.resolve(settings.libraryDir) !== inUse,
      backends: BACKEND_CHOICES,
    };
  }

  private async changeSettings(patch: SettingsPatch): Promise<SettingsView> {
    const store = this.settingsStore;
    if (!store) throw new RequestError('internal', 'the settings are not loaded');
    if (patch.libraryDir !== undefined && patch.libraryDir !== store.get().libraryDir) {
      if (this.opts.libraryFixed) {
        throw new RequestError(
          'rejected',
          'libraryDir: this studio’s library is given with --library when it is started',
          [{ path: 'libraryDir', message: 'set with --library' }],
        );
      }
      if (patch.libraryDir !== null) {
        const made = await fs.mkdir(patch.libraryDir, { recursive: true }).then(
          () => null,
          (err: NodeJS.ErrnoException) => err.code ?? 'error',
        );
        const stat = await fs.stat(patch.libraryDir).catch(() => null);
        if (made || !stat?.isDirectory()) {
          throw new RequestError('rejected', `libraryDir: ${patch.libraryDir} cannot be used`, [
            { path: 'libraryDir', message: 'not a folder that can be written' },
          ]);
        }
      }
    }
    const adapterBefore = store.get().gpuAdapter;
    const settings = await store.update(patch);
    if (settings.gpuAdapter !== adapterBefore) this.applyGpuAdapter(true);
    this.emit({ type: 'settings', settings });
    return this.settingsView();
  }

  /** The GPU adapter engine processes are asked to use: the setting, else the environment's. */
  private gpuAdapter(): string | null {
    return this.settings.gpuAdapter ?? this.envAdapter;
  }

  /**
   * Engine processes inherit the services' environment: the adapter setting reaches them as
   * PATCHWORK_GPU_ADAPTER (main/engine/webgpu.ts). After a change, the idle engine processes
   * are closed so the next job starts one with the new adapter; a running job keeps its GPU.
   */
  private applyGpuAdapter(changed = false): void {
    const adapter = this.gpuAdapter();
    if (adapter) process.env.PATCHWORK_GPU_ADAPTER = adapter;
    else delete process.env.PATCHWORK_GPU_ADAPTER;
    if (!changed) return;
    this.detection = null;
    if (!this.running && !this.opts.host.busy) this.opts.host.dispose();
    if (this.heatmapHost && !this.heatmapHost.busy) {
      this.heatmapHost.dispose();
      this.heatmapHost = null;
    }
    if (this.lookHost && !this.lookHost.busy) {
      this.lookHost.dispose();
      this.lookHost = null;
    }
  }

  /**
   * What the engine finds on this machine (main/worker/probe-job.ts), asked once in an engine
   * process of its own (trying each backend changes TF.js's current one) and kept until
   * `refresh` or a new GPU adapter setting.
   */
  private async detect(refresh: boolean): Promise<BackendDetection> {
    const spawn = this.opts.spawnHost;
    if (!spawn) throw new RequestError('unsupported', 'the engine cannot be asked for this here');
    const adapter = this.gpuAdapter();
    let entry = this.detection;
    if (refresh || !entry || entry.adapter !== adapter) {
      const found = (async () => {
        const host = spawn();
        try {
          const result = await host.run(
            { type: 'probe', jobId: `probe-${newJobId()}`, spec: { gpuAdapter: adapter } },
            () => undefined,
          );
          if (!result.probe) throw new WorkerJobError('the engine sent no report');
          return result.probe;
        } finally {
          host.dispose();
        }
      })();
      const made = { adapter, found };
      this.detection = entry = made;
      found.catch(() => {
        if (this.detection === made) this.detection = null;
      });
    }
    try {
      return await entry.found;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new RequestError('internal', `could not ask the engine what this machine has: ${why}`);
    }
  }

  private watching(): Watches {
    if (!this.watches) {
      throw new RequestError('unsupported', 'watching folders is not available here');
    }
    return this.watches;
  }

  private async startWatch(input: Extract<ParsedRequest, { channel: 'watch:start' }>['input']) {
    const watches = this.watching();
    const dir = styleDir(this.opts.libraryDir, input.styleId);
    const meta = await fs.readFile(path.join(dir, 'style.json'), 'utf8').catch(() => null);
    if (meta === null) {
      throw new RequestError('not-found', `there is no trained style "${input.styleId}"`);
    }
    const from = await this.folder(input.input, 'input');
    const output = await this.allowed(input.output, 'output');
    if (path.resolve(output) === path.resolve(from)) {
      throw new RequestError('rejected', 'output: choose a folder other than the watched one', [
        { path: 'output', message: 'must differ from the watched folder' },
      ]);
    }
    const name = (JSON.parse(meta) as { name?: string }).name ?? input.styleId;
    return watches.start({
      styleId: input.styleId,
      styleName: name,
      styleDir: dir,
      input: from,
      output,
      recursive: input.recursive ?? false,
      format: input.format ?? 'same',
      backend: input.backend ?? this.settings.backend,
      memoryBudgetMB: this.settings.memoryBudgetMB,
    });
  }

  private async allowed(p: string, field: string): Promise<string> {
    if (!path.isAbsolute(p)) {
      throw new RequestError('invalid-input', `${field}: give a full path (${p} is relative)`, [
        { path: field, message: 'must be a full path' },
      ]);
    }
    const abs = await this.policy.resolve(p);
    if (!abs) {
      throw new RequestError(
        'forbidden-path',
        `${field}: ${p} is outside the folders this studio may use`,
        [{ path: field, message: 'outside the allowed folders' }],
      );
    }
    return abs;
  }

  private folder(p: string, field: string): Promise<string> {
    return this.existing(p, field, 'folder');
  }

  private imageFile(p: string, field: string): Promise<string> {
    return this.existing(p, field, 'image');
  }

  /** An allowed path that is there and is a folder, or a file (one image, for SinCUT). */
  private async existing(p: string, field: string, kind: 'folder' | 'image'): Promise<string> {
    const abs = await this.allowed(p, field);
    const stat = await fs.stat(abs).catch(() => null);
    if (!(kind === 'folder' ? stat?.isDirectory() : stat?.isFile())) {
      const what = !stat
        ? 'does not exist'
        : kind === 'folder'
          ? 'is not a folder'
          : 'is a folder; SinCUT takes one image';
      throw new RequestError('rejected', `${field}: ${abs} ${what}`, [
        { path: field, message: what },
      ]);
    }
    return abs;
  }

  private newJob(id: string, kind: JobSnapshot['kind'], title: string): JobSnapshot {
    return {
      id,
      kind,
      title,
      status: 'queued',
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      error: null,
      train: null,
      convert: null,
    };
  }

  private enqueue(q: Queued): JobSnapshot {
    this.jobs.push(q.snapshot);
    this.queue.push(q);
    this.persist();
    this.emit({ type: 'job', job: structuredClone(q.snapshot) });
    this.pump();
    return structuredClone(q.snapshot);
  }

  // ─── running jobs ────────────────────────────────────────────────────────────────────────

  private pump(): void {
    if (this.running || this.disposed) return;
    const next = this.queue.shift();
    if (!next) return;
    this.running = next;
    const { snapshot, work } = next;
    snapshot.status = 'running';
    snapshot.startedAt = new Date().toISOString();
    snapshot.finishedAt = null;
    this.persist();
    this.emit({ type: 'job', job: structuredClone(snapshot) });
    this.runningDone = this.opts.host
      .run(work, (e) => this.workerEvent(snapshot.id, e))
      .then(
        (result) => this.finish(snapshot, result.status, null),
        (err: unknown) => {
          const detail = err instanceof WorkerJobError ? err.detail : undefined;
          const message = err instanceof Error ? err.message : String(err);
          this.finish(snapshot, 'failed', { message, ...(detail ? { detail } : {}) });
        },
      )
      .finally(() => {
        this.running = null;
        this.pump();
      });
  }

  private workerEvent(jobId: string, e: WorkerJobEvent): void {
    if (e.kind === 'watch') return; // only watches (watches.ts) run watch jobs
    const event: StudioJobEvent =
      e.kind === 'train'
        ? { type: 'train', jobId, event: e.event }
        : e.kind === 'convert-file'
          ? { type: 'convert-file', jobId, file: e.file }
          : { type: 'convert-progress', jobId, progress: e.progress };
    applyJobEvent(this.jobs, event);
    // A checkpoint is where a resumed job would continue: keep the record in step with it.
    if (e.kind === 'train' && e.event.type === 'checkpoint') this.persist();
    this.emit(event);
  }

  private finish(
    snapshot: JobSnapshot,
    status: JobSnapshot['status'],
    error: JobSnapshot['error'],
  ): void {
    const paused = this.pausing.delete(snapshot.id) && status === 'cancelled';
    snapshot.status = paused ? 'paused' : status;
    // A job the shutdown stopped is interrupted, not broken: it can be resumed.
    snapshot.error = this.disposed && status === 'failed' ? { message: INTERRUPTED } : error;
    snapshot.finishedAt = paused ? null : new Date().toISOString();
    this.persist();
    this.emit({ type: 'job', job: structuredClone(snapshot) });
    if (snapshot.kind === 'train') this.emit({ type: 'styles-changed' });
  }

  /**
   * Runs a paused, stopped or interrupted training job again from its last checkpoint (a
   * paused one continues from exactly the step it paused at).
   */
  private resume(jobId: string): JobSnapshot {
    const job = this.jobs.find((j) => j.id === jobId);
    const spec = this.specs.get(jobId);
    const sincut = this.sincutSpecs.get(jobId);
    if (!job || !(spec || sincut)) {
      throw new RequestError('not-found', `there is no training job ${jobId}`);
    }
    if (!['paused', 'cancelled', 'failed'].includes(job.status)) {
      throw new RequestError(
        'rejected',
        `the job is ${job.status}; only a paused or stopped job resumes`,
      );
    }
    job.status = 'queued';
    job.error = null;
    const work: WorkerJob = sincut
      ? { type: 'train-sincut', jobId, spec: sincut, resume: true }
      : { type: 'train', jobId, spec: spec as TrainJobSpec, resume: true };
    this.queue.push({ snapshot: job, work });
    this.persist();
    this.emit({ type: 'job', job: structuredClone(job) });
    this.emit({ type: 'styles-changed' });
    this.pump();
    return structuredClone(job);
  }

  private stored(): StoredJob[] {
    return this.jobs.map((snapshot) => {
      const spec = this.specs.get(snapshot.id);
      const sincut = this.sincutSpecs.get(snapshot.id);
      return { snapshot, ...(spec ? { spec } : {}), ...(sincut ? { sincut } : {}) };
    });
  }

  /** Saves the job list; a failure to write is reported, never thrown into a job's path. */
  private persist(): Promise<void> {
    return this.store.save().catch((err: unknown) => {
      process.stderr.write(`warning: could not save the job list: ${String(err)}\n`);
    });
  }

  private cancel(jobId: string): JobSnapshot {
    const job = this.jobs.find((j) => j.id === jobId);
    if (!job) throw new RequestError('not-found', `there is no job ${jobId}`);
    const waiting = this.queue.findIndex((q) => q.snapshot.id === jobId);
    if (waiting >= 0) {
      this.queue.splice(waiting, 1);
      this.finish(job, 'cancelled', null);
    } else if (job.status === 'paused') {
      // Its style was written when it paused: stopping keeps it as the finished style.
      this.finish(job, 'cancelled', null);
    } else if (this.running?.snapshot.id === jobId) {
      this.pausing.delete(jobId); // a Stop while pausing ends the training for good
      this.opts.host.cancel(jobId);
    }
    return structuredClone(job);
  }

  /**
   * Pauses a running training job: the engine finishes its step, writes a checkpoint (and the
   * style as it stands) and is given back to the queue; Resume continues from that step.
   */
  private pause(jobId: string): JobSnapshot {
    const job = this.jobs.find((j) => j.id === jobId);
    if (!job || job.kind !== 'train') {
      throw new RequestError('not-found', `there is no training job ${jobId}`);
    }
    if (this.running?.snapshot.id !== jobId) {
      const why =
        job.status === 'queued'
          ? 'it has not started yet (cancel it to take it off the queue)'
          : `it is ${job.status}`;
      throw new RequestError('rejected', `only a running training job can pause; ${why}`);
    }
    this.pausing.add(jobId);
    this.opts.host.cancel(jobId);
    return structuredClone(job);
  }

  private emit(event: StudioEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // One broken listener (a closed socket) must not stop the others.
      }
    }
  }
}

/** Engine requests one at a time: each starts once the one before has settled. */
class OneAtATime {
  private tail: Promise<unknown> = Promise.resolve();

  /** `work`'s result; an engine job's failure answers the request (internal if it crashed). */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => undefined);
    try {
      return await next;
    } catch (err) {
      if (err instanceof WorkerJobError) {
        throw new RequestError(err.crashed ? 'internal' : 'rejected', err.message);
      }
      throw err;
    }
  }
}

function newJobId(): string {
  return randomUUID().slice(0, 18);
}

function toIpcError(err: unknown): IpcError {
  if (
    err instanceof RequestError ||
    err instanceof StyleLibraryError ||
    err instanceof WatchesError
  ) {
    const issues = err instanceof RequestError ? err.issues : undefined;
    return { code: err.code, message: err.message, ...(issues ? { issues } : {}) };
  }
  if (err instanceof OptionsError) {
    return {
      code: 'rejected',
      message: err.message,
      issues: err.issues.map((i) => ({ path: i.option, message: i.message })),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message };
}
