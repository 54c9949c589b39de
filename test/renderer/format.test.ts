/** The renderer's pure helpers: what the artist reads, and the chart's geometry. */
import { describe, expect, it } from 'vitest';
import {
  backendShort,
  chartSeries,
  formatDuration,
  formatRate,
  formatStep,
  niceTicks,
  previewSource,
} from '../../renderer/src/lib/format';

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

describe('training cards’ details', () => {
  it('names the backend once, without the kernels it replaced', () => {
    expect(
      backendShort(
        'wasm (SIMD, 1 thread; engine kernels: Conv2DBackpropFilter, UnsortedSegmentSum)',
      ),
    ).toBe('wasm (SIMD, 1 thread)');
    expect(backendShort('cpu (plain JavaScript, slow)')).toBe('cpu (plain JavaScript, slow)');
  });

  it('pairs a preview with the source image it translates', () => {
    expect(previewSource('/lib/jobs/x/previews/iter-200/01.png')).toBe(
      '/lib/jobs/x/previews/source/01.png',
    );
    expect(previewSource('C:\\lib\\previews\\iter-5\\00.png')).toBe(
      'C:\\lib\\previews\\source\\00.png',
    );
    expect(previewSource('/lib/jobs/x/previews/iter-200/output.png')).toBeNull();
  });

  it('labels the step axis with round numbers inside the range', () => {
    expect(niceTicks(0, 500)).toEqual([0, 200, 400]);
    expect(niceTicks(10, 100)).toEqual([25, 50, 75, 100]);
    expect(niceTicks(5, 5)).toEqual([5]);
    expect(formatStep(1500)).toBe('1.5k');
    expect(formatStep(40)).toBe('40');
  });
});
