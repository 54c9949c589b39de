/**
 * The studio's jobs: every job's snapshot (kept in `<library>/jobs.json` by ../job-store.ts),
 * the training specs Resume runs again, and the queue. Jobs run one at a time in the engine's
 * process (WorkerHost), in the order they were asked for; a job whose process dies fails with
 * the reason and the queue goes on with a fresh process. Pause is a cancel that ends in
 * 'paused' (the engine writes a checkpoint first); shutting down interrupts, resumably.
 */
import { randomUUID } from 'node:crypto';
import type { StudioEvent } from '../../../shared/ipc';
import {
  applyJobEvent,
  isFinished,
  type JobSnapshot,
  type StudioJobEvent,
} from '../../../shared/ipc-jobs';
import type { SinCutJobSpec, WorkerJobEvent } from '../../../shared/ipc-worker';
import type { TrainJobSpec } from '../../../shared/jobs';
import { INTERRUPTED, JobStore, type StoredJob } from '../job-store';
import { WorkerJobError, type WorkerHost, type WorkerJob } from '../worker-host';
import { RequestError } from './request-error';

interface Queued {
  snapshot: JobSnapshot;
  work: WorkerJob;
}

/** A short random id for a job or an engine request. */
export function newJobId(): string {
  return randomUUID().slice(0, 18);
}

