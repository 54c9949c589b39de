/**
 * The Studio's own bookkeeping with a stand-in engine: jobs survive a restart (unfinished
 * ones come back interrupted, and Resume runs them again with their spec), and requests are
 * answered with the contract's errors. Real jobs run in test/main/serve/server.test.ts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobSnapshot } from '../../../shared/ipc-jobs';
import type { WorkerJobResult } from '../../../shared/ipc-worker';
import { INTERRUPTED, JOBS_FILE } from '../../../main/services/job-store';
import type { WorkerJob } from '../../../main/services/worker-host';
import { openStudio, value } from '../../support/studio';
import { useTempDir } from '../../support/temp-dir';

const SAMPLES = path.resolve('resources/samples');

/** Holds every job until told to finish it; records what it was asked to run. */
class StandInHost {
  runs: WorkerJob[] = [];
  private pending: ((r: WorkerJobResult) => void)[] = [];
  private fail: ((e: Error) => void)[] = [];
  pid = null;
  run(job: WorkerJob): Promise<WorkerJobResult> {
    this.runs.push(job);
    return new Promise((resolve, reject) => {
      this.pending.push(resolve);
      this.fail.push(reject);
    });
  }
  cancel() {
    this.pending.shift()?.({ status: 'cancelled' });
    return true;
  }
  dispose() {
    for (const f of this.fail.splice(0)) f(new Error('the studio is shutting down'));
  }
}

const tmp = useTempDir('pw-studio-', { each: true });
const open = (host: StandInHost) => openStudio(tmp.dir, host, { samplesDir: SAMPLES });

const train = {
  name: 'Kept',
  source: path.join(SAMPLES, 'source'),
  target: path.join(SAMPLES, 'target'),
  preset: 'fastcut',
  iterations: 50,
};

