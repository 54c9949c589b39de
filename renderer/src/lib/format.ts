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

/** A backend's detail without the list of kernels it replaced: "wasm (SIMD, 1 thread)". */
export function backendShort(detail: string): string {
  return detail.replace(/;[^()]*\)/, ')');
}

/**
 * The source image a training preview translates: previews/iter-N/NN.png was made from
 * previews/source/NN.png (written once at the start); null where there is no such file
 * (SinCUT's previews translate the whole source image).
 */
export function previewSource(preview: string): string | null {
  const m = /^(.*[\\/]previews[\\/])iter-\d+([\\/]\d+\.png)$/.exec(preview);
  return m ? `${m[1]}source${m[2]}` : null;
}

/** Round numbers for a chart's axis between lo and hi (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 4): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

/** A step count on an axis: 1,500 → "1.5k". */
export function formatStep(step: number): string {
  if (step >= 1000) return `${Number((step / 1000).toPrecision(3))}k`;
  return String(step);
}

/** What tells a style apart where its name is shown: its name, and the id where names repeat. */
export function styleLabels(
  styles: readonly { id: string; name: string }[],
): Record<string, string> {
  const count: Record<string, number> = {};
  for (const s of styles) count[s.name] = (count[s.name] ?? 0) + 1;
  return Object.fromEntries(
    styles.map((s) => [s.id, count[s.name] > 1 ? `${s.name} (${s.id})` : s.name]),
  );
}
