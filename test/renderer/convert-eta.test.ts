/**
 * The convert job's time left, from the files' own progress: unknown until a file ends, then
 * the batch's pace times what is left, in-flight files counted as partly done; it moves as
 * time passes, never reads 0 while files remain, and is 0 once nothing is left.
 */
import { describe, expect, it } from 'vitest';
import type { ConvertFileInfo } from '../../shared/ipc-jobs';
import { ConvertEta } from '../../renderer/src/lib/convert-eta';

const file = (name: string, status: ConvertFileInfo['status']): ConvertFileInfo => ({
  input: `/in/${name}`,
  output: `/out/${name}`,
  relative: name,
  status,
  ...(status === 'converting' ? { stage: 'decoding' as const } : {}),
});

/** Files a…e with the statuses given, in order. */
const batch = (...statuses: ConvertFileInfo['status'][]) =>
  statuses.map((s, i) => file(`${'abcde'[i]}.png`, s));

describe('ConvertEta', () => {
  it('has no estimate before a file ends, then pace × files left', () => {
    const eta = new ConvertEta();
    let files = batch('converting', 'queued', 'queued', 'queued');
    eta.observe(files, 0);
    expect(eta.read(files, 5_000)).toEqual({ seconds: null, finishing: false });
    files = batch('done', 'converting', 'queued', 'queued');
    eta.observe(files, 10_000);
    // One file per 10 s; b just started (0 % of a 10-s file), c and d wait: 3 × 10 s.
    expect(eta.read(files, 10_000).seconds).toBeCloseTo(30);
    // Five seconds on, b is half done: 2.5 files left.
    expect(eta.read(files, 15_000).seconds).toBeCloseTo(25);
    expect(eta.elapsed('/in/b.png', 15_000)).toBeCloseTo(5);
  });

  it('counts overlapping files by the batch’s pace, not each file’s own time', () => {
    const eta = new ConvertEta();
    // Three in flight at once (a, b, c start together), then one ends every 3 s.
    eta.observe(batch('converting', 'converting', 'converting', 'queued', 'queued'), 0);
    eta.observe(batch('done', 'converting', 'converting', 'converting', 'queued'), 9_000);
    eta.observe(batch('done', 'done', 'converting', 'converting', 'converting'), 12_000);
    const files = batch('done', 'done', 'done', 'converting', 'converting');
    eta.observe(files, 15_000);
    // Pace 15 s / 3 files = 5 s; a, b, c took 9, 12, 15 s (mean 12); d has run 6 s, e 3 s.
    const left = 1 - 6 / 12 + (1 - 3 / 12);
    expect(eta.read(files, 15_000).seconds).toBeCloseTo(left * 5);
  });

  it('never says 0 while files remain, and 0 when none do', () => {
    const eta = new ConvertEta();
    eta.observe(batch('converting', 'queued'), 0);
    const files = batch('done', 'converting');
    eta.observe(files, 1_000);
    // b has run far past a file's usual time: it counts as 90 % done, 0.1 × 1 s < 1 s.
    expect(eta.read(files, 60_000)).toEqual({ seconds: null, finishing: true });
    const over = batch('done', 'done');
    eta.observe(over, 61_000);
    expect(eta.read(over, 61_000)).toEqual({ seconds: 0, finishing: false });
  });

  it('does not count skipped files as work done, and forgets a file queued again', () => {
    const eta = new ConvertEta();
    eta.observe(batch('skipped', 'converting', 'queued'), 0);
    let files = batch('skipped', 'done', 'queued');
    eta.observe(files, 4_000);
    expect(eta.read(files, 4_000).seconds).toBeCloseTo(4);
    files = batch('skipped', 'queued', 'converting');
    eta.observe(files, 5_000);
    expect(eta.elapsed('/in/b.png', 5_000)).toBeNull();
    expect(eta.elapsed('/in/c.png', 6_000)).toBeCloseTo(1);
  });
});