describe('Studio', () => {
  it('brings back an interrupted training job after a restart, and resumes it', async () => {
    const first = new StandInHost();
    const studio = await open(first);
    const { job } = await value<{ job: JobSnapshot }>(studio, 'train:start', train);
    expect(first.runs[0]).toMatchObject({ type: 'train', resume: false });
    await studio.dispose();

    const stored = JSON.parse(await readFile(tmp.path(JOBS_FILE), 'utf8'));
    expect(stored.jobs[0].spec.out).toBe(tmp.path('styles', 'kept'));

    const second = new StandInHost();
    const again = await open(second);
    const { jobs } = await value<{ jobs: JobSnapshot[] }>(again, 'jobs:list', {});
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      id: job.id,
      status: 'failed',
      error: { message: INTERRUPTED },
    });

    await value(again, 'train:resume', { jobId: job.id });
    expect(second.runs[0]).toMatchObject({ type: 'train', jobId: job.id, resume: true });
    expect(second.runs[0].type === 'train' && second.runs[0].spec).toEqual(
      first.runs[0].type === 'train' && first.runs[0].spec,
    );
    const running = await value<{ jobs: JobSnapshot[] }>(again, 'jobs:list', {});
    expect(running.jobs[0].status).toBe('running');
    await again.dispose();
  });

  it('runs one job at a time, in order, and cancels one still waiting', async () => {
    const host = new StandInHost();
    const studio = await open(host);
    const a = await value<{ job: JobSnapshot }>(studio, 'train:start', { ...train, name: 'A' });
    const b = await value<{ job: JobSnapshot }>(studio, 'train:start', { ...train, name: 'B' });
    expect(host.runs).toHaveLength(1);
    expect(b.job.status).toBe('queued');
    await value(studio, 'job:cancel', { jobId: b.job.id });
    host.cancel(); // A stops
    await new Promise((r) => setTimeout(r, 10));
    const { jobs } = await value<{ jobs: JobSnapshot[] }>(studio, 'jobs:list', {});
    expect(jobs.map((j) => [j.title, j.status])).toEqual([
      ['A', 'cancelled'],
      ['B', 'cancelled'],
    ]);
    expect(host.runs).toHaveLength(1);
    expect(a.job.train?.styleId).toBe('a');
    await studio.dispose();
  });

  it('gives the next free style id and refuses a resume of an unknown job', async () => {
    const studio = await open(new StandInHost());
    const one = await value<{ job: JobSnapshot }>(studio, 'train:start', train);
    const two = await value<{ job: JobSnapshot }>(studio, 'train:start', train);
    expect([one.job.train?.styleId, two.job.train?.styleId]).toEqual(['kept', 'kept-2']);
    const reply = await studio.handle({ channel: 'train:resume', input: { jobId: 'nope' } });
    expect(!reply.ok && reply.error.code).toBe('not-found');
    await studio.dispose();
  });

  it('pauses a running job in place: it stays paused across a restart and resumes from it', async () => {
    const first = new StandInHost();
    const studio = await open(first);
    const { job } = await value<{ job: JobSnapshot }>(studio, 'train:start', train);
    const queued = await value<{ job: JobSnapshot }>(studio, 'train:start', {
      ...train,
      name: 'B',
    });
    await value(studio, 'train:pause', { jobId: job.id });
    await new Promise((r) => setTimeout(r, 10));
    let { jobs } = await value<{ jobs: JobSnapshot[] }>(studio, 'jobs:list', {});
    expect(jobs.map((j) => [j.title, j.status])).toEqual([
      ['Kept', 'paused'],
      ['B', 'running'], // the engine went to the next job
    ]);
    const refusal = await studio.handle({ channel: 'train:pause', input: { jobId: job.id } });
    expect(!refusal.ok && refusal.error.message).toBe(
      'only a running training job can pause; it is paused',
    );
    await studio.dispose();

    const second = new StandInHost();
    const again = await open(second);
    ({ jobs } = await value<{ jobs: JobSnapshot[] }>(again, 'jobs:list', {}));
    expect(jobs.find((j) => j.id === job.id)).toMatchObject({ status: 'paused', error: null });
    expect(jobs.find((j) => j.id === queued.job.id)?.status).toBe('failed'); // interrupted
    await value(again, 'train:resume', { jobId: job.id });
    expect(second.runs[0]).toMatchObject({ type: 'train', jobId: job.id, resume: true });
    await again.dispose();
  });

  it('stops a paused job for good, and pauses the running one when the studio quits', async () => {
    const host = new StandInHost();
    const studio = await open(host);
    const a = await value<{ job: JobSnapshot }>(studio, 'train:start', { ...train, name: 'A' });
    await value(studio, 'train:pause', { jobId: a.job.id });
    await new Promise((r) => setTimeout(r, 10));
    const { job } = await value<{ job: JobSnapshot }>(studio, 'job:cancel', { jobId: a.job.id });
    expect(job.status).toBe('cancelled');
    expect(job.finishedAt).not.toBeNull();
    const b = await value<{ job: JobSnapshot }>(studio, 'train:start', { ...train, name: 'B' });
    await studio.stopAll();
    const stored = JSON.parse(await readFile(tmp.path(JOBS_FILE), 'utf8'));
    const statuses = stored.jobs.map((j: { snapshot: JobSnapshot }) => j.snapshot.status);
    expect(statuses).toEqual(['cancelled', 'paused']);
    expect(stored.jobs[1].snapshot.id).toBe(b.job.id);
  });

  it('answers a cache look-up for a configuration that cannot train with null, a measurement with why', async () => {
    const studio = await open(new StandInHost());
    const bad = { preset: 'fastcut', options: { cropSize: 256, loadSize: 36 } };
    const looked = await value<{ estimate: unknown }>(studio, 'train:estimate', {
      ...bad,
      cachedOnly: true,
    });
    expect(looked.estimate).toBeNull();
    const reply = await studio.handle({ channel: 'train:estimate', input: bad });
    expect(!reply.ok && reply.error).toMatchObject({ code: 'rejected' });
    expect(!reply.ok && reply.error.message).toMatch(
      /^Load size: must be at least the crop size \(256\)/,
    );
    await studio.dispose();
  });

  it('keeps a SinCUT job’s spec across a restart and resumes it as a SinCUT job', async () => {
    const first = new StandInHost();
    const studio = await open(first);
    const pair = {
      name: 'Pair',
      source: path.join(SAMPLES, 'source', 'aqua.jpg'),
      target: path.join(SAMPLES, 'target', 'wood.jpg'),
      setting: 'paper',
      options: { batchSize: 4 },
      iterations: 30,
    };
    const { job } = await value<{ job: JobSnapshot }>(studio, 'train:sincut', pair);
    expect(first.runs[0]).toMatchObject({
      type: 'train-sincut',
      resume: false,
      spec: {
        source: pair.source,
        out: tmp.path('styles', 'pair'),
        options: { variant: 'paper', batchSize: 4 },
        iterations: 30,
        backend: 'auto',
      },
    });
    await studio.dispose();

    const second = new StandInHost();
    const again = await open(second);
    await value(again, 'train:resume', { jobId: job.id });
    expect(second.runs[0]).toMatchObject({ type: 'train-sincut', jobId: job.id, resume: true });
    expect(second.runs[0].type === 'train-sincut' && second.runs[0].spec).toEqual(
      first.runs[0].type === 'train-sincut' && first.runs[0].spec,
    );
    await again.dispose();
  });
});
