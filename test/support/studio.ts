/** The Studio as the services tests open it: over a stand-in engine, on a library folder. */
import type { Reply, StudioEvent } from '../../shared/ipc';
import type { JobSnapshot } from '../../shared/ipc-jobs';
import type { WorkerJob, WorkerJobEvent, WorkerJobResult } from '../../shared/ipc-worker';
import { Studio, type StudioOptions } from '../../main/services/studio/studio';
import type { WorkerHost } from '../../main/services/worker-host';

/** Serves `library` only, with `host` (any object standing in for an engine process). */
export function openStudio(
  library: string,
  host: object,
  more: Partial<StudioOptions> = {},
): Promise<Studio> {
  return Studio.open({
    libraryDir: library,
    host: host as WorkerHost,
    transport: 'serve',
    version: 'test',
    samplesDir: null,
    allowedRoots: [library],
    ...more,
  });
}

/**
 * A stand-in engine process that holds every job until told to end it, in the order they came.
 * `start` runs first, for a job's events (e.g. a conversion reporting its files).
 */
export class HeldJobsHost {
  pid = null;
  busy = false;
  private pending: ((r: WorkerJobResult) => void)[] = [];
  constructor(
    private readonly start?: (
      work: WorkerJob,
      onEvent: (e: WorkerJobEvent) => void,
    ) => Promise<void>,
  ) {}
  async run(work: WorkerJob, onEvent: (e: WorkerJobEvent) => void): Promise<WorkerJobResult> {
    await this.start?.(work, onEvent);
    return new Promise((resolve) => this.pending.push(resolve));
  }
  /** Ends the oldest held job with `status`. */
  end(status: WorkerJobResult['status'] = 'completed') {
    this.pending.shift()?.({ status } as WorkerJobResult);
  }
  cancel() {
    this.end('cancelled');
    return true;
  }
  dispose() {
    while (this.pending.length) this.end('cancelled');
  }
}

/** The reply to one request. */
export function ask<T>(studio: Studio, channel: string, input: unknown): Promise<Reply<T>> {
  return studio.handle({ channel, input }) as Promise<Reply<T>>;
}

/** The value of one request's reply; a refusal is thrown as an error with its message. */
export async function value<T>(studio: Studio, channel: string, input: unknown): Promise<T> {
  const reply = await ask<T>(studio, channel, input);
  if (!reply.ok) throw new Error(reply.error.message);
  return reply.value;
}

/** Resolves with a job's snapshot once `events` (pushed by the studio) say it has ended. */
export function jobEnded(
  events: readonly StudioEvent[],
  jobId: string,
  timeoutMs = 90_000,
): Promise<JobSnapshot> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`job ${jobId} did not finish`)), timeoutMs);
    const check = () => {
      const e = events.find(
        (x) =>
          x.type === 'job' &&
          x.job.id === jobId &&
          ['completed', 'cancelled', 'failed'].includes(x.job.status),
      );
      if (e && e.type === 'job') {
        clearTimeout(timer);
        resolve(e.job);
      } else setTimeout(check, 100);
    };
    check();
  });
}
