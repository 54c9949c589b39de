// The heatmap's numbers must be the encoder's and H's, nothing invented on the way: the
// optimised path (one encoder pass, chunked projection, cached rows, a JS dot product) is
// compared with a direct per-position computation from the weights, on a style saved and
// loaded as a user's would be. Coordinates must survive the trip to the working resolution
// and back, and every bad input must be a clear error rather than a wrong picture.
import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NceTap } from '../../../../shared/options';
import { initBackend } from '../../../../main/engine/backend';
import { ImageReadError } from '../../../../main/engine/data/image-io';
import {
  CoordinateMap,
  HeatmapError,
  HeatmapSession,
  readHeatmapImage,
  resolveTaps,
  tapGrid,
  workingSizeFor,
  type HeatmapSide,
} from '../../../../main/engine/infer/heatmap';
import type { RgbFloatImage } from '../../../../main/engine/infer/translate';
import type { ResnetGenerator } from '../../../../main/engine/model/generator';
import type { ProjectionHead } from '../../../../main/engine/model/projection-head';
import { Rng } from '../../../../main/engine/rng';
import {
  disposeStyle,
  loadStyle,
  type LoadedStyle,
} from '../../../../main/engine/style/load-style';
import { decompressionBomb } from '../../jobs/convert/files';
import { randomImage } from '../../../support/float-images';
import { useTempDir } from '../../../support/temp-dir';
import { saveTinyCutStyle, TINY_HEAD_DIM, tinyCutOptions } from '../../../support/tiny-cut-style';

const NGF = 4;
const BLOCKS = 2;
const DIM = TINY_HEAD_DIM;
const TAPS = tinyCutOptions(NGF, BLOCKS).nceTaps as NceTap[]; // input, down1, down2, res1, res2

const tmp = useTempDir('patchwork-heatmap-');
let style: LoadedStyle;
let headless: LoadedStyle;

beforeAll(async () => {
  await initBackend('wasm');
  await saveTinyCutStyle(tmp.path('style'), {
    ngf: NGF,
    nBlocks: BLOCKS,
    seed: 3,
    headless: tmp.path('headless'),
  });
  style = await loadStyle(tmp.path('style'));
  headless = await loadStyle(tmp.path('headless'));
});
afterAll(async () => {
  disposeStyle(style);
  disposeStyle(headless);
});

// ─── a direct computation, position by position ───────────────────────────────────────────

/** [H][W][C] nested arrays of one tap of the padded image, as the encoder gives them. */
function tapArray(G: ResnetGenerator, image: RgbFloatImage, tap: NceTap): number[][][] {
  const ph = Math.ceil(image.height / 4) * 4;
  const pw = Math.ceil(image.width / 4) * 4;
  const padded = new Float32Array(ph * pw * 3);
  const reflect = (i: number, n: number) => (i < n ? i : 2 * (n - 1) - i);
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      const from = (reflect(y, image.height) * image.width + reflect(x, image.width)) * 3;
      padded.set(image.data.subarray(from, from + 3), (y * pw + x) * 3);
    }
  }
  const x = tf.tensor4d(padded, [1, ph, pw, 3]);
  const [f] = G.encode(x, [tap]);
  const out = (f.arraySync() as number[][][][])[0];
  tf.dispose([x, f]);
  return out;
}

function param(s: LoadedStyle, name: string): number[] | number[][] {
  return (s.head as ProjectionHead).params.get(name)?.arraySync() as number[] | number[][];
}

/** H's MLP on one feature vector, then x/(‖x‖+1e-7), written out in plain arithmetic. */
function project(s: LoadedStyle, i: number, v: number[], raw: boolean): number[] {
  let y = v;
  if (!raw) {
    const w0 = param(s, `mlp_${i}.0.weight`) as number[][];
    const b0 = param(s, `mlp_${i}.0.bias`) as number[];
    const w2 = param(s, `mlp_${i}.2.weight`) as number[][];
    const b2 = param(s, `mlp_${i}.2.bias`) as number[];
    const hidden = b0.map((b, o) => Math.max(0, b + v.reduce((a, vi, k) => a + vi * w0[k][o], 0)));
    y = b2.map((b, o) => b + hidden.reduce((a, hk, k) => a + hk * w2[k][o], 0));
  }
  const norm = Math.sqrt(y.reduce((a, t) => a + t * t, 0));
  return y.map((t) => t / (norm + 1e-7));
}

/** Unit vectors of every image position of a tap ([y][x] → vector), borders cut off. */
function directFeatures(s: LoadedStyle, image: RgbFloatImage, tap: NceTap, raw: boolean) {
  const grid = tapGrid(tap, image.width, image.height);
  const map = tapArray(s.generator, image, tap);
  const offset = tap === 'input' ? 3 : 0;
  const i = TAPS.indexOf(tap);
  return Array.from({ length: grid.height }, (_, y) =>
    Array.from({ length: grid.width }, (_, x) => project(s, i, map[y + offset][x + offset], raw)),
  );
}

