/**
 * The job list's requests: the list itself, cancel (any job), and pause and resume (training
 * jobs). The queue's rules are ../job-queue.ts's; these only answer with its snapshots.
 */
import type { Handlers, StudioContext } from '../context';

type JobChannel = 'jobs:list' | 'job:cancel' | 'train:pause' | 'train:resume';

export function jobRoutes(ctx: StudioContext): Handlers<JobChannel> {
  return {
    'jobs:list': () => ({ jobs: ctx.jobs.list() }),
    'job:cancel': (input) => ({ job: ctx.jobs.cancel(input.jobId) }),
    'train:pause': (input) => ({ job: ctx.jobs.pause(input.jobId) }),
    'train:resume': (input) => ({ job: ctx.jobs.resume(input.jobId) }),
  };
}
