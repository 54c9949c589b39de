/**
 * Finished and failed jobs can be taken off the list (issue 20, item 2: failed cards piled up
 * and could not be dismissed): one or all finished ones, every tab told by an event, the
 * list on disk too; a job still waiting or running is refused.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StudioEvent } from '../../../../shared/ipc';
import type { JobSnapshot } from '../../../../shared/ipc-jobs';
import { JOBS_FILE } from '../../../../main/services/job-store';
import { ask, HeldJobsHost, openStudio, value } from '../../../support/studio';
import { useTempDir } from '../../../support/temp-dir';

const SAMPLES = path.resolve('resources/samples');
const tmp = useTempDir('pw-jobs-clear-', { each: true });

const train = (name: string) => ({
  name,
  source: path.join(SAMPLES, 'source'),
  target: path.join(SAMPLES, 'target'),
  preset: 'fastcut',
  iterations: 5,
});

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('jobs:clear', () => {
  it('clears one finished job, then every finished one, and refuses a running one', async () => {
    const host = new HeldJobsHost();
    const studio = await openStudio(tmp.dir, host, { samplesDir: SAMPLES });
    const events: StudioEvent[] = [];
    studio.subscribe((e) => events.push(e));
    const ids: string[] = [];
    for (const name of ['A', 'B', 'C', 'D']) {
      ids.push((await value<{ job: JobSnapshot }>(studio, 'train:start', train(name))).job.id);
    }
    host.end('completed'); // A
    await settle();
    host.end('cancelled'); // B
    await settle();
    // C runs, D waits: neither can be cleared.
    for (const jobId of [ids[2], ids[3]]) {
      const refused = await ask(studio, 'jobs:clear', { jobId });
      expect(!refused.ok && refused.error.code).toBe('rejected');
    }
    expect(await value(studio, 'jobs:clear', { jobId: ids[0] })).toEqual({ cleared: [ids[0]] });
    expect(events).toContainEqual({ type: 'jobs-cleared', jobIds: [ids[0]] });
    const again = await ask(studio, 'jobs:clear', { jobId: ids[0] });
    expect(!again.ok && again.error.code).toBe('not-found');

    host.end('completed'); // C
    await settle();
    // Every finished one of a kind: B and C; D still runs and stays.
    const all = await value<{ cleared: string[] }>(studio, 'jobs:clear', { kind: 'train' });
    expect(all.cleared.sort()).toEqual([ids[1], ids[2]].sort());
    expect(await value(studio, 'jobs:clear', { kind: 'convert' })).toEqual({ cleared: [] });
    const { jobs } = await value<{ jobs: JobSnapshot[] }>(studio, 'jobs:list', {});
    expect(jobs.map((j) => j.id)).toEqual([ids[3]]);
    await studio.dispose(); // saves the list
    const stored = JSON.parse(await readFile(tmp.path(JOBS_FILE), 'utf8')) as {
      jobs: { snapshot: JobSnapshot }[];
    };
    expect(stored.jobs.map((j) => j.snapshot.id)).toEqual([ids[3]]);
  });
});
