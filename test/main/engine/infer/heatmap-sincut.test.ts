// Heatmaps of a SinCUT style: the StyleGAN2 encoder's taps (input at stride 1; down1 and the
// residual blocks at stride 2), projected by the style's head exactly as in training, the
// working image translated as conversion translates it (tiles, position-based noise). The
// session's tiled encoder must equal the untiled one; its maps a direct computation.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NceTap } from '../../../../shared/options';
import {
  HeatmapError,
  HeatmapSession,
  resolveTaps,
  tapGrid,
} from '../../../../main/engine/infer/heatmap';
import {
  openHeatmapStyle,
  type OpenedHeatmapStyle,
} from '../../../../main/engine/style/open-heatmap';
import { translateSinCut } from '../../../../main/engine/infer/sincut-tiled';
import { padToMultipleOf4, type RgbFloatImage } from '../../../../main/engine/infer/translate';
import type { ProjectionHead } from '../../../../main/engine/model/projection-head';
import { StyleGan2Generator } from '../../../../main/engine/model/stylegan2-generator';
import { randomImage } from '../../../support/float-images';
import { useTinySinCutStyles } from '../../../support/tiny-sincut-style';

const saved = useTinySinCutStyles('patchwork-heatmap-sincut-');
let style: OpenedHeatmapStyle;
let resnet: OpenedHeatmapStyle;
const TAPS: NceTap[] = ['input', 'down1', 'res1'];

beforeAll(async () => {
  style = await openHeatmapStyle(saved.stylegan2);
  resnet = await openHeatmapStyle(saved.resnet);
});
afterAll(() => {
  style.dispose();
  resnet.dispose();
});

/** Unit rows [positions][dim] of one tap of one image: the untiled encoder, then H. */
function directRows(image: RgbFloatImage, tap: NceTap, raw: boolean): number[][] {
  const G = style.generator as StyleGan2Generator;
  const grid = tapGrid(tap, image.width, image.height, 'stylegan2');
  return tf.tidy(() => {
    const [f] = G.encode(padToMultipleOf4(image), [tap]);
    const c = f.shape[3];
    const n = grid.width * grid.height;
    const cropped = tf.slice(f, [0, 0, 0, 0], [1, grid.height, grid.width, c]);
    const ids = Int32Array.from({ length: n }, (_, i) => i);
    const head = style.head as ProjectionHead;
    const rows = raw
      ? tf.div(
          tf.reshape(cropped, [n, c]),
          tf.add(tf.norm(tf.reshape(cropped, [n, c]), 'euclidean', 1, true), 1e-7),
        )
      : head.project(TAPS.indexOf(tap), tf.reshape(cropped, [1, n, 1, c]) as tf.Tensor4D, ids);
    return rows.arraySync() as number[][];
  });
}

function worst(actual: Float32Array, expected: number[]): number {
  expect(actual.length).toBe(expected.length);
  let w = 0;
  for (let i = 0; i < expected.length; i++) w = Math.max(w, Math.abs(actual[i] - expected[i]));
  return w;
}

describe('HeatmapSession with a SinCUT style', () => {
  // 30×22: not multiples of 4, so the padding is cropped away on every tap.
  const image = randomImage(30, 22, 7);

  it('maps equal a direct computation at every tap; the output is the conversion’s; no tensor left', async () => {
    const before = tf.memory().numTensors;
    // Encoder tiles of 8: 4×3 tiles over the padded 32×24 image, halos clipped at its edges.
    const session = await HeatmapSession.create(style, image, { encodeTile: 8 });
    expect(session.kind).toBe('stylegan2');
    expect(session.taps).toEqual(TAPS);
    const G = style.generator as StyleGan2Generator;
    const converted = await translateSinCut(G, image, { noiseSeed: style.noiseSeed, tile: 12 });
    expect(worst(session.output.data, Array.from(converted.data))).toBeLessThan(1e-5);
    for (const on of ['output', 'input'] as const) {
      const maps = session.query({ x: 17, y: 9 }, { on });
      expect(maps.map((m) => [m.tap, m.width, m.height, m.stride])).toEqual([
        ['input', 30, 22, 1],
        ['down1', 15, 11, 2],
        ['res1', 15, 11, 2],
      ]);
      for (const m of maps) {
        const [q, o] =
          on === 'output' ? [session.output, session.input] : [session.input, session.output];
        const query = directRows(q, m.tap, false)[m.query.tapY * m.width + m.query.tapX];
        const expected = directRows(o, m.tap, false).map((r) =>
          r.reduce((a, v, k) => a + v * query[k], 0),
        );
        expect(worst(m.data, expected)).toBeLessThan(2e-5);
        const best = expected.indexOf(Math.max(...expected));
        expect([m.best.tapY * m.width + m.best.tapX]).toEqual([best]);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('finds each position itself when the translation is the input, with tiled raw features', async () => {
    const identity = (_: unknown, im: RgbFloatImage) => im;
    const session = await HeatmapSession.create(style, image, {
      translate: identity,
      raw: true,
      encodeTile: 8,
    });
    expect(session.taps).toEqual(TAPS); // the encoder's taps: input, down1, res1 (2 blocks)
    for (const p of [
      { x: 0, y: 0 },
      { x: 29, y: 21 },
      { x: 12, y: 5 },
    ]) {
      for (const m of session.query(p)) {
        expect([m.best.tapX, m.best.tapY]).toEqual([m.query.tapX, m.query.tapY]);
        const rows = directRows(image, m.tap, true);
        const q = rows[m.query.tapY * m.width + m.query.tapX];
        const expected = rows.map((r) => r.reduce((a, v, k) => a + v * q[k], 0));
        expect(worst(m.data, expected)).toBeLessThan(2e-5);
      }
    }
  });

  it('names the taps a SinCUT style has when asked for another', () => {
    let err: unknown;
    try {
      resolveTaps(style, true, ['down2']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeatmapError);
    expect((err as HeatmapError).message).toMatch(/unknown tap "down2": .* input, down1, res1/);
  });

  it('the ResNet variant uses CUT’s taps and strides', async () => {
    const before = tf.memory().numTensors;
    const session = await HeatmapSession.create(resnet, image);
    expect(session.kind).toBe('resnet');
    const maps = session.query({ x: 5, y: 5 });
    expect(maps.map((m) => m.tap)).toEqual(resnet.headTaps);
    for (const m of maps) {
      const grid = tapGrid(m.tap, 30, 22);
      expect([m.width, m.height]).toEqual([grid.width, grid.height]);
      expect(m.max).toBeLessThanOrEqual(1 + 1e-5);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
