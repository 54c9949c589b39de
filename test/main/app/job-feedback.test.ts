/** Taskbar progress and end-of-job notifications, with Electron's window and Notification faked. */
import { describe, expect, it } from 'vitest';
import type { JobSnapshot, JobStatus } from '../../../shared/ipc-jobs';
import type { StudioEvent } from '../../../shared/ipc';
import { jobFeedback, type FeedbackWindow } from '../../../main/app/job-feedback';

function setup(focused = false) {
  const bars: number[] = [];
  const shown: string[] = [];
  let destroyed = false;
  const win: FeedbackWindow = {
    isDestroyed: () => destroyed,
    isFocused: () => focused,
    setProgressBar: (p) => void bars.push(p),
  };
  const feed = jobFeedback(() => win, {
    isSupported: () => true,
    show: (title, body) => void shown.push(`${title}: ${body}`),
  });
  return { feed, bars, shown, destroy: () => (destroyed = true) };
}

const job = (status: JobStatus): StudioEvent => ({
  type: 'job',
  job: {
    id: 'j1',
    kind: 'train',
    title: 'Cliffs',
    status,
    createdAt: '2026-01-01T00:00:00Z',
    startedAt: null,
    finishedAt: null,
    error: null,
    train: null,
    convert: null,
  } as JobSnapshot,
});

const progress = (iteration: number): StudioEvent =>
  ({
    type: 'train',
    jobId: 'j1',
    event: { type: 'progress', iteration, totalIterations: 200 },
  }) as unknown as StudioEvent;

describe('job feedback outside the window', () => {
  it('shows the training progress, clears it when the job pauses or ends', () => {
    const { feed, bars } = setup();
    feed(progress(50));
    feed(job('paused'));
    feed(progress(100));
    feed(job('completed'));
    expect(bars).toEqual([0.25, -1, 0.5, -1]);
  });

  it('notifies an ended or paused job while the window is not focused, in words', () => {
    const { feed, shown } = setup(false);
    feed(job('running'));
    feed(job('paused'));
    feed(job('cancelled'));
    feed(job('failed'));
    feed(job('completed'));
    expect(shown).toEqual([
      'Patchwork: Cliffs: paused',
      'Patchwork: Cliffs: stopped',
      'Patchwork: Cliffs: failed',
      'Patchwork: Cliffs: finished',
    ]);
  });

  it('stays quiet while the window is focused, and after it is gone', () => {
    const focused = setup(true);
    focused.feed(job('completed'));
    expect(focused.shown).toEqual([]);
    const gone = setup(false);
    gone.destroy();
    gone.feed(progress(10));
    gone.feed(job('completed'));
    expect(gone.bars).toEqual([]);
    expect(gone.shown).toEqual([]);
  });
});
