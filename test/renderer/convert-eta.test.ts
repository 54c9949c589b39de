/**
 * The convert job's time left, from the files' own progress: unknown until a file ends, then
 * the batch's pace times what is left, in-flight files counted as partly done; it moves as
 * time passes, never reads 0 while files remain, and is 0 once nothing is left. A file's
 * fraction of tiles done (from the services) counts as its part done, and before any file
 * ends it gives the pace — so one large image has an estimate while it is translated.
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

  it('takes a file’s fraction of tiles as its part done, and as the pace before any file ends', async () => {
    const eta = new ConvertEta();
    const translating = (name: string, fraction?: number): ConvertFileInfo => ({
      ...file(name, 'converting'),
      stage: 'translating',
      ...(fraction !== undefined ? { fraction } : {}),
    });
    const big = file('big.png', 'converting');
    const next = file('next.png', 'queued');
    eta.observe([big, next], 0);
    eta.observe([translating('big.png'), next], 2_000);
    // Translating, but no tile done yet: nothing to go by.
    expect(eta.read([translating('big.png'), next], 4_000).seconds).toBeNull();
    // A quarter of the tiles in 10 s of translation: 40 s a file; ¾ of it and the next left.
    let files = [translating('big.png', 0.25), next];
    eta.observe(files, 12_000);
    expect(eta.read(files, 12_000).seconds).toBeCloseTo(0.75 * 40 + 40);
    // Half done 30 s in: 60 s a file now.
    files = [translating('big.png', 0.5), next];
    expect(eta.read(files, 32_000).seconds).toBeCloseTo(0.5 * 60 + 60);

    // Once files end, their pace stays the measure, and a fraction beats the guess from time:
    // b has run 5 of a usual 10 s but says 80 % of its tiles are done.
    const later = new ConvertEta();
    later.observe(batch('converting', 'queued', 'queued', 'queued'), 0);
    const b = { ...translating('b.png', 0.8) };
    files = [file('a.png', 'done'), b, file('c.png', 'queued'), file('d.png', 'queued')];
    later.observe([file('a.png', 'done'), file('b.png', 'converting'), ...files.slice(2)], 10_000);
    expect(later.read(files, 15_000).seconds).toBeCloseTo((2 + 0.2) * 10);
  });
});