/** A new job's snapshot, queued. */
export function newJob(id: string, kind: JobSnapshot['kind'], title: string): JobSnapshot {
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

export class JobQueue {
  private readonly jobs: JobSnapshot[] = [];
  /** Training specs by job id: what Resume runs again. */
  private readonly specs = new Map<string, TrainJobSpec>();
  /** SinCUT training specs by job id. */
  private readonly sincutSpecs = new Map<string, SinCutJobSpec>();
  /** Running training jobs asked to pause: their cancel ends in 'paused', not 'cancelled'. */
  private readonly pausing = new Set<string>();
  private readonly queue: Queued[] = [];
  private readonly store: JobStore;
  private running: Queued | null = null;
  private runningDone: Promise<void> = Promise.resolve();
  private disposed = false;

  constructor(
    private readonly host: WorkerHost,
    libraryDir: string,
    private readonly emit: (event: StudioEvent) => void,
  ) {
    this.store = new JobStore(JobStore.fileIn(libraryDir), () => this.stored());
  }

  /** Takes in the jobs of the last run (unfinished ones interrupted, resumable). */
  async load(): Promise<void> {
    const { jobs, warning } = await JobStore.load(this.store.file);
    for (const j of jobs) {
      this.jobs.push(j.snapshot);
      if (j.spec) this.specs.set(j.snapshot.id, j.spec);
      if (j.sincut) this.sincutSpecs.set(j.snapshot.id, j.sincut);
    }
    if (warning) process.stderr.write(`warning: ${warning}\n`);
  }

  /** Every job, oldest first (the live snapshots: read them, never change them). */
  get all(): readonly JobSnapshot[] {
    return this.jobs;
  }

  /** A copy of every job, for a reply. */
  list(): JobSnapshot[] {
    return structuredClone(this.jobs);
  }

  /** Whether a job runs in the engine's process now. */
  get busy(): boolean {
    return this.running !== null;
  }

  /**
   * The folders the jobs still to end read or write (waiting, running or paused: a conversion's
   * input and output, a training's source, target and output), each with its job's title.
   */
  foldersInUse(): { folder: string; title: string }[] {
    return this.jobs
      .filter((j) => !isFinished(j.status))
      .flatMap((j) => {
        const spec = this.specs.get(j.id) ?? this.sincutSpecs.get(j.id);
        const folders = [
          ...(j.convert ? [j.convert.input, j.convert.output] : []),
          ...(spec ? [spec.source, spec.target, spec.out] : []),
        ];
        return folders.map((folder) => ({ folder, title: j.title }));
      });
  }

  /** The styles training jobs were started for: their ids are taken. */
  trainedStyleIds(): Set<string> {
    return new Set(this.jobs.flatMap((j) => (j.train ? [j.train.styleId] : [])));
  }

  /** Queues a job (a training one with the spec Resume runs again); answers its snapshot. */
  enqueue(snapshot: JobSnapshot, work: WorkerJob): JobSnapshot {
    if (work.type === 'train') this.specs.set(snapshot.id, work.spec);
    if (work.type === 'train-sincut') this.sincutSpecs.set(snapshot.id, work.spec);
    this.jobs.push(snapshot);
    this.queue.push({ snapshot, work });
    void this.persist();
    this.emit({ type: 'job', job: structuredClone(snapshot) });
    this.pump();
    return structuredClone(snapshot);
  }

  /**
   * Runs a paused, stopped or interrupted training job again from its last checkpoint (a
   * paused one continues from exactly the step it paused at).
   */
  resume(jobId: string): JobSnapshot {
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
    void this.persist();
    this.emit({ type: 'job', job: structuredClone(job) });
    this.emit({ type: 'styles-changed' });
    this.pump();
    return structuredClone(job);
  }

  cancel(jobId: string): JobSnapshot {
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
      this.host.cancel(jobId);
    }
    return structuredClone(job);
  }

  /**
   * Takes finished jobs off the list (and out of jobs.json): the one named, which must have
   * finished, or every finished one of `kind` (all kinds when absent). A training job's style
   * stays in the library; only the card and its Resume go. Answers the ids taken off.
   */
  clear(which: { jobId?: string; kind?: JobSnapshot['kind'] }): string[] {
    let gone: JobSnapshot[];
    if (which.jobId !== undefined) {
      const job = this.jobs.find((j) => j.id === which.jobId);
      if (!job) throw new RequestError('not-found', `there is no job ${which.jobId}`);
      if (!isFinished(job.status)) {
        throw new RequestError(
          'rejected',
          `the job is ${job.status}; only a finished or failed job can be cleared (stop it first)`,
        );
      }
      gone = [job];
    } else {
      gone = this.jobs.filter(
        (j) => isFinished(j.status) && (which.kind === undefined || j.kind === which.kind),
      );
    }
    const ids = gone.map((j) => j.id);
    if (!ids.length) return [];
    for (const id of ids) {
      this.specs.delete(id);
      this.sincutSpecs.delete(id);
    }
    const keep = this.jobs.filter((j) => !ids.includes(j.id));
    this.jobs.splice(0, this.jobs.length, ...keep);
    void this.persist();
    this.emit({ type: 'jobs-cleared', jobIds: ids });
    return ids;
  }

  /**
   * Pauses a running training job: the engine finishes its step, writes a checkpoint (and the
   * style as it stands) and is given back to the queue; Resume continues from that step.
   */
  pause(jobId: string): JobSnapshot {
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
    this.host.cancel(jobId);
    return structuredClone(job);
  }

  /** Closes the engine's process unless a job runs in it (the next job starts a fresh one). */
  closeEngineIfIdle(): void {
    if (!this.running && !this.host.busy) this.host.dispose();
  }

  /**
   * Before quitting: cancels what waits and stops what runs gracefully (a training job
   * pauses: it writes a checkpoint and its style, and resumes from there next time).
   */
  async stop(): Promise<void> {
    for (const q of this.queue.splice(0)) this.finish(q.snapshot, 'cancelled', null);
    const running = this.running;
    if (running) {
      if (running.snapshot.kind === 'train') this.pausing.add(running.snapshot.id);
      this.host.cancel(running.snapshot.id);
      await this.runningDone;
    }
  }

  /** Fails what waits, kills the engine's process (a running job is interrupted), saves. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const q of this.queue.splice(0)) this.finish(q.snapshot, 'failed', null);
    this.host.dispose();
    await this.runningDone;
    await this.persist();
  }

  /** Stops taking new work; dispose() finishes the job (jobs failing from here on are interrupted). */
  markDisposed(): void {
    this.disposed = true;
  }

  private pump(): void {
    if (this.running || this.disposed) return;
    const next = this.queue.shift();
    if (!next) return;
    this.running = next;
    const { snapshot, work } = next;
    snapshot.status = 'running';
    snapshot.startedAt = new Date().toISOString();
    snapshot.finishedAt = null;
    void this.persist();
    this.emit({ type: 'job', job: structuredClone(snapshot) });
    this.runningDone = this.host
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
    if (e.kind === 'watch') return; // only watches (../watches.ts) run watch jobs
    const event: StudioJobEvent =
      e.kind === 'train'
        ? { type: 'train', jobId, event: e.event }
        : e.kind === 'convert-file'
          ? { type: 'convert-file', jobId, file: e.file }
          : { type: 'convert-progress', jobId, progress: e.progress };
    applyJobEvent(this.jobs, event);
    // A checkpoint is where a resumed job would continue: keep the record in step with it.
    if (e.kind === 'train' && e.event.type === 'checkpoint') void this.persist();
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
    void this.persist();
    this.emit({ type: 'job', job: structuredClone(snapshot) });
    if (snapshot.kind === 'train') this.emit({ type: 'styles-changed' });
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
}
