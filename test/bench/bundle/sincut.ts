/**
 * The SinCUT figures for the benchmark bundle: seconds per training step (and steps/s) at the
 * reference's and the paper's settings, on crops of two synthetic images (no sharp, no photo
 * in the bundle: speed does not depend on content), with the bench case's own timing
 * (test/bench/sincut.bench.ts). The reference's 16 crops per step by default; on wasm 4 (its
 * heap), on a software adapter the tiny setting; SINCUT_BENCH_BATCH overrides. A setting that
 * fails (out of GPU memory, say) gets a row saying why, and the others still run.
 */
import type { SingleImage } from '../../../main/engine/data/single-image';
import {
  benchBatch,
  describeSetting,
  scheduleDays,
  sincutBenchSettings,
  sincutStepSeconds,
} from '../sincut.bench';
import { median, seconds } from '../machine';
import { syntheticImage } from './convert';

function synthetic(name: string, mpx: number, shift: number): SingleImage {
  const img = syntheticImage(mpx);
  const rgb = img.data.map((v, i) => (i % 3 === 0 ? -v : v) * (1 - shift) + shift * 0.1);
  return {
    file: name,
    rgb,
    width: img.width,
    height: img.height,
    fileWidth: img.width,
    fileHeight: img.height,
    grayscale: false,
  };
}

export interface SinCutStepRow {
  setting: string;
  crops: string;
  seconds: number | null;
  stepsPerSecond: number | null;
  schedule: string;
  error?: string;
}

export async function runSinCutSteps(
  backend: string,
  software: boolean,
  quick: boolean,
  log: (s: string) => void,
): Promise<SinCutStepRow[]> {
  const batch = benchBatch(backend === 'cpu' ? 4 : 16);
  const settings = sincutBenchSettings(software, batch);
  const a = synthetic('source (synthetic)', software ? 0.02 : 1.2, 0);
  const b = synthetic('target (synthetic)', software ? 0.02 : 1.2, 0.3);
  const rows: SinCutStepRow[] = [];
  for (const setting of settings) {
    try {
      const t = median(await sincutStepSeconds(setting, a, b, quick ? 1 : 3, log));
      rows.push({
        setting: setting.key,
        crops: describeSetting(setting),
        seconds: t,
        stepsPerSecond: 1 / t,
        schedule: software ? '–' : scheduleDays(setting.opts, t),
      });
    } catch (err) {
      rows.push({
        setting: setting.key,
        crops: describeSetting(setting),
        seconds: null,
        stepsPerSecond: null,
        schedule: '–',
        error: (err as Error).message.split('\n')[0],
      });
    }
  }
  return rows;
}

export function sincutTable(rows: SinCutStepRow[]): string[][] {
  return rows.map((r) => [
    r.setting,
    r.crops,
    r.seconds === null ? 'failed' : seconds(r.seconds),
    r.stepsPerSecond === null ? '–' : r.stepsPerSecond.toFixed(3),
    r.schedule,
    r.error ?? '',
  ]);
}
