/**
 * The worker host with a scripted process in place of the engine's: the failure paths
 * (a crash mid-job, a hung cancel, a garbled message) are hard to provoke in a real one.
 * The real process is driven end to end in test/main/serve/server.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import type { ToWorker } from '../../../shared/ipc-worker';
import {
  WorkerHost,
  WorkerJobError,
  type WorkerExit,
  type WorkerProcess,
} from '../../../main/services/worker-host';

class FakeProcess implements WorkerProcess {
  sent: ToWorker[] = [];
  killed = false;
  private messageListeners: ((raw: unknown) => void)[] = [];
  private exitListeners: ((exit: WorkerExit) => void)[] = [];
  send(m: ToWorker) {
    this.sent.push(m);
  }
  onMessage(l: (raw: unknown) => void) {
    this.messageListeners.push(l);
  }
  onExit(l: (exit: WorkerExit) => void) {
    this.exitListeners.push(l);
  }
  kill() {
    this.killed = true;
    this.exit({ code: null, signal: 'SIGKILL' });
  }
  reply(raw: unknown) {
    for (const l of this.messageListeners) l(raw);
  }
  exit(e: WorkerExit) {
    for (const l of this.exitListeners) l(e);
  }
}

const job = (jobId: string) =>
  ({
    type: 'convert',
    jobId,
    spec: {
      styleDir: '/s',
      input: '/i',
      output: '/o',
      recursive: false,
      format: 'png',
      backend: 'cpu',
    },
  }) as const;

function host(graceMs = 50) {
  const procs: FakeProcess[] = [];
  const log = vi.fn();
  const h = new WorkerHost(
    () => {
      const p = new FakeProcess();
      procs.push(p);
      return p;
    },
    { cancelGraceMs: graceMs, log },
  );
  return { h, procs, log };
}

describe('WorkerHost', () => {
  it('runs a job, forwards its events and resolves with its result', async () => {
    const { h, procs } = host();
    const events: unknown[] = [];
    const done = h.run(job('a'), (e) => events.push(e));
    const p = procs[0];
    expect(p.sent).toEqual([job('a')]);
    p.reply({ type: 'ready', pid: 1 });
    const progress = {
      total: 1,
      queued: 0,
      converting: 1,
      done: 0,
      skipped: 0,
      failed: 0,
      etaSeconds: null,
    };
    p.reply({ type: 'event', jobId: 'a', event: { kind: 'convert-progress', progress } });
    p.reply({ type: 'done', jobId: 'a', result: { status: 'completed', failed: 0 } });
    expect(await done).toEqual({ status: 'completed', failed: 0 });
    expect(events).toEqual([{ kind: 'convert-progress', progress }]);
    expect(h.busy).toBe(false);
  });

  it('ignores malformed messages and messages about other jobs', async () => {
    const { h, procs, log } = host();
    const done = h.run(job('a'), () => undefined);
    const p = procs[0];
    p.reply('garbage');
    p.reply({ type: 'done', jobId: 'a', result: { status: 'exploded' } });
    p.reply({ type: 'done', jobId: 'b', result: { status: 'completed' } });
    expect(log).toHaveBeenCalledTimes(2);
    p.reply({ type: 'failed', jobId: 'a', error: { name: 'PlanError', message: 'no images' } });
    await expect(done).rejects.toThrow('no images');
  });

  it('fails the job when the process dies, and starts a fresh one for the next', async () => {
    const { h, procs } = host();
    const first = h.run(job('a'), () => undefined);
    procs[0].exit({ code: null, signal: 'SIGKILL' });
    const err = (await first.catch((e: unknown) => e)) as WorkerJobError;
    expect(err).toBeInstanceOf(WorkerJobError);
    expect(err.crashed).toBe(true);
    expect(err.message).toMatch(/out of memory/);
    expect(err.detail).toMatch(/SIGKILL/);

    const second = h.run(job('b'), () => undefined);
    expect(procs).toHaveLength(2);
    procs[1].reply({ type: 'done', jobId: 'b', result: { status: 'completed' } });
    await expect(second).resolves.toEqual({ status: 'completed' });
    expect(h.starts).toBe(2);
  });

  it('cancels gracefully, and kills a job that does not stop in time', async () => {
    const { h, procs } = host(30);
    const graceful = h.run(job('a'), () => undefined);
    expect(h.cancel('a')).toBe(true);
    expect(procs[0].sent.at(-1)).toEqual({ type: 'cancel', jobId: 'a' });
    procs[0].reply({ type: 'done', jobId: 'a', result: { status: 'cancelled' } });
    await expect(graceful).resolves.toEqual({ status: 'cancelled' });
    expect(procs[0].killed).toBe(false);

    const hung = h.run(job('b'), () => undefined);
    h.cancel('b');
    await expect(hung).resolves.toEqual({ status: 'cancelled' });
    expect(procs[0].killed).toBe(true);
    expect(h.cancel('b')).toBe(false);
  });

  it('refuses a second job while one runs', async () => {
    const { h } = host();
    void h.run(job('a'), () => undefined);
    await expect(h.run(job('b'), () => undefined)).rejects.toThrow(/already running/);
  });
});
