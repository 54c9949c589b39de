/** The renderer's pure helpers: what the artist reads, and the chart's geometry. */
import { describe, expect, it } from 'vitest';
import { chartSeries, formatDuration, formatRate } from '../../renderer/src/lib/format';

describe('format', () => {
  it('says durations and rates in words', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(125)).toBe('2 min 05 s');
    expect(formatDuration(3 * 3600 + 60)).toBe('3 h 01 min');
    expect(formatRate(2.5)).toBe('2.5 it/s');
    expect(formatRate(0.25)).toBe('4.0 s/it');
  });

  it('draws each loss on its own scale across the whole box', () => {
    const losses = [1, 2, 3].map((iteration) => ({
      iteration,
      D: iteration / 10,
      G_GAN: 1,
      NCE: 50 - iteration,
      NCE_Y: null,
    }));
    const series = chartSeries(losses, ['D', 'G_GAN', 'NCE', 'NCE_Y'], 100, 100);
    expect(series.map((s) => s.key)).toEqual(['D', 'G_GAN', 'NCE']);
    const ys = (k: string) =>
      series
        .find((s) => s.key === k)!
        .points.split(' ')
        .map((p) => Number(p.split(',')[1]));
    expect(ys('D')).toEqual([96, 50, 4]); // rising: bottom to top
    expect(ys('NCE')).toEqual([4, 50, 96]); // falling
    expect(series[0].points.startsWith('0.0,')).toBe(true);
    expect(series[0].last).toBeCloseTo(0.3);
  });
});
