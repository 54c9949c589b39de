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
import { applyJobEvent, type JobSnapshot } from '../../../../shared/ipc-jobs';
import { applyWatchEvent, type WatchInfo } from '../../../../shared/ipc-watch';
import { messageOf } from '../errors';
import { COMPARE_SIZE, CompareState } from './compare.svelte';
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
  readonly train: TrainForm;
  readonly convert: ConvertForm;
  readonly compare = new CompareState();
  readonly heatmap: HeatmapState;
  readonly settings: SettingsForm;
  /** Convert's form starts with the default-format setting (once, when it is first known). */
  private formatFromSettings = true;

  constructor(readonly api: PatchworkApi) {
    this.train = new TrainForm(api, () => this.info);
    this.convert = new ConvertForm(api, () => this.info);
    this.heatmap = new HeatmapState(api);
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
    applyJobEvent(this.jobs, e);
  }
}
