// A heatmap is read by eye, so the colour map must be one whose lightness rises steadily
// (equal steps of similarity look like equal steps), the overlay must leave the image
// recognisable at partial opacity, and the pictures must have the layout they promise.
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { HeatmapSession, type SimilarityMap } from '../../../../main/engine/infer/heatmap';
import {
  colourTable,
  gridPoints,
  overlay,
  renderGrid,
  renderHeatmaps,
  VIRIDIS_STOPS,
} from '../../../../main/engine/infer/heatmap-render';
import { ResnetGenerator } from '../../../../main/engine/model/generator';
import { disposeParams } from '../../../../main/engine/model/params';
import { Rng } from '../../../../main/engine/rng';

let G: ResnetGenerator;
let session: HeatmapSession;

beforeAll(async () => {
  await initBackend('wasm');
  G = ResnetGenerator.create({ ngf: 2, nBlocks: 1 }, 0.5, new Rng(1));
  const rng = new Rng(2);
  const data = Float32Array.from({ length: 40 * 24 * 3 }, () => rng.uniform(-1, 1));
  session = await HeatmapSession.create(
    { generator: G, head: null, headTaps: [] },
    { data, width: 40, height: 24 },
  );
});
afterAll(() => disposeParams(G.params));

/** Relative luminance of an sRGB colour (0–255 channels). */
function luminance(r: number, g: number, b: number): number {
  const lin = (v: number) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

describe('colour map', () => {
  it('runs from the first stop to the last with lightness rising throughout', () => {
    const t = colourTable();
    expect(Array.from(t.subarray(0, 3))).toEqual([...VIRIDIS_STOPS[0]]);
    expect(Array.from(t.subarray(255 * 3))).toEqual([...VIRIDIS_STOPS[VIRIDIS_STOPS.length - 1]]);
    let last = -1;
    for (let i = 0; i < 256; i += 5) {
      const l = luminance(t[i * 3], t[i * 3 + 1], t[i * 3 + 2]);
      expect(l).toBeGreaterThan(last);
      last = l;
    }
  });
});

describe('overlay', () => {
  const size = { width: 40, height: 24 };
  const base = new Uint8Array(40 * 24 * 3).fill(100);
  function constantMap(value: number, tap: 'down1' | 'res1'): SimilarityMap {
    const grid = session.grid(tap);
    const data = new Float32Array(grid.width * grid.height).fill(value);
    const p = { x: 0, y: 0, tapX: 0, tapY: 0 };
    return {
      tap,
      data,
      width: grid.width,
      height: grid.height,
      stride: grid.stride,
      min: value,
      max: value,
      query: p,
      best: { ...p, similarity: value },
    };
  }

  it('leaves the image alone at opacity 0 and shows only the colour at opacity 1', () => {
    const map = constantMap(1, 'res1');
    expect(Array.from(overlay(base, size, session, map, 0, 1, 0))).toEqual(Array.from(base));
    const full = overlay(base, size, session, map, 0, 1, 1);
    expect(Array.from(full.subarray(0, 3))).toEqual([...VIRIDIS_STOPS[8]]);
    const low = overlay(base, size, session, constantMap(-1, 'down1'), -1, 1, 1);
    expect(Array.from(low.subarray(0, 3))).toEqual([...VIRIDIS_STOPS[0]]);
    const half = overlay(base, size, session, map, 0, 1, 0.5);
    expect(half[0]).toBe(Math.round(100 * 0.5 + VIRIDIS_STOPS[8][0] * 0.5));
  });
});

describe('pictures', () => {
  it('single query: the query image and one panel per tap, with legends', async () => {
    const before = tf.memory().numTensors;
    const maps = session.query({ x: 20, y: 10 }, { taps: ['down1', 'res1'] });
    const png = await renderHeatmaps(session, maps, 'output', { opacity: 0.5 });
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    // 8 px margins around three 40×24 panels; labels above, a colour bar below.
    expect(meta.width).toBe(8 + 3 * (40 + 8));
    expect(meta.height).toBe(8 + 22 + 24 + 6 + 32 + 8);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('grid: N×N points at cell centres, one small map each, a block per tap', async () => {
    expect(gridPoints(2, 40, 24)).toEqual([
      { x: 10, y: 6 },
      { x: 30, y: 6 },
      { x: 10, y: 18 },
      { x: 30, y: 18 },
    ]);
    const png = await renderGrid(session, { n: 4, taps: ['res1', 'down2'], on: 'input' });
    const meta = await sharp(png).metadata();
    expect(meta.width).toBe(3 * 8 + 40 + 4 * 10);
    expect(meta.height).toBe(8 + 2 * (22 + 24 + 8) + 32 + 8);
  });

  it('refuses an opacity outside 0–1', async () => {
    const maps = session.query({ x: 1, y: 1 }, { taps: ['res1'] });
    await expect(renderHeatmaps(session, maps, 'output', { opacity: 1.5 })).rejects.toThrow(
      /opacity must be between 0 and 1/,
    );
  });
});
