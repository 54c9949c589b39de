/**
 * An engine process beside the job queue, for requests the artist waits on (a heatmap, a
 * SinCUT pair check, a step measurement): made on first use and kept, one request at a time
 * (each starts once the one before has settled), never behind a training job. The engine's
 * refusal answers the request as 'rejected'; its process dying, as 'internal'. Its host closes
 * the process after a while without requests (worker-host.ts) and the next request starts
 * another; the heatmap engine waits longer, since it keeps the image it translated.
 */
import type { WorkerJobResult } from '../../../shared/ipc-worker';
import { WorkerJobError, type WorkerHost, type WorkerJob } from '../worker-host';
import { RequestError } from './request-error';

/** The heatmap engine's idle time: clicking around one image should not translate it again. */
export const HEATMAP_ENGINE_IDLE_MS = 10 * 60_000;

export class SideEngine {
  private host: WorkerHost | null = null;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly spawn: () => WorkerHost) {}

  /** Runs `work` after the requests before it; its errors answer the request. */
  async run<J extends WorkerJob>(work: J): Promise<WorkerJobResult<J['type']>> {
    const start = () => {
      this.host ??= this.spawn();
      return this.host.run(work, () => undefined);
    };
    const next = this.tail.then(start, start);
    this.tail = next.catch(() => undefined);
    try {
      return await next;
    } catch (err) {
      if (err instanceof WorkerJobError) {
        throw new RequestError(err.crashed ? 'internal' : 'rejected', err.message);
      }
      throw err;
    }
  }

  /** Closes the process unless it is busy, so the next request starts a fresh one. */
  closeIfIdle(): void {
    if (this.host && !this.host.busy) {
      this.host.dispose();
      this.host = null;
    }
  }

  /** Kills the process (a request in flight fails). */
  dispose(): void {
    this.host?.dispose();
  }
}
