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
import { messageOf } from '../errors';
import { ConvertForm } from './convert-form.svelte';
import { StyleActions } from './style-actions.svelte';
import { TrainForm } from './train-form.svelte';

export type View = 'train' | 'styles' | 'convert';

export class StudioState {
  info = $state<AppInfo | null>(null);
  jobs = $state<JobSnapshot[]>([]);
  styles = $state<StyleInfo[]>([]);
  view = $state<View>('train');
  /** A problem reaching the services at all. */
  problem = $state<string | null>(null);
  readonly train: TrainForm;
  readonly convert: ConvertForm;
  readonly styleActions: StyleActions;

  constructor(readonly api: PatchworkApi) {
    this.train = new TrainForm(api, () => this.info);
    this.convert = new ConvertForm(api, () => this.info);
    this.styleActions = new StyleActions(api, () => this.refreshStyles());
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
      await Promise.all([this.refreshJobs(), this.refreshStyles()]);
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

  async cancel(jobId: string): Promise<void> {
    try {
      await this.api.request('job:cancel', { jobId });
    } catch (err) {
      this.problem = `Could not stop the job: ${messageOf(err)}`;
    }
  }

  /** Continues a stopped or interrupted training job from its last checkpoint. */
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
      void Promise.all([this.refreshJobs(), this.refreshStyles()]).catch(() => undefined);
      return;
    }
    applyJobEvent(this.jobs, e);
  }
}
