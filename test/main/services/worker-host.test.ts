/**
 * The worker host with a scripted process in place of the engine's: the failure paths
 * (a crash mid-job, a hung cancel, a garbled message) are hard to provoke in a real one.
 * The real process is driven end to end in test/main/serve/server.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import type { ToWorker } from '../../../shared/ipc-worker';
import {
  DEFAULT_ENGINE_IDLE_MS,
  engineIdleExitMs,
  WorkerHost,
  WorkerJobError,
  type IdleClock,
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

/** A clock moved by hand: time passes only when the test says so. */
class ManualClock implements IdleClock {
  now = 0;
  private timers = new Map<number, { at: number; fire: () => void }>();
  private next = 1;
  setTimeout(fire: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, fire });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.timers]) {
      if (t.at <= this.now && this.timers.delete(id)) t.fire();
    }
  }
}

function host(graceMs = 50, idle?: { idleExitMs: number | null; clock: IdleClock }) {
  const procs: FakeProcess[] = [];
  const log = vi.fn();
  const h = new WorkerHost(
    () => {
      const p = new FakeProcess();
      procs.push(p);
      return p;
    },
    { cancelGraceMs: graceMs, log, ...idle },
  );
  return { h, procs, log };
}

const done = (p: FakeProcess, jobId: string) =>
  p.reply({ type: 'done', jobId, result: { status: 'completed', failed: 0 } });

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

  describe('closes a process that has had nothing to do', () => {
    const idle = () => {
      const clock = new ManualClock();
      return { clock, ...host(50, { idleExitMs: 1000, clock }) };
    };

    it('after the idle time since its last job, and starts a fresh one for the next', async () => {
      const { h, procs, clock } = idle();
      const first = h.run(job('a'), () => undefined);
      procs[0].reply({ type: 'ready', pid: 41 });
      done(procs[0], 'a');
      await first;
      clock.advance(999);
      expect(procs[0].killed).toBe(false);
      expect(h.pid).toBe(41);
      clock.advance(1);
      expect(procs[0].killed).toBe(true);
      expect(h.idleExits).toBe(1);
      expect(h.pid).toBeNull();

      // The caller sees nothing of it: the next job goes to a new process, which answers.
      const second = h.run(job('b'), () => undefined);
      expect(procs).toHaveLength(2);
      expect(procs[1].sent).toEqual([job('b')]);
      procs[1].reply({ type: 'ready', pid: 42 });
      done(procs[1], 'b');
      await expect(second).resolves.toEqual({ status: 'completed', failed: 0 });
      expect(h.starts).toBe(2);
      expect(h.pid).toBe(42);
    });

    it('never while a job runs, however long (a watch runs until it is switched off)', async () => {
      const { h, procs, clock } = idle();
      const watching = h.run(job('w'), () => undefined);
      clock.advance(10 * 60_000);
      expect(procs[0].killed).toBe(false);
      expect(h.idleExits).toBe(0);
      done(procs[0], 'w');
      await watching;
      clock.advance(1000);
      expect(procs[0].killed).toBe(true);
    });

    it('counts the idle time from the last job: a job within it keeps the process', async () => {
      const { h, procs, clock } = idle();
      const a = h.run(job('a'), () => undefined);
      done(procs[0], 'a');
      await a;
      clock.advance(900);
      const b = h.run(job('b'), () => undefined);
      clock.advance(900);
      done(procs[0], 'b');
      await b;
      clock.advance(900);
      expect(procs).toHaveLength(1);
      expect(procs[0].killed).toBe(false);
      expect(procs[0].sent).toEqual([job('a'), job('b')]);
      clock.advance(100);
      expect(procs[0].killed).toBe(true);
    });

    it('still reports a crash as a crash, and a crashed process leaves no timer', async () => {
      const { h, procs, clock } = idle();
      const a = h.run(job('a'), () => undefined);
      procs[0].exit({ code: 134, signal: null });
      const err = (await a.catch((e: unknown) => e)) as WorkerJobError;
      expect(err.crashed).toBe(true);
      expect(err.detail).toMatch(/code 134/);
      expect(clock.pending).toBe(0);
      expect(h.idleExits).toBe(0);
    });

    it('a process that exits by itself while idle is started again for the next job', async () => {
      const { h, procs } = idle();
      const a = h.run(job('a'), () => undefined);
      done(procs[0], 'a');
      await a;
      procs[0].exit({ code: 0, signal: null });
      const b = h.run(job('b'), () => undefined);
      done(procs[1], 'b');
      await expect(b).resolves.toEqual({ status: 'completed', failed: 0 });
    });

    it('with idleExitMs null, never', async () => {
      const clock = new ManualClock();
      const { h, procs } = host(50, { idleExitMs: null, clock });
      const a = h.run(job('a'), () => undefined);
      done(procs[0], 'a');
      await a;
      expect(clock.pending).toBe(0);
      clock.advance(24 * 3600_000);
      expect(procs[0].killed).toBe(false);
    });

    it('dispose clears the timer', async () => {
      const { h, procs, clock } = idle();
      const a = h.run(job('a'), () => undefined);
      done(procs[0], 'a');
      await a;
      expect(clock.pending).toBe(1);
      h.dispose();
      expect(clock.pending).toBe(0);
      expect(procs[0].killed).toBe(true);
      expect(h.idleExits).toBe(0);
    });
  });

  it('reads the idle time from PATCHWORK_ENGINE_IDLE_SECONDS, refusing nonsense', () => {
    expect(engineIdleExitMs({})).toBe(DEFAULT_ENGINE_IDLE_MS);
    expect(engineIdleExitMs({}, 5000)).toBe(5000);
    expect(engineIdleExitMs({ PATCHWORK_ENGINE_IDLE_SECONDS: '2.5' })).toBe(2500);
    expect(engineIdleExitMs({ PATCHWORK_ENGINE_IDLE_SECONDS: '0' })).toBeNull();
    expect(() => engineIdleExitMs({ PATCHWORK_ENGINE_IDLE_SECONDS: 'soon' })).toThrow(
      /PATCHWORK_ENGINE_IDLE_SECONDS must be a number of seconds.*"soon"/,
    );
    expect(() => engineIdleExitMs({ PATCHWORK_ENGINE_IDLE_SECONDS: '-1' })).toThrow(RangeError);
  });
});
