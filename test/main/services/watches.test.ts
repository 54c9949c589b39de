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
  cancel() {
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

function open(hosts: StandIn[], events: StudioWatchEvent[] = []) {
  return Watches.open({
    libraryDir: library,
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
});
