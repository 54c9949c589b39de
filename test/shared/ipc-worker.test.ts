/** The engine process's messages as the host validates them: shapes kept, strays refused. */
import { describe, expect, it } from 'vitest';
import { parseToWorker, parseWorkerMessage } from '../../shared/ipc-worker';

describe('worker messages', () => {
  it('keeps a heatmap result and a watch event through validation', () => {
    const heatmap = { input: '/a.png', output: '/b.png', width: 10, height: 8, taps: ['res1'] };
    expect(
      parseWorkerMessage({ type: 'done', jobId: 'h1', result: { status: 'completed', heatmap } }),
    ).toEqual({ type: 'done', jobId: 'h1', result: { status: 'completed', heatmap } });
    for (const event of [
      { type: 'ready' },
      { type: 'warning', message: 'x' },
      { type: 'removed', input: '/in/a.png' },
    ]) {
      expect(
        parseWorkerMessage({ type: 'event', jobId: 'w1', event: { kind: 'watch', event } }),
      ).not.toBeNull();
    }
  });

  it('refuses malformed watch events and unknown job kinds', () => {
    const bad = [
      { type: 'event', jobId: 'w1', event: { kind: 'watch', event: { type: 'exploded' } } },
      { type: 'event', jobId: 'w1', event: { kind: 'watch', event: { type: 'warning' } } },
      { type: 'done', jobId: 'h1', result: { status: 'completed', heatmap: 'file.png' } },
    ];
    for (const m of bad) expect(parseWorkerMessage(m), JSON.stringify(m)).toBeNull();
    expect(parseToWorker({ type: 'heatmap', jobId: 'h1', spec: {} })).not.toBeNull();
    expect(parseToWorker({ type: 'watch', jobId: 'w1', spec: {} })).not.toBeNull();
    expect(parseToWorker({ type: 'shell', jobId: 'x', spec: {} })).toBeNull();
  });
});
