// Heatmaps on ONNX Runtime must show what the TF.js path shows: for a CUT style and a SinCUT
// (StyleGAN2) style, projected and raw, the ORT session's translation, every tap's unit rows of
// both images and the query maps are compared with a TF.js session on the same image, through
// onnxruntime-node's CPU provider. SinCUT's translation on ORT runs tile by tile and must not
// depend on the tile size. `auto` falls back to TF.js with the reason when ORT does not load;
// `onnx` then fails with it.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NceTap } from '../../../../shared/options';
import { HeatmapSession, type HeatmapSide } from '../../../../main/engine/infer/heatmap';
import { OnnxHeatmapEngine } from '../../../../main/engine/infer/heatmap-onnx';
import { sincutOrtForward } from '../../../../main/engine/infer/sincut-onnx';
import { translateSinCut } from '../../../../main/engine/infer/sincut-tiled';
import { StyleGan2Generator } from '../../../../main/engine/model/stylegan2-generator';
import { OrtRuntime, defaultOrtEnvironment } from '../../../../main/engine/onnx/runtime';
import {
  openHeatmapStyle,
  type OpenedHeatmapStyle,
} from '../../../../main/engine/style/open-heatmap';
import { randomImage, worstDiff } from '../../../support/float-images';
import { saveTinyCutStyle } from '../../../support/tiny-cut-style';
import { useTinySinCutStyles } from '../../../support/tiny-sincut-style';

/** Translations, and unit rows of one image: float32 engines agree to ~1e-6; this leaves room. */
const TOL = 1e-4;
/**
 * Rows of the translations: each engine encodes its own translation (which differ by < TOL),
 * and a row of small norm magnifies that (seen: 2.8e-4 at CUT's raw down1 with 8 channels).
 */
const TOL_OUTPUT = 1e-3;

const saved = useTinySinCutStyles('patchwork-heatmap-onnx-');
const styles: Record<string, OpenedHeatmapStyle> = {};
let onnx: OnnxHeatmapEngine;

beforeAll(async () => {
  await saveTinyCutStyle(saved.tmp.path('cut'), { ngf: 4, nBlocks: 2, seed: 3 });
  styles.cut = await openHeatmapStyle(saved.tmp.path('cut'));
  styles.sincut = await openHeatmapStyle(saved.stylegan2);
  const opened = await OnnxHeatmapEngine.open('onnx', 'cpu');
  expect(opened.report.name).toBe('onnx');
  expect(opened.report.detail).toMatch(/^ONNX Runtime \S+, cpu \(\d+ threads\)$/);
  onnx = opened.engine as OnnxHeatmapEngine;
});
afterAll(() => Object.values(styles).forEach((s) => s.dispose()));

/** Largest difference of two [−1, 1] images as 8-bit levels. */
function levels(a: Float32Array, b: Float32Array): number {
  const q = (v: number) => Math.round((Math.max(-1, Math.min(1, v)) + 1) * 127.5);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(q(a[i]) - q(b[i])));
  return worst;
}

describe.each(['cut', 'sincut'])('heatmaps of a %s style on ONNX Runtime', (kind) => {
  for (const raw of [false, true]) {
    it(`${raw ? 'raw' : 'projected'}: translation, every tap's rows and the maps equal TF.js's`, async () => {
      const style = styles[kind];
      const image = randomImage(70, 52, kind === 'cut' ? 11 : 12);
      const tfjs = await HeatmapSession.create(style, image, { raw });
      const ort = await HeatmapSession.create(style, image, { raw, onnx });
      expect([tfjs.engine, ort.engine]).toEqual(['tfjs', 'onnx']);
      expect(ort.taps).toEqual(tfjs.taps);
      expect(worstDiff(ort.output.data, tfjs.output.data)).toBeLessThan(TOL);
      expect(levels(ort.output.data, tfjs.output.data)).toBeLessThanOrEqual(1);

      await ort.load();
      const computedBefore = ort.cacheBytes;
      for (const side of ['input', 'output'] as HeatmapSide[]) {
        for (const tap of tfjs.taps) {
          const [a] = ort.features(side, [tap]);
          const [b] = tfjs.features(side, [tap]);
          expect(a.grid).toEqual(b.grid);
          const tol = side === 'input' ? TOL : TOL_OUTPUT;
          expect(worstDiff(a.rows, b.rows), `${side} ${tap}`).toBeLessThan(tol);
        }
      }
      // Everything the queries read was computed by load(), none by TF.js afterwards.
      expect(ort.cacheBytes).toBe(computedBefore);

      for (const point of [
        { x: 3, y: 4 },
        { x: 60, y: 40 },
      ]) {
        const [mo, mt] = [ort.query(point), tfjs.query(point)];
        mo.forEach((m, i) => {
          expect(worstDiff(m.data, mt[i].data)).toBeLessThan(TOL_OUTPUT);
          expect([m.best.tapX, m.best.tapY]).toEqual([mt[i].best.tapX, mt[i].best.tapY]);
        });
      }
    });
  }
});

