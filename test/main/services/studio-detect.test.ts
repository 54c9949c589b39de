/**
 * Settings' "what was detected": the studio asks a fresh engine process for its probe once,
 * keeps the answer until asked to refresh or until the GPU adapter setting changes, and hands
 * that setting to engine processes as PATCHWORK_GPU_ADAPTER. A stand-in engine for the
 * bookkeeping; one real engine process for the worker protocol end to end.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BackendDetection, SettingsView } from '../../../shared/ipc-settings';
import type { WorkerJobResult } from '../../../shared/ipc-worker';
import { WorkerHost, WorkerJobError, type WorkerJob } from '../../../main/services/worker-host';
import { nodeWorkerSpawner } from '../../../main/services/worker-host-node';
import { ask, openStudio } from '../../support/studio';
import { useTempDir } from '../../support/temp-dir';

const found = (adapter: string | null): BackendDetection => ({
  auto: { name: 'wasm', detail: 'wasm (SIMD, 1 thread)' },
  backends: [
    { name: 'tensorflow', available: false, detail: null, reason: 'not installed' },
    { name: 'webgpu', available: true, detail: 'GPU A; GPU B', reason: null },
    { name: 'wasm', available: true, detail: 'wasm (SIMD, 1 thread)', reason: null },
    { name: 'cpu', available: true, detail: 'cpu', reason: null },
  ],
  adapters: [],
  adapterAsked: adapter,
  probedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 5,
});

/** An engine process stand-in: answers a probe with `found` (or fails), records its life. */
class StandIn {
  runs: WorkerJob[] = [];
  disposed = 0;
  busy = false;
  pid = null;
  constructor(private readonly fail: string | null = null) {}
  async run(job: WorkerJob): Promise<WorkerJobResult> {
    this.runs.push(job);
    if (this.fail) throw new WorkerJobError(this.fail);
    if (job.type !== 'probe') return { status: 'completed' };
    return { status: 'completed', probe: found(job.spec.gpuAdapter) };
  }
  cancel() {
    return true;
  }
  dispose() {
    this.disposed += 1;
  }
}

const tmp = useTempDir('pw-detect-', { each: true });
const envBefore = process.env.PATCHWORK_GPU_ADAPTER;
beforeEach(() => {
  delete process.env.PATCHWORK_GPU_ADAPTER;
});
afterEach(() => {
  if (envBefore === undefined) delete process.env.PATCHWORK_GPU_ADAPTER;
  else process.env.PATCHWORK_GPU_ADAPTER = envBefore;
});

async function open(main: StandIn | WorkerHost, spawnHost?: () => StandIn | WorkerHost) {
  return openStudio(tmp.dir, main, spawnHost ? { spawnHost: spawnHost as () => WorkerHost } : {});
}

/** A studio whose engine processes are stand-ins, kept in `spawned` as they are made. */
async function openSpawning() {
  const spawned: StandIn[] = [];
  const main = new StandIn();
  const studio = await open(main, () => {
    spawned.push(new StandIn());
    return spawned.at(-1)!;
  });
  return { studio, main, spawned };
}

describe('what the engine detected', () => {
  it('asks a fresh engine process once, keeps the answer, and asks again on refresh', async () => {
    const { studio, main, spawned } = await openSpawning();
    const first = await ask<BackendDetection>(studio, 'settings:detect', {});
    expect(first).toMatchObject({ ok: true, value: { auto: { name: 'wasm' } } });
    expect(spawned).toHaveLength(1);
    expect(spawned[0].runs[0]).toMatchObject({ type: 'probe', spec: { gpuAdapter: null } });
    expect(spawned[0].disposed).toBe(1); // its process is closed once it has answered

    await ask(studio, 'settings:detect', {});
    expect(spawned).toHaveLength(1);
    await ask(studio, 'settings:detect', { refresh: true });
    expect(spawned).toHaveLength(2);
    expect(main.runs).toEqual([]);
    await studio.dispose();
  });

  it('a new GPU adapter reaches engine processes, closes the idle ones and is probed anew', async () => {
    const { studio, main, spawned } = await openSpawning();
    await ask(studio, 'settings:detect', {});
    const set = await ask<SettingsView>(studio, 'settings:set', { gpuAdapter: 'GPU B' });
    expect(set).toMatchObject({ ok: true, value: { settings: { gpuAdapter: 'GPU B' } } });
    expect(process.env.PATCHWORK_GPU_ADAPTER).toBe('GPU B');
    expect(main.disposed).toBe(1);
    const again = await ask<BackendDetection>(studio, 'settings:detect', {});
    expect(again).toMatchObject({ ok: true, value: { adapterAsked: 'GPU B' } });
    expect(spawned).toHaveLength(2);

    // Kept in settings.json: a studio opened later passes it on from the start.
    await studio.dispose();
    delete process.env.PATCHWORK_GPU_ADAPTER;
    const later = await open(new StandIn());
    expect(later.settings.gpuAdapter).toBe('GPU B');
    expect(process.env.PATCHWORK_GPU_ADAPTER).toBe('GPU B');
    await ask(later, 'settings:set', { gpuAdapter: null });
    expect(process.env.PATCHWORK_GPU_ADAPTER).toBeUndefined();
    await later.dispose();
  });

  it('says why when the engine cannot answer, and asks again next time', async () => {
    let fail = true;
    const studio = await open(new StandIn(), () => new StandIn(fail ? 'Busy' : null));
    const r = await ask(studio, 'settings:detect', {});
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'internal', message: expect.stringMatching(/could not ask the engine.*Busy/) },
    });
    fail = false;
    expect(await ask(studio, 'settings:detect', {})).toMatchObject({ ok: true });
    await studio.dispose();

    const bare = await open(new StandIn());
    expect(await ask(bare, 'settings:detect', {})).toMatchObject({
      ok: false,
      error: { code: 'unsupported' },
    });
    expect(await ask(bare, 'settings:detect', { refresh: 'yes' })).toMatchObject({
      ok: false,
      error: { code: 'invalid-input' },
    });
    await bare.dispose();
  });

  it('gets the report from a real engine process', async () => {
    const studio = await open(new StandIn(), () => new WorkerHost(nodeWorkerSpawner()));
    const r = await ask<BackendDetection>(studio, 'settings:detect', {});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.auto?.name).toBeTruthy();
    expect(r.value.backends.find((b) => b.name === 'cpu')?.available).toBe(true);
    await studio.dispose();
  });
});
