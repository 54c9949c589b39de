/**
 * The job list's requests: the list itself, cancel (any job), pause and resume (training
 * jobs), and clearing finished ones off the list. The queue's rules are ../job-queue.ts's;
 * these only answer with its snapshots.
 */
import type { Handlers, StudioContext } from '../context';

type JobChannel = 'jobs:list' | 'job:cancel' | 'train:pause' | 'train:resume' | 'jobs:clear';

export function jobRoutes(ctx: StudioContext): Handlers<JobChannel> {
  return {
    'jobs:list': () => ({ jobs: ctx.jobs.list() }),
    'job:cancel': (input) => ({ job: ctx.jobs.cancel(input.jobId) }),
    'train:pause': (input) => ({ job: ctx.jobs.pause(input.jobId) }),
    'train:resume': (input) => ({ job: ctx.jobs.resume(input.jobId) }),
    'jobs:clear': (input) => ({ cleared: ctx.jobs.clear(input) }),
  };
}
