/**
 * How far the running jobs of one kind are, for the navigation and the page title: how many
 * are running or waiting, and the mean fraction done of those running (null: none running,
 * or none knows its length yet).
 */
import type { JobKind, JobSnapshot } from '../../../shared/ipc-jobs';

export interface KindProgress {
  running: number;
  queued: number;
  /** 0–1, or null. */
  fraction: number | null;
}

/** A job's fraction done (0–1), or null when it cannot tell. */
export function jobFraction(job: JobSnapshot): number | null {
  if (job.train) {
    const total = job.train.totalIterations;
    return total ? Math.min(1, job.train.iteration / total) : null;
  }
  const p = job.convert?.progress;
  if (p && p.total > 0) return Math.min(1, (p.done + p.skipped + p.failed) / p.total);
  return null;
}

export function kindProgress(jobs: readonly JobSnapshot[], kind: JobKind): KindProgress {
  const mine = jobs.filter((j) => j.kind === kind);
  const running = mine.filter((j) => j.status === 'running');
  const known = running.map(jobFraction).filter((f): f is number => f !== null);
  return {
    running: running.length,
    queued: mine.filter((j) => j.status === 'queued').length,
    fraction: known.length ? known.reduce((a, b) => a + b, 0) / known.length : null,
  };
}

/** "1 running · 40 %", "2 waiting", or '' when nothing runs or waits. */
export function progressWords(p: KindProgress): string {
  const parts: string[] = [];
  if (p.running) {
    parts.push(
      `${p.running} running${p.fraction !== null ? ` · ${Math.floor(p.fraction * 100)} %` : ''}`,
    );
  }
  if (p.queued) parts.push(`${p.queued} waiting`);
  return parts.join(' · ');
}
