/**
 * The studio's services behind the one contract (shared/ipc.ts): the Electron handlers and
 * `patchwork serve` both hand every raw message to Studio.handle, which validates it, runs
 * its channel's handler (routes/, one group per area) and answers with a Reply; events go to
 * every subscriber. This class only assembles the parts and is what the transports hold: the
 * job queue (job-queue.ts), the engine processes beside it (side-engine.ts), the GPU adapter
 * and backend detection (backend-detection.ts), the path checks (studio-paths.ts), settings,
 * watches, thumbnails and the viewer's image pyramid.
 */
import path from 'node:path';
import { parseRequest, type Reply, type StudioEvent } from '../../../shared/ipc';
import { isWatching } from '../../../shared/ipc-watch';
import { DEFAULT_SETTINGS, type StudioSettings } from '../../../shared/ipc-settings';
import { CacheRoot, libraryCacheDir } from '../cache-folder';
import { EstimateCache } from '../estimates';
import { ImagePyramid, PyramidRangeError } from '../image-pyramid';
import { Inbox, INBOX_FOLDER } from '../inbox';
import { INBOX_LEDGER_FILE, InboxUpkeep } from '../inbox-upkeep';
import { PathPolicy } from '../path-policy';
import { applyThreadSetting, SETTINGS_FILE, SettingsStore } from '../settings';
import { Thumbnails } from '../thumbnails';
import { Watches } from '../watches';
import { GpuBackends } from './backend-detection';
import type { StudioContext, StudioOptions } from './context';
import { JobQueue } from './job-queue';
import { toIpcError } from './request-error';
import { dispatch, studioRoutes, type Routes } from './routes/routes';
import { engineIdleExitMs } from '../worker-host';
import { HEATMAP_ENGINE_IDLE_MS, SideEngine } from './side-engine';
import { StudioPaths } from './studio-paths';

export type { StudioOptions } from './context';
export { RequestError } from './request-error';

export class Studio {
  private readonly listeners = new Set<(event: StudioEvent) => void>();
  private readonly jobs: JobQueue;
  private readonly paths: StudioPaths;
  /** The caches' root (thumbnails, pyramid tiles, heatmap pictures), private to this user. */
  private readonly cache: CacheRoot;
  private readonly thumbs: Thumbnails;
  /** Full-resolution tiles for the before/after viewer, cached beside the thumbnails. */
  private readonly pyramid: ImagePyramid;
  private readonly shortJobs: SideEngine | null;
  private readonly heatmaps: SideEngine | null;
  private readonly gpu: GpuBackends;
  private readonly routes: Routes;
  private readonly inbox: Inbox;
  private readonly inboxUpkeep: InboxUpkeep;
  private watches: Watches | null = null;
  private settingsStore: SettingsStore | null = null;

  /** A studio with the jobs of its last run (unfinished ones interrupted, resumable). */
  static async open(opts: StudioOptions): Promise<Studio> {
    const studio = new Studio(opts);
    // A cache root that is a link or someone else's stops the studio here, saying which.
    await studio.cache.ready();
    await studio.jobs.load();
    const settings = await SettingsStore.open(
      opts.settingsFile ?? path.join(opts.libraryDir, SETTINGS_FILE),
    );
    if (settings.warning) process.stderr.write(`warning: ${settings.warning}\n`);
    studio.settingsStore = settings.store;
    studio.gpu.apply();
    applyThreadSetting(studio.settings.threads);
    if (opts.spawnHost) {
      studio.watches = await Watches.open({
        libraryDir: opts.libraryDir,
        spawnHost: opts.spawnHost,
        emit: (e) => studio.emit(e),
        ...(opts.watchStableMs !== undefined ? { stableMs: opts.watchStableMs } : {}),
        allowedRoots: () => studio.paths.policy.roots,
      });
    }
    // What the last run left in the inbox: unfinished uploads, old converted ones.
    const tidied = await studio.inboxUpkeep.start().catch((err: unknown) => {
      process.stderr.write(`warning: the inbox was not tidied: ${String(err)}\n`);
      return null;
    });
    const gone = tidied && tidied.temporaries.length + tidied.converted.length;
    if (gone)
      process.stderr.write(
        `inbox: removed ${gone} file${gone === 1 ? '' : 's'} no longer needed\n`,
      );
    return studio;
  }