function directMap(
  s: LoadedStyle,
  session: HeatmapSession,
  tap: NceTap,
  on: HeatmapSide,
  q: { tapX: number; tapY: number },
  raw: boolean,
): number[] {
  const [queryImage, otherImage] =
    on === 'output' ? [session.output, session.input] : [session.input, session.output];
  const query = directFeatures(s, queryImage, tap, raw)[q.tapY][q.tapX];
  const other = directFeatures(s, otherImage, tap, raw);
  return other.flat().map((v) => v.reduce((a, t, k) => a + t * query[k], 0));
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function expectClose(actual: Float32Array, expected: number[], tol: number) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  expect(worst).toBeLessThan(tol);
}

// ─── tests ─────────────────────────────────────────────────────────────────────────────────

describe('HeatmapSession similarity maps', () => {
  // 30×22: not multiples of 4, so the padding is cropped away on every tap.
  const image = randomImage(30, 22, 7);

  it('equal a direct per-position computation with H, at every tap, on either image', async () => {
    const before = tf.memory().numTensors;
    const session = await HeatmapSession.create(style, image);
    expect(session.mode).toBe('projected');
    expect(session.taps).toEqual(TAPS);
    for (const on of ['output', 'input'] as const) {
      const maps = session.query({ x: 17, y: 9 }, { on });
      expect(maps.map((m) => m.tap)).toEqual(TAPS);
      for (const m of maps) {
        const grid = tapGrid(m.tap, 30, 22);
        expect([m.width, m.height, m.stride]).toEqual([grid.width, grid.height, grid.stride]);
        const expected = directMap(style, session, m.tap, on, m.query, false);
        expectClose(m.data, expected, 2e-5);
        expect(argmax(m.data)).toBe(argmax(expected));
        expect(m.best.similarity).toBeCloseTo(Math.max(...expected), 5);
        expect(m.min).toBeCloseTo(Math.min(...expected), 5);
      }
    }
    // The session holds arrays, never tensors.
    expect(tf.memory().numTensors).toBe(before);
  });

  it('with raw features equal the normalised encoder features', async () => {
    const session = await HeatmapSession.create(style, image, { raw: true });
    expect(session.mode).toBe('raw');
    // Raw features reach every tap, not only the head's.
    expect(session.taps).toEqual(['input', 'down1', 'down2', 'res1', 'res2']);
    for (const m of session.query({ x: 3, y: 20 }, { taps: ['input', 'down2', 'res2'] })) {
      expectClose(m.data, directMap(style, session, m.tap, 'output', m.query, true), 2e-5);
    }
  });

  it('fall back to raw features for a style without H', async () => {
    const session = await HeatmapSession.create(headless, image);
    expect(session.mode).toBe('raw');
    expect(session.query({ x: 0, y: 0 }, { taps: ['res1'] })[0].data.length).toBe(8 * 6);
  });

  it('find each position itself when the translation is the input (mechanics check)', async () => {
    // With G(x) = x both images have the same features, so every query's own position is its
    // best match, at every tap; any slip in indexing or coordinate mapping breaks this. Raw
    // features of noise are all distinct: the argmax itself must come back. Through a random
    // H (zero biases, many dead ReLUs) distinct positions can project to parallel vectors, so
    // there the own position need only reach the maximum.
    const identity = (_: unknown, im: RgbFloatImage) => im;
    const raw = await HeatmapSession.create(style, image, { translate: identity, raw: true });
    const projected = await HeatmapSession.create(style, image, { translate: identity });
    for (const p of [
      { x: 0, y: 0 },
      { x: 29, y: 21 },
      { x: 12, y: 5 },
      { x: 4, y: 17 },
    ]) {
      for (const m of raw.query(p)) {
        expect([m.best.tapX, m.best.tapY]).toEqual([m.query.tapX, m.query.tapY]);
        expect([m.best.x, m.best.y]).toEqual([m.query.x, m.query.y]);
      }
      for (const m of projected.query(p)) {
        const own = m.data[m.query.tapY * m.width + m.query.tapX];
        expect(own).toBeGreaterThan(m.max - 1e-5);
        expect(own).toBeCloseTo(1, 4);
      }
    }
  });

  it('keeps feature memory within its budget, recomputing what it dropped', async () => {
    const session = await HeatmapSession.create(style, randomImage(64, 48, 2), {
      memoryBudgetMB: 0.05,
    });
    const first = session.query({ x: 10, y: 10 }, { taps: ['input'] })[0];
    // input at 64×48, 8 dims, both images: 2 × 3072 × 8 × 4 B = 192 KiB, over 50 KiB.
    expect(session.cacheBytes).toBe(2 * 64 * 48 * DIM * 4);
    session.query({ x: 10, y: 10 }, { taps: ['res2'] });
    expect(session.cacheBytes).toBeLessThanOrEqual(0.05 * 2 ** 20);
    const again = session.query({ x: 10, y: 10 }, { taps: ['input'] })[0];
    expect(Array.from(again.data)).toEqual(Array.from(first.data));
  });
});

