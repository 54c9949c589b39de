/**
 * The page's state (STYLE.md: Svelte 5 state in .svelte.ts classes): what the services said
 * (app info, jobs, styles), kept current by their events, and which view is open. Views
 * read and call this; none of them talks to the api directly, so switching views loses
 * nothing.
 */
import {
  type AppInfo,
  type PatchworkApi,
  type StudioEvent,
  type StyleInfo,
} from '../../../../shared/ipc';
import { isUploadableName, UPLOAD_CHUNK_BYTES } from '../../../../shared/ipc-files';
import {
  applyJobEvent,
  isFinished,
  type JobKind,
  type JobSnapshot,
} from '../../../../shared/ipc-jobs';
import type { ConvertFileInfo } from '../../../../shared/ipc-jobs';
import { applyWatchEvent, type WatchInfo } from '../../../../shared/ipc-watch';
import { messageOf } from '../errors';
import { FolderBrowserState } from './browser.svelte';
import { COMPARE_SIZE, CompareState } from './compare.svelte';
import { GalleryState } from './gallery.svelte';
import { browserNoticeHost, Notices } from './notices.svelte';
import { ConvertForm } from './convert-form.svelte';
import { HeatmapState } from './heatmap.svelte';
import { applyTheme, SettingsForm } from './settings.svelte';
import { TrainForm } from './train-form.svelte';
import type { View } from '../../views/views';

export type { View };

export class StudioState {
  info = $state<AppInfo | null>(null);
  jobs = $state<JobSnapshot[]>([]);
  styles = $state<StyleInfo[]>([]);
  watches = $state<WatchInfo[]>([]);
  /** A watch's switch that failed to flip, with the reason, on that watch's card. */
  watchProblem = $state<{ watchId: string; message: string } | null>(null);
  view = $state<View>('train');
  /** A problem reaching the services at all. */
  problem = $state<string | null>(null);
  /** A job that just appeared: its view brings its card into sight once (then null). */
  revealJobId = $state<string | null>(null);
  /** Images dropped on Convert being uploaded: how many of how many. */
  uploading = $state<{ done: number; total: number } | null>(null);
  readonly browser: FolderBrowserState;
  readonly notices: Notices;
  readonly gallery = new GalleryState();
  readonly train: TrainForm;
  readonly convert: ConvertForm;
  readonly compare = new CompareState();
  readonly heatmap: HeatmapState;
  readonly settings: SettingsForm;
  /** The output folder the last drop chose (a new drop replaces it, not the artist's). */
  private dropOutput: string | null = null;
  /** Convert's form starts with the default-format setting (once, when it is first known). */
  private formatFromSettings = true;

  constructor(readonly api: PatchworkApi) {
    this.train = new TrainForm(api, () => this.info);
    this.convert = new ConvertForm(api, () => this.info);
    this.heatmap = new HeatmapState(api);
    const win = typeof window === 'undefined' ? null : window;
    this.browser = new FolderBrowserState(api, storageOf(win));
    this.notices = new Notices(
      win && browserNoticeHost(win),
      () => this.info?.transport === 'serve',
    );
    this.settings = new SettingsForm(api, (s) => {
      applyTheme(s.theme, document.documentElement);
      if (this.formatFromSettings) this.convert.format = s.defaultFormat;
      this.formatFromSettings = false;
    });
  }

  get trainJobs(): JobSnapshot[] {
    return this.jobs.filter((j) => j.kind === 'train').reverse();
  }

  get convertJobs(): JobSnapshot[] {
    return this.jobs.filter((j) => j.kind === 'convert').reverse();
  }

  get readyStyles(): StyleInfo[] {
    return this.styles.filter((s) => s.status === 'ready');
  }

  async start(): Promise<void> {
    this.api.subscribe((e) => this.onEvent(e));
    try {
      this.info = await this.api.request('app:info', {});
      await Promise.all([
        this.refreshJobs(),
        this.refreshStyles(),
        this.refreshWatches(),
        this.settings.load(),
      ]);
      this.problem = null;
    } catch (err) {
      this.problem = `Cannot reach the studio’s services: ${messageOf(err)}`;
    }
  }