describe('ONNX Runtime engine', () => {
  it('translates a SinCUT image tile by tile, whatever the tile size', async () => {
    const style = styles.sincut;
    const image = randomImage(90, 66, 13);
    const whole = await onnx.translate(style.generator, image, { tile: 512 });
    let tiles = 0;
    const tiled = await onnx.translate(style.generator, image, {
      tile: 16,
      onTile: (_, total) => (tiles = total),
    });
    expect(tiles).toBeGreaterThan(4);
    expect(
      worstDiff((tiled as { data: Float32Array }).data, (whole as { data: Float32Array }).data),
    ).toBeLessThan(1e-5);
  });

  it('loads only the taps asked for', async () => {
    const session = await HeatmapSession.create(styles.cut, randomImage(40, 32, 14), { onnx });
    const taps: NceTap[] = ['down2'];
    await session.load(taps);
    const [f] = session.features('output', taps);
    const bytes = session.cacheBytes;
    expect(bytes).toBe(2 * f.rows.byteLength);
  });

  it('auto falls back to TF.js with the reason when ONNX Runtime does not load; onnx fails', async () => {
    const broken = new OrtRuntime({
      ...defaultOrtEnvironment,
      importOrt: () => Promise.reject(new Error('Cannot find module onnxruntime_binding.node')),
    });
    const auto = await OnnxHeatmapEngine.open('auto', 'auto', broken);
    expect(auto.engine).toBeNull();
    expect(auto.report.name).toBe('tfjs');
    expect(auto.report.detail).toMatch(
      /onnxruntime-node is not installed or a native file is missing/,
    );
    await expect(OnnxHeatmapEngine.open('onnx', 'auto', broken)).rejects.toThrow(
      /--engine onnx: onnxruntime-node is not installed/,
    );
    const tfjs = await OnnxHeatmapEngine.open('tfjs');
    expect(tfjs).toEqual({ engine: null, report: { name: 'tfjs', detail: 'TF.js (asked for)' } });
  });
});

describe('TF.js tensors', () => {
  // The ONNX path keeps features as plain arrays and reads the head's weights once: creating a
  // session, loading every tap, querying and dropping it leaves TF.js's tensor count where it
  // was (STYLE.md 6), for both generator kinds.
  it.each(['cut', 'sincut'])('%s: create, load, query, clear', async (kind) => {
    const style = styles[kind];
    const before = tf.memory().numTensors;
    const session = await HeatmapSession.create(style, randomImage(48, 40, 21), { onnx });
    await session.load();
    session.query({ x: 10, y: 12 });
    session.query({ x: 30, y: 5 }, { on: 'input' });
    session.clear();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("SinCUT's window runner, as conversion and heatmaps share it", async () => {
    const G = styles.sincut.generator;
    if (!(G instanceof StyleGan2Generator)) throw new Error('expected a StyleGAN2 generator');
    const before = tf.memory().numTensors;
    const runner = sincutOrtForward(G, { provider: 'cpu' });
    const image = randomImage(50, 34, 22);
    const out = await translateSinCut(G, image, { tile: 16, forward: runner.forward });
    expect(out.data).toHaveLength(image.data.length);
    await runner.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
