/**
 * The studio's jobs on disk (`<library>/jobs.json`), so closing the app or the server loses
 * nothing: every job's snapshot and, for training, the spec it was started with. A job that
 * was running or waiting when the studio stopped comes back as interrupted, and can be
 * resumed from its last checkpoint; a paused one stays paused (its checkpoint is on disk).
 * Written to a temporary file and renamed, coalescing
 * saves asked for while one is being written.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CoalescedJsonWriter } from '../files/atomic-file';
import { isFinished, type JobSnapshot } from '../../shared/ipc-jobs';
import type { SinCutJobSpec } from '../../shared/ipc-worker';
import type { TrainJobSpec } from '../../shared/jobs';

export const JOBS_FILE = 'jobs.json';
export const JOBS_FORMAT = 'patchwork-jobs-1';

export interface StoredJob {
  snapshot: JobSnapshot;
  /** Training only: what resuming runs again. */
  spec?: TrainJobSpec;
  /** SinCUT training: what resuming runs again. */
  sincut?: SinCutJobSpec;
}

export const INTERRUPTED =
  'Interrupted when Patchwork closed. Resume continues from the last checkpoint.';

export class JobStore {
  private readonly writer: CoalescedJsonWriter;

  constructor(
    readonly file: string,
    snapshot: () => StoredJob[],
  ) {
    this.writer = new CoalescedJsonWriter(file, () => ({ format: JOBS_FORMAT, jobs: snapshot() }), {
      indent: 0,
      makeFolder: true,
    });
  }

  static fileIn(libraryDir: string): string {
    return path.join(libraryDir, JOBS_FILE);
  }

  /** The stored jobs, with unfinished ones marked interrupted; [] when there is no (valid) file. */
  static async load(file: string): Promise<{ jobs: StoredJob[]; warning: string | null }> {
    let raw: unknown;
    try {
      raw = JSON.parse(await fs.readFile(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { jobs: [], warning: null };
      return { jobs: [], warning: `the job list ${file} could not be read and was started afresh` };
    }
    const stored = raw as { format?: unknown; jobs?: unknown };
    if (stored.format !== JOBS_FORMAT || !Array.isArray(stored.jobs)) {
      return { jobs: [], warning: `the job list ${file} is not one Patchwork wrote; ignored` };
    }
    const jobs = (stored.jobs as StoredJob[]).filter(
      (j) => j && typeof j.snapshot?.id === 'string' && typeof j.snapshot.status === 'string',
    );
    for (const { snapshot } of jobs) {
      if (isFinished(snapshot.status) || snapshot.status === 'paused') continue;
      snapshot.status = 'failed';
      snapshot.error = { message: INTERRUPTED };
      snapshot.finishedAt = snapshot.finishedAt ?? new Date().toISOString();
    }
    return { jobs, warning: null };
  }

  save(): Promise<void> {
    return this.writer.save();
  }
}
