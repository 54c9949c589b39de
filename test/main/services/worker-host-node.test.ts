/**
 * The idle exit with the real engine process (worker-host.test.ts drives the timer by hand):
 * the process really goes away, and the next job is answered by a fresh one as if nothing had
 * happened. A job for a style that does not exist is the cheapest job that settles.
 */
import { describe, expect, it, vi } from 'vitest';
import { WorkerHost, WorkerJobError } from '../../../main/services/worker-host';
import { nodeWorkerSpawner } from '../../../main/services/worker-host-node';

const convertNothing = (jobId: string) =>
  ({
    type: 'convert',
    jobId,
    spec: {
      styleDir: '/nonexistent/patchwork-style',
      input: '/nonexistent/in',
      output: '/nonexistent/out',
      recursive: false,
      format: 'png',
      backend: 'cpu',
    },
  }) as const;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('an idle engine process', () => {
  it('exits after the idle time and the next job starts a fresh one', async () => {
    const host = new WorkerHost(nodeWorkerSpawner(), { idleExitMs: 300 });
    try {
      const first = await host.run(convertNothing('a'), () => undefined).catch((e: unknown) => e);
      expect(first).toBeInstanceOf(WorkerJobError);
      expect((first as WorkerJobError).crashed).toBe(false);
      const pid = host.pid;
      expect(pid).not.toBeNull();
      await vi.waitFor(() => expect(host.idleExits).toBe(1), { timeout: 20_000, interval: 50 });
      await vi.waitFor(() => expect(alive(pid as number)).toBe(false), { timeout: 20_000 });

      const second = await host.run(convertNothing('b'), () => undefined).catch((e: unknown) => e);
      expect(second).toBeInstanceOf(WorkerJobError);
      expect((second as WorkerJobError).message).toBe((first as WorkerJobError).message);
      expect(host.starts).toBe(2);
      expect(host.pid).not.toBe(pid);
    } finally {
      host.dispose();
    }
  }, 120_000);
});
