/** Numbers as an artist reads them, and the loss chart's geometry (pure, unit-tested). */
import type { LossPoint } from '../../../shared/ipc-jobs';

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function formatRate(itPerSec: number | null | undefined): string {
  if (itPerSec == null || !Number.isFinite(itPerSec)) return '—';
  return itPerSec >= 1 ? `${itPerSec.toFixed(1)} it/s` : `${(1 / itPerSec).toFixed(1)} s/it`;
}

export type LossKey = 'D' | 'G_GAN' | 'NCE' | 'NCE_Y';

export interface ChartSeries {
  key: LossKey;
  /** SVG polyline points in a width × height box. */
  points: string;
  last: number | null;
}

/**
 * One polyline per loss over a shared x axis (iterations), each scaled to its own range:
 * the losses differ by orders of magnitude (λ_NCE 10 puts NCE near 50 while D sits below 1),
 * and what an artist reads is each curve's trend; the legend gives the values.
 */
export function chartSeries(
  losses: readonly LossPoint[],
  keys: readonly LossKey[],
  width: number,
  height: number,
): ChartSeries[] {
  const first = losses[0]?.iteration ?? 0;
  const span = Math.max(1, (losses[losses.length - 1]?.iteration ?? 0) - first);
  const series = keys.map((key) => {
    const shown = losses.filter((p) => p[key] !== null && Number.isFinite(p[key]));
    const values = shown.map((p) => p[key] as number);
    const lo = Math.min(...values);
    const range = Math.max(...values) - lo || 1;
    const points = shown.map((p) => {
      const x = ((p.iteration - first) / span) * width;
      // A 4 % margin keeps the extremes off the frame.
      const y = height * (0.96 - (((p[key] as number) - lo) / range) * 0.92);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    return {
      key,
      points: points.join(' '),
      last: values.length ? values[values.length - 1] : null,
    };
  });
  return series.filter((s) => s.points !== '');
}
