/** The one reducer both sides keep jobs with: a late joiner must see what a watcher saw. */
import { describe, expect, it } from 'vitest';
import {
  applyJobEvent,
  emptyTrainView,
  MAX_LOSS_POINTS,
  type JobSnapshot,
} from '../../shared/ipc-jobs';
import type { TrainEvent } from '../../shared/jobs';

const job = (): JobSnapshot => ({
  id: 'j1',
  kind: 'train',
  title: 'T',
  status: 'running',
  createdAt: '',
  startedAt: null,
  finishedAt: null,
  error: null,
  train: emptyTrainView('t', '/out/t'),
  convert: null,
});

const progress = (iteration: number): TrainEvent => ({
  type: 'progress',
  iteration,
  epoch: 1,
  totalIterations: 10_000,
  losses: { D: 0.5, D_real: 0.2, D_fake: 0.3, G: 1, G_GAN: 0.9, NCE: 3, NCE_Y: null },
  itPerSec: 2,
  etaSeconds: 10,
  lr: 2e-4,
});

describe('applyJobEvent', () => {
  it('adds and replaces snapshots by id', () => {
    const jobs: JobSnapshot[] = [];
    applyJobEvent(jobs, { type: 'job', job: job() });
    applyJobEvent(jobs, { type: 'job', job: { ...job(), status: 'completed' } });
    expect(jobs.map((j) => j.status)).toEqual(['completed']);
  });

  it('keeps the loss curve bounded, its whole span and the newest point', () => {
    const jobs = [job()];
    for (let i = 1; i <= 3 * MAX_LOSS_POINTS; i++) {
      applyJobEvent(jobs, { type: 'train', jobId: 'j1', event: progress(i) });
    }
    const losses = jobs[0].train!.losses;
    expect(losses.length).toBeLessThanOrEqual(MAX_LOSS_POINTS);
    expect(losses[0].iteration).toBe(1);
    expect(losses[losses.length - 1].iteration).toBe(3 * MAX_LOSS_POINTS);
    expect(jobs[0].train!.iteration).toBe(3 * MAX_LOSS_POINTS);
  });

  it('ignores a repeated progress event and events of unknown jobs', () => {
    const jobs = [job()];
    applyJobEvent(jobs, { type: 'train', jobId: 'j1', event: progress(5) });
    applyJobEvent(jobs, { type: 'train', jobId: 'j1', event: progress(5) });
    expect(jobs[0].train!.losses).toHaveLength(1);
    expect(applyJobEvent(jobs, { type: 'train', jobId: 'nope', event: progress(6) })).toBeNull();
  });

  it('records previews, warnings and the finished style', () => {
    const jobs = [job()];
    const send = (event: TrainEvent) => applyJobEvent(jobs, { type: 'train', jobId: 'j1', event });
    send({ type: 'preview', iteration: 4, paths: ['/p/1.png'] });
    send({ type: 'warning', message: 'careful' });
    send({ type: 'finished', status: 'completed', iteration: 8, styleDir: '/out/t/style' });
    expect(jobs[0].train).toMatchObject({
      previews: ['/p/1.png'],
      previewIteration: 4,
      warnings: ['careful'],
      styleDir: '/out/t/style',
      iteration: 8,
    });
  });
});
