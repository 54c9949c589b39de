/**
 * Which GPU the engine processes use, and what the engine finds on this machine (Settings).
 * The adapter setting reaches every engine process through the environment they inherit
 * (PATCHWORK_GPU_ADAPTER, read by main/engine/webgpu.ts); what the engine finds is asked once
 * in a process of its own (main/jobs/probe-job.ts: trying each backend changes TF.js's
 * current one) and kept until a refresh or a new adapter.
 */
import type { BackendDetection } from '../../../shared/ipc-settings';
import { WorkerJobError, type WorkerHost } from '../worker-host';
import { newJobId } from './job-queue';
import { RequestError } from './request-error';

export class GpuBackends {
  /** What the engine found, for the GPU adapter it was asked with. */
  private detection: { adapter: string | null; found: Promise<BackendDetection> } | null = null;
  /** PATCHWORK_GPU_ADAPTER as the studio was started: in force while the setting is null. */
  private readonly envAdapter = process.env.PATCHWORK_GPU_ADAPTER || null;

  constructor(
    /** The adapter setting (null: the environment's). */
    private readonly setting: () => string | null,
    private readonly spawn: (() => WorkerHost) | undefined,
    /** Closes the engine processes that are idle, so the next job starts with the new adapter. */
    private readonly closeIdleEngines: () => void,
  ) {}

  /** The GPU adapter engine processes are asked to use: the setting, else the environment's. */
  adapter(): string | null {
    return this.setting() ?? this.envAdapter;
  }

  /**
   * Puts the adapter in the environment engine processes inherit. After a change, the idle
   * ones are closed so the next job starts one with the new adapter; a running job keeps
   * its GPU.
   */
  apply(changed = false): void {
    const adapter = this.adapter();
    if (adapter) process.env.PATCHWORK_GPU_ADAPTER = adapter;
    else delete process.env.PATCHWORK_GPU_ADAPTER;
    if (!changed) return;
    this.detection = null;
    this.closeIdleEngines();
  }

  /** What the engine finds on this machine, asked again on `refresh` or a new adapter. */
  async detect(refresh: boolean): Promise<BackendDetection> {
    const spawn = this.spawn;
    if (!spawn) throw new RequestError('unsupported', 'the engine cannot be asked for this here');
    const adapter = this.adapter();
    let entry = this.detection;
    if (refresh || !entry || entry.adapter !== adapter) {
      const found = (async () => {
        const host = spawn();
        try {
          const result = await host.run(
            { type: 'probe', jobId: `probe-${newJobId()}`, spec: { gpuAdapter: adapter } },
            () => undefined,
          );
          if (!result.probe) throw new WorkerJobError('the engine sent no report');
          return result.probe;
        } finally {
          host.dispose();
        }
      })();
      const made = { adapter, found };
      this.detection = entry = made;
      found.catch(() => {
        if (this.detection === made) this.detection = null;
      });
    }
    try {
      return await entry.found;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new RequestError('internal', `could not ask the engine what this machine has: ${why}`);
    }
  }
}
