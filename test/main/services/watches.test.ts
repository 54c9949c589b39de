/**
 * The studio's watched folders with stand-in engine processes: a watch switched on is
 * remembered and starts again with the studio, one switched off does not, and a watch
 * whose process dies is marked failed with the reason and stays off.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StudioWatchEvent } from '../../../shared/ipc-watch';
import type { WorkerJobEvent, WorkerJobResult } from '../../../shared/ipc-worker';
import { WATCHES_FILE, Watches } from '../../../main/services/watches';
import {
  WorkerJobError,
  type IdleClock,
  type WorkerHost,
  type WorkerJob,
} from '../../../main/services/worker-host';

let library: string;
beforeEach(async () => {
  library = await mkdtemp(path.join(os.tmpdir(), 'pw-watches-'));
});
afterEach(() => rm(library, { recursive: true, force: true }));

/** One stand-in engine process per watch: records its job, lets the test drive it. */
class StandIn {
  job: WorkerJob | null = null;
  onEvent: (e: WorkerJobEvent) => void = () => undefined;
  private settle: { resolve: (r: WorkerJobResult) => void; reject: (e: Error) => void } | null =
    null;
  disposed = false;
  run(job: WorkerJob, onEvent: (e: WorkerJobEvent) => void) {
    this.job = job;
    this.onEvent = onEvent;
    return new Promise<WorkerJobResult>((resolve, reject) => (this.settle = { resolve, reject }));
  }
  cancelled = false;
  cancel() {
    this.cancelled = true;
    this.settle?.resolve({ status: 'cancelled' });
    return true;
  }
  crash() {
    this.settle?.reject(new WorkerJobError('The engine process stopped unexpectedly.', 'SIGKILL'));
  }
  dispose() {
    this.disposed = true;
    this.settle?.reject(new WorkerJobError('the studio is shutting down'));
  }
}

/** Timers that fire only when the test moves the clock. */
class ManualClock implements IdleClock {
  private timers = new Map<number, { at: number; fire: () => void }>();
  private now = 0;
  private next = 1;
  setTimeout(fire: () => void, ms: number): unknown {
    this.timers.set(this.next, { at: this.now + ms, fire });
    return this.next++;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.timers])
      if (t.at <= this.now && this.timers.delete(id)) t.fire();
  }
}

function open(hosts: StandIn[], events: StudioWatchEvent[] = [], clock?: ManualClock) {
  return Watches.open({
    libraryDir: library,
    ...(clock ? { clock, renewAfterMs: 1000 } : { renewAfterMs: null }),
    spawnHost: () => {
      const h = new StandIn();
      hosts.push(h);
      return h as unknown as WorkerHost;
    },
    emit: (e) => events.push(e),
    log: () => undefined,
  });
}