  async refreshJobs(): Promise<void> {
    this.jobs = (await this.api.request('jobs:list', {})).jobs;
  }

  async refreshStyles(): Promise<void> {
    this.styles = (await this.api.request('styles:list', {})).styles;
  }

  async refreshWatches(): Promise<void> {
    this.watches = (await this.api.request('watch:list', {})).watches;
  }

  /** Flips a watch's switch: off stops it, on starts it again with its style and folders. */
  async toggleWatch(watch: WatchInfo, on: boolean): Promise<void> {
    this.watchProblem = null;
    try {
      if (!on) await this.api.request('watch:stop', { watchId: watch.id });
      else {
        await this.api.request('watch:start', {
          styleId: watch.styleId,
          input: watch.input,
          output: watch.output,
          recursive: watch.recursive,
          format: watch.format,
        });
      }
    } catch (err) {
      this.watchProblem = { watchId: watch.id, message: messageOf(err) };
    }
  }

  async removeWatch(watchId: string): Promise<void> {
    try {
      await this.api.request('watch:remove', { watchId });
    } catch (err) {
      this.watchProblem = { watchId, message: messageOf(err) };
    }
  }

  async cancel(jobId: string): Promise<void> {
    try {
      await this.api.request('job:cancel', { jobId });
    } catch (err) {
      this.problem = `Could not stop the job: ${messageOf(err)}`;
    }
  }

  /** Pauses a running training job: a checkpoint, and the engine is free for the next job. */
  async pause(jobId: string): Promise<void> {
    try {
      await this.api.request('train:pause', { jobId });
      this.problem = null;
    } catch (err) {
      this.problem = `Could not pause: ${messageOf(err)}`;
    }
  }

  /** Continues a paused, stopped or interrupted training job from its last checkpoint. */
  async resume(jobId: string): Promise<void> {
    try {
      await this.api.request('train:resume', { jobId });
      this.problem = null;
    } catch (err) {
      this.problem = `Could not resume: ${messageOf(err)}`;
    }
  }

  /** Takes one finished job's card off the list (every tab's). */
  async clearJob(jobId: string): Promise<void> {
    try {
      await this.api.request('jobs:clear', { jobId });
    } catch (err) {
      this.notices.toast(`Could not clear the job: ${messageOf(err)}`, 'error');
    }
  }

  /** Takes every finished job of a kind off the list. */
  async clearFinished(kind: JobKind): Promise<void> {
    try {
      await this.api.request('jobs:clear', { kind });
    } catch (err) {
      this.notices.toast(`Could not clear the jobs: ${messageOf(err)}`, 'error');
    }
  }

  finishedCount(kind: JobKind): number {
    return this.jobs.filter((j) => j.kind === kind && isFinished(j.status)).length;
  }

  /** Opens the results gallery on a conversion's (or a watched folder's) converted files. */
  openGallery(title: string, files: () => readonly ConvertFileInfo[], at?: string): void {
    this.gallery.open({ title, files }, at);
  }

  /**
   * Images dropped on Convert: where the app knows a dropped file's path (the desktop app)
   * and one was dropped, it becomes the input; otherwise the images are uploaded into a new
   * folder of the library's inbox, which becomes the input (and, with no output folder yet,
   * a folder beside it the output), and are converted when a style is chosen.
   */
  async dropOnConvert(files: File[]): Promise<void> {
    const known = files.length === 1 ? this.pathOfFile(files[0]) : null;
    if (known) {
      this.convert.input = known;
      return;
    }
    const images = files.filter((f) => isUploadableName(f.name));
    const left = files.filter((f) => !isUploadableName(f.name));
    if (left.length) {
      const names = left
        .map((f) => f.name)
        .slice(0, 3)
        .join(', ');
      this.notices.toast(
        `Left out (not JPEG, PNG, WebP, TIFF or AVIF images): ${names}${left.length > 3 ? ` and ${left.length - 3} more` : ''}`,
        'error',
      );
    }
    if (!images.length || this.uploading) return;
    this.uploading = { done: 0, total: images.length };
    let folder: string | undefined;
    const failed: string[] = [];
    try {
      for (const file of images) {
        try {
          folder = await this.upload(file, folder);
        } catch (err) {
          failed.push(`${file.name}: ${messageOf(err)}`);
        }
        this.uploading = { done: this.uploading.done + 1, total: images.length };
      }
    } finally {
      this.uploading = null;
    }
    for (const f of failed) this.notices.toast(`Not uploaded — ${f}`, 'error');
    const landed = images.length - failed.length;
    if (!folder || !landed) return;
    this.convert.watch = false;
    this.convert.input = folder;
    const output = this.convert.output.trim();
    if (!output || output === this.dropOutput) {
      // A fresh folder for this drop's results (an earlier drop's would skip equal names).
      this.dropOutput = besideFolder(folder, 'converted');
      this.convert.output = this.dropOutput;
    }
    if (!this.convert.styleId) {
      this.notices.toast(
        `${landed} image${landed === 1 ? '' : 's'} uploaded. Choose a style, then Convert images.`,
      );
      return;
    }
    await this.convert.submit();
  }