describe('working resolution and coordinates', () => {
  it('keeps the aspect and never upscales', () => {
    expect(workingSizeFor(4000, 3000)).toEqual({ width: 1024, height: 768 });
    expect(workingSizeFor(3000, 4000, 512)).toEqual({ width: 384, height: 512 });
    expect(workingSizeFor(300, 200)).toEqual({ width: 300, height: 200 });
  });

  it('maps full-image points to tap positions and back through pixel centres', () => {
    const map = new CoordinateMap(4000, 3000, 1000, 750); // 4 full pixels per working pixel
    const res = tapGrid('res1', 1000, 750); // stride 4: 16 full pixels per position
    expect(map.toTap({ x: 0, y: 0 }, res)).toEqual({ tapX: 0, tapY: 0 });
    // Working pixel 4·j has full-image centre 16·j + 1.5.
    expect(map.fromTap(10, 20, res)).toMatchObject({ x: 161.5, y: 321.5 });
    expect(map.toTap({ x: 161, y: 321 }, res)).toEqual({ tapX: 10, tapY: 20 });
    expect(map.toTap({ x: 3999, y: 2999 }, res)).toEqual({ tapX: 249, tapY: 187 });
    for (const tap of ['input', 'down2', 'res1'] as NceTap[]) {
      const grid = tapGrid(tap, 1000, 750);
      for (const p of [
        { x: 5, y: 7 },
        { x: 1234, y: 2345 },
        { x: 3999, y: 0 },
      ]) {
        const t = map.toTap(p, grid);
        const back = map.fromTap(t.tapX, t.tapY, grid);
        // Within one tap position (in full pixels) of where it started: half of one inside,
        // more at the right and bottom edges, whose last position is centred inside the image.
        const half = grid.stride * map.scaleX;
        expect(Math.abs(back.x - p.x)).toBeLessThanOrEqual(half);
        expect(Math.abs(back.y - p.y)).toBeLessThanOrEqual(half);
      }
    }
  });

  it('reads an image straight to its working size and answers in full-image pixels', async () => {
    const file = tmp.path('wide.png');
    const w = 200;
    const h = 120;
    const rng = new Rng(12);
    const px = Buffer.from(Array.from({ length: w * h * 3 }, () => rng.int(256)));
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toFile(file);
    const image = await readHeatmapImage(file, 50);
    expect([image.width, image.height]).toEqual([200, 120]);
    expect([image.working.width, image.working.height]).toEqual([50, 30]);
    const session = await HeatmapSession.create(style, image, { translate: (_, im) => im });
    expect(session.info).toMatchObject({ width: 200, height: 120, workingWidth: 50 });
    const [m] = session.query({ x: 101, y: 61 }, { taps: ['down1'] });
    // Full 101 → working (101.5 / 4 − 0.5) = 24.9 → 25 → back to full 25.5 · 4 − 0.5 = 101.5.
    expect([m.width, m.height]).toEqual([50, 30]);
    expect(m.query).toMatchObject({ tapX: 25, tapY: 15, x: 101.5, y: 61.5 });
    expect(m.best).toMatchObject({ x: 101.5, y: 61.5 });
  });
});

describe('bad input', () => {
  it('a point outside the image', async () => {
    const session = await HeatmapSession.create(style, randomImage(16, 12, 1));
    for (const p of [
      { x: 16, y: 0 },
      { x: -1, y: 3 },
      { x: 2, y: 12 },
      { x: NaN, y: 1 },
    ]) {
      const err = (() => {
        try {
          session.query(p);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(HeatmapError);
      expect((err as HeatmapError).code).toBe('point-outside');
    }
    expect(() => session.query({ x: 1, y: 20 })).toThrow(/outside the 16×12 image/);
  });

  it('an unknown tap, naming the taps there are', () => {
    const check = (s: LoadedStyle, raw: boolean, taps: string[]) => {
      try {
        resolveTaps(s, raw, taps);
      } catch (e) {
        return e as HeatmapError;
      }
      return null;
    };
    expect(check(style, false, ['res3'])?.message).toMatch(
      /unknown tap "res3": the style’s projection head covers input, down1, down2, res1, res2/,
    );
    expect(check(style, false, ['banana'])?.code).toBe('unknown-tap');
    expect(check(style, true, ['res2'])).toBeNull();
    expect(resolveTaps(style, false, [])).toEqual(TAPS);
  });

  it('an image too small, unreadable, or too large to decode safely', async () => {
    await expect(HeatmapSession.create(style, randomImage(6, 20, 1))).rejects.toThrow(
      /at least 8×8 is needed/,
    );
    const junk = tmp.path('junk.png');
    await fs.writeFile(junk, 'not an image');
    await expect(readHeatmapImage(junk)).rejects.toBeInstanceOf(ImageReadError);
    await expect(readHeatmapImage(tmp.path('nope.png'))).rejects.toMatchObject({
      reason: 'not-found',
    });
    const bomb = tmp.path('bomb.png');
    await fs.writeFile(bomb, decompressionBomb());
    await expect(readHeatmapImage(bomb)).rejects.toMatchObject({ reason: 'too-large' });
  });
});