const setup = {
  styleId: 'sepia',
  styleName: 'Sepia',
  styleDir: '/lib/styles/sepia/style',
  input: '/in',
  output: '/out',
  recursive: false,
  format: 'png' as const,
  backend: 'auto' as const,
};

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Watches', () => {
  it('remembers a watch that is on and starts it again with the studio', async () => {
    const hosts: StandIn[] = [];
    const events: StudioWatchEvent[] = [];
    const first = await open(hosts, events);
    const started = await first.start(setup);
    expect(started.state).toBe('starting');
    expect(hosts[0].job).toMatchObject({ type: 'watch', spec: { input: '/in', format: 'png' } });
    hosts[0].onEvent({ kind: 'watch', event: { type: 'ready' } });
    hosts[0].onEvent({
      kind: 'convert-file',
      file: { input: '/in/a.png', output: '/out/a.png', relative: 'a.png', status: 'done' },
    });
    expect(first.list()[0]).toMatchObject({ state: 'watching', files: [{ status: 'done' }] });
    await first.dispose();
    expect(hosts[0].disposed).toBe(true);
    const saved = JSON.parse(await readFile(path.join(library, WATCHES_FILE), 'utf8'));
    expect(saved.watches[0]).toMatchObject({ input: '/in', active: true });

    const again: StandIn[] = [];
    const second = await open(again);
    expect(again).toHaveLength(1);
    expect(second.list()[0]).toMatchObject({ id: started.id, state: 'starting' });
    await second.stop(started.id);
    expect(second.list()[0].state).toBe('stopped');
    await second.dispose();

    const third: StandIn[] = [];
    const reopened = await open(third);
    expect(third).toHaveLength(0);
    expect(reopened.list()[0].state).toBe('stopped');
    await reopened.dispose();
  });

  it('marks a watch whose process died as failed, with the reason, and leaves it off', async () => {
    const hosts: StandIn[] = [];
    const watches = await open(hosts);
    const { id } = await watches.start(setup);
    await expect(watches.start(setup)).rejects.toThrow(/already being watched/);
    hosts[0].crash();
    await tick();
    expect(watches.list()[0]).toMatchObject({
      state: 'failed',
      error: { message: 'The engine process stopped unexpectedly.', detail: 'SIGKILL' },
    });
    await watches.dispose();
    const saved = JSON.parse(await readFile(path.join(library, WATCHES_FILE), 'utf8'));
    expect(saved.watches[0]).toMatchObject({ id, active: false });
  });

  it('refuses to forget a watch that is on, and unknown ids', async () => {
    const hosts: StandIn[] = [];
    const watches = await open(hosts);
    const { id } = await watches.start(setup);
    await expect(watches.remove(id)).rejects.toMatchObject({ code: 'rejected' });
    await expect(watches.stop('nope')).rejects.toMatchObject({ code: 'not-found' });
    await watches.stop(id);
    await watches.remove(id);
    expect(watches.list()).toEqual([]);
    await watches.dispose();
  });

  it('runs a watch with the encoding it was started with, also after a restart', async () => {
    const hosts: StandIn[] = [];
    const encoding = { bitDepth: 16 as const, icc: 'none' as const, metadata: 'copy' as const };
    const first = await open(hosts);
    await first.start({ ...setup, encoding: { ...encoding, tile: 256 } });
    const wanted = { type: 'watch', spec: { format: 'png', ...encoding, tile: 256 } };
    expect(hosts[0].job).toMatchObject(wanted);
    await first.dispose();
    const again: StandIn[] = [];
    const second = await open(again);
    expect(again[0].job).toMatchObject(wanted);
    await second.dispose();
  });

  describe('gives a quiet watch a fresh process once it has converted something', () => {
    const progress = (done: number, queued = 0, converting = 0) => ({
      kind: 'convert-progress' as const,
      progress: {
        total: done + queued + converting,
        queued,
        converting,
        done,
        skipped: 0,
        failed: 0,
        etaSeconds: null,
      },
    });

    it('replaces the process after the quiet time, keeping the watch as the artist sees it', async () => {
      const hosts: StandIn[] = [];
      const events: StudioWatchEvent[] = [];
      const clock = new ManualClock();
      const watches = await open(hosts, events, clock);
      const { id } = await watches.start(setup);
      hosts[0].onEvent({ kind: 'watch', event: { type: 'ready' } });
      hosts[0].onEvent(progress(0, 1, 0)); // a file waits
      clock.advance(5000);
      expect(hosts[0].cancelled).toBe(false); // in flight: not quiet
      hosts[0].onEvent(progress(0, 0, 1));
      hosts[0].onEvent({
        kind: 'convert-file',
        file: { input: '/in/a.png', output: '/out/a.png', relative: 'a.png', status: 'done' },
      });
      hosts[0].onEvent(progress(1));
      clock.advance(999);
      expect(hosts[0].cancelled).toBe(false);
      const seen = events.length;
      clock.advance(1);
      expect(hosts[0].cancelled).toBe(true);
      await tick();
      expect(hosts).toHaveLength(2);
      expect(hosts[0].disposed).toBe(true);
      expect(hosts[1].job).toMatchObject({ type: 'watch', spec: { input: '/in', format: 'png' } });
      expect(watches.renewals).toBe(1);
      // No 'stopped' or 'starting' in between: the watch was watching all along.
      const states = events.slice(seen).flatMap((e) => (e.type === 'watch' ? [e.watch.state] : []));
      expect(states.filter((s) => s !== 'watching')).toEqual([]);
      expect(watches.list()[0]).toMatchObject({
        id,
        state: 'watching',
        files: [{ status: 'done' }],
      });

      // The fresh process has converted nothing: it is left alone, however long it is quiet.
      hosts[1].onEvent({ kind: 'watch', event: { type: 'ready' } });
      hosts[1].onEvent(progress(0));
      clock.advance(60_000);
      expect(hosts[1].cancelled).toBe(false);
      await watches.stop(id);
      expect(watches.list()[0].state).toBe('stopped');
      expect(hosts).toHaveLength(2);
      await watches.dispose();
    });

    it('is not renewed once switched off, and a crash while renewing still fails the watch', async () => {
      const hosts: StandIn[] = [];
      const clock = new ManualClock();
      const watches = await open(hosts, [], clock);
      const { id } = await watches.start(setup);
      hosts[0].onEvent(progress(2));
      await watches.stop(id);
      clock.advance(5000);
      await tick();
      expect(hosts).toHaveLength(1);
      expect(watches.renewals).toBe(0);

      await watches.start(setup);
      hosts[1].onEvent(progress(1));
      hosts[1].cancel = () => {
        hosts[1].cancelled = true;
        hosts[1].crash(); // dies on the way down
        return true;
      };
      clock.advance(1000);
      await tick();
      expect(hosts).toHaveLength(2);
      expect(watches.list()[0]).toMatchObject({ state: 'failed' });
      await watches.dispose();
    });
  });
});