  constructor(private readonly opts: StudioOptions) {
    const emit = (event: StudioEvent) => this.emit(event);
    this.jobs = new JobQueue(opts.host, opts.libraryDir, emit);
    const roots = opts.allowedRoots && [
      ...opts.allowedRoots,
      opts.libraryDir,
      ...(opts.samplesDir ? [opts.samplesDir] : []),
    ];
    this.cache = new CacheRoot(opts.cacheDir ?? libraryCacheDir(opts.libraryDir));
    this.thumbs = new Thumbnails(this.cache.folder('thumbnails'), this.cache.dir);
    this.paths = new StudioPaths(new PathPolicy(roots, opts.grantedRoots ?? null), this.cache);
    this.pyramid = new ImagePyramid(this.cache.folder('pyramid'), this.cache.dir);
    this.inbox = new Inbox(path.join(opts.libraryDir, INBOX_FOLDER));
    this.inboxUpkeep = new InboxUpkeep(this.inbox, {
      ledgerFile: path.join(opts.libraryDir, INBOX_LEDGER_FILE),
      inUse: (inside) => this.inboxUser(inside),
    });
    const spawn = opts.spawnHost;
    this.shortJobs = spawn ? new SideEngine(() => spawn()) : null;
    // The heatmap process keeps the image it translated while the artist looks at it.
    const heatmapIdle = { idleExitMs: engineIdleExitMs(process.env, HEATMAP_ENGINE_IDLE_MS) };
    this.heatmaps = spawn ? new SideEngine(() => spawn(heatmapIdle)) : null;
    this.gpu = new GpuBackends(
      () => this.settings.gpuAdapter,
      spawn,
      () => {
        this.jobs.closeEngineIfIdle();
        this.heatmaps?.closeIfIdle();
        this.shortJobs?.closeIfIdle();
      },
    );
    const ctx: StudioContext = {
      opts,
      paths: this.paths,
      jobs: this.jobs,
      pyramid: this.pyramid,
      estimates: new EstimateCache(EstimateCache.fileIn(opts.libraryDir)),
      gpu: this.gpu,
      shortJobs: this.shortJobs,
      heatmaps: this.heatmaps,
      cache: this.cache,
      inbox: this.inbox,
      inboxUpkeep: this.inboxUpkeep,
      settings: () => this.settings,
      settingsStore: () => this.settingsStore,
      watches: () => this.watches,
      emit,
    };
    this.routes = studioRoutes(ctx);
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
      return { ok: true, value: await dispatch(this.routes, request) };
    } catch (err) {
      return { ok: false, error: toIpcError(err) };
    }
  }

  /** A file the interface may show (a preview, a thumbnail, an output): its path, or null. */
  readableFile(p: string): Promise<string | null> {
    return this.paths.readableFile(p);
  }

  /**
   * A small WebP of an image the interface may show, made once and cached (thumbnails.ts):
   * its path, or null when the file is not allowed or not an image sharp can read.
   */
  async thumbnail(p: string, size: number): Promise<string | null> {
    const abs = await this.readableFile(p);
    if (!abs) return null;
    const made = await this.thumbs.get(abs, size).catch(() => null);
    return made && this.cache.servable(made);
  }

  /**
   * One full-resolution tile of an image the interface may show (image-pyramid.ts): its
   * WebP, or the HTTP status and reason (400: a level or tile outside the image; 404: not
   * allowed or not an image sharp can read).
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
      const file = await this.cache.servable(await this.pyramid.tile(abs, level, x, y));
      if (!file) return { status: 404, message: 'that tile is not a file of the cache' };
      return { file };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return { status: err instanceof PyramidRangeError ? 400 : 404, message };
    }
  }

  /**
   * Before quitting: drops what waits, stops what runs gracefully (a training job pauses:
   * it writes a checkpoint and its style, and resumes from there next time; the host kills it
   * after its grace time), then disposes.
   */
  async stopAll(): Promise<void> {
    await this.watches?.dispose();
    this.heatmaps?.dispose();
    this.shortJobs?.dispose();
    await this.jobs.stop();
    await this.dispose();
  }

  /** Drops what waits, kills the engine's process (a running job is interrupted), saves. */
  async dispose(): Promise<void> {
    this.jobs.markDisposed();
    await this.inbox.dispose();
    await this.inboxUpkeep.dispose();
    await this.watches?.dispose();
    this.heatmaps?.dispose();
    this.shortJobs?.dispose();
    await this.jobs.dispose();
    this.listeners.clear();
  }

  /** Which job or watched folder uses a folder that `inside` accepts, in words; or null. */
  private inboxUser(inside: (p: string) => boolean): string | null {
    const job = this.jobs.foldersInUse().find((u) => inside(u.folder));
    if (job) return `“${job.title}” uses it`;
    const watch = this.watches
      ?.list()
      .find((w) => isWatching(w) && (inside(w.input) || inside(w.output)));
    return watch ? `the watched folder ${watch.input} uses it` : null;
  }

  private emit(event: StudioEvent): void {
    // A converted upload goes on the inbox's ledger (removed when old); its result never.
    if (event.type === 'convert-file' || event.type === 'watch-file') {
      this.inboxUpkeep.noteFile(event.file);
    }
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // One broken listener (a closed socket) must not stop the others.
      }
    }
  }
}