  /** Sends one file in chunks; answers the inbox folder it landed in. */
  private async upload(file: File, folder: string | undefined): Promise<string> {
    const started = await this.api.request('inbox:begin', {
      name: file.name,
      size: file.size,
      ...(folder ? { folder } : {}),
    });
    try {
      for (let at = 0; at < file.size; at += UPLOAD_CHUNK_BYTES) {
        const data = await base64Of(file.slice(at, at + UPLOAD_CHUNK_BYTES));
        await this.api.request('inbox:chunk', { uploadId: started.uploadId, offset: at, data });
      }
      await this.api.request('inbox:finish', { uploadId: started.uploadId });
    } catch (err) {
      await this.api.request('inbox:abort', { uploadId: started.uploadId }).catch(() => undefined);
      throw err;
    }
    return started.folder;
  }

  fileUrl(path: string): string {
    return this.api.fileUrl(path);
  }

  /** A thumbnail the services make with sharp: never the full-size file for a small view. */
  thumbUrl(path: string, size: number): string {
    return this.api.thumbUrl(path, size);
  }

  /** A dropped file's path (the desktop app knows it; a browser does not say). */
  pathOfFile(file: File): string | null {
    return this.api.pathOfFile(file);
  }

  /** Opens the before/after viewer on a converted file (previews made by the services). */
  openCompare(file: { input: string; output: string; relative: string }): void {
    this.compare.open({
      title: file.relative,
      before: this.thumbUrl(file.input, COMPARE_SIZE),
      after: this.thumbUrl(file.output, COMPARE_SIZE),
    });
  }

  convertWith(styleId: string): void {
    this.convert.styleId = styleId;
    this.view = 'convert';
  }

  private onEvent(e: StudioEvent): void {
    if (e.type === 'styles-changed') {
      void this.refreshStyles().catch(() => undefined);
      return;
    }
    if (e.type === 'resync') {
      void Promise.all([this.refreshJobs(), this.refreshStyles(), this.refreshWatches()]).catch(
        () => undefined,
      );
      return;
    }
    if (e.type === 'settings') {
      this.settings.fill(e.settings);
      return;
    }
    if (e.type === 'watch' || e.type === 'watch-file' || e.type === 'watch-progress') {
      applyWatchEvent(this.watches, e);
      return;
    }
    if (e.type === 'job') {
      const known = this.jobs.find((j) => j.id === e.job.id);
      const before = known && { ...known };
      applyJobEvent(this.jobs, e);
      if (!before && !isFinished(e.job.status)) this.revealJobId = e.job.id;
      this.notices.jobChanged(before, e.job);
      return;
    }
    applyJobEvent(this.jobs, e);
  }
}

/** A folder beside `folder` named after it: "<folder> <suffix>". */
function besideFolder(folder: string, suffix: string): string {
  return `${folder.replace(/[\\/]+$/, '')} ${suffix}`;
}

/** A Blob's bytes as base64 (the browser's own encoder: no string built byte by byte). */
function base64Of(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error ?? new Error('the file could not be read'));
    reader.readAsDataURL(blob);
  });
}

function storageOf(win: Window | null): Storage | null {
  try {
    return win?.localStorage ?? null;
  } catch {
    return null; // storage disabled: recent places are not kept
  }
}
