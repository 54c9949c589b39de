// Each local op run tile by tile on its windows must give, tile for tile, the slice of the op
// run on the whole map — at the image border (own padding) and inside it (halo) alike. One-op
// stage graphs isolate the border handling from instance norm.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { blurDownsample, conv2d, upsample2x } from '../../../../main/engine/model/layers';
import { conv, initParams, type ParamSet } from '../../../../main/engine/model/params';
import { Rng } from '../../../../main/engine/rng';
import { evaluateTile } from '../../../../main/engine/infer/tile-evaluator';
import { passWindows, type MapNode, type Pass } from '../../../../main/engine/infer/stage-plan';
import { tileGrid, type LocalOp, type Rect } from '../../../../main/engine/infer/tiling';

const C = 3;
let params: ParamSet;

beforeAll(async () => {
  await initBackend('wasm');
  params = initParams([...conv('c7', 7, C, C), ...conv('c3', 3, C, C)], 1, new Rng(5));
});

/** Reads window `r` of an [h, w, C] array. */
function window(data: Float32Array, width: number, r: Rect): Float32Array {
  const out: number[] = [];
  for (let y = r.y.start; y < r.y.end; y++) {
    out.push(...data.subarray((y * width + r.x.start) * C, (y * width + r.x.end) * C));
  }
  return Float32Array.from(out);
}

interface Case {
  name: string;
  op: LocalOp;
  inScale: 1 | 2;
  outScale: 1 | 2;
  whole: (x: tf.Tensor4D) => tf.Tensor4D;
}

const cases: Case[] = [
  {
    name: 'conv7, reflect pad',
    op: { kind: 'conv', layer: 'c7', size: 7, pad: 'reflect', outChannels: C },
    inScale: 1,
    outScale: 1,
    whole: (x) =>
      conv2d(
        tf.mirrorPad(
          x,
          [
            [0, 0],
            [3, 3],
            [3, 3],
            [0, 0],
          ],
          'reflect',
        ),
        params,
        'c7',
      ),
  },
  {
    name: 'conv3, zero pad',
    op: { kind: 'conv', layer: 'c3', size: 3, pad: 'zero', outChannels: C },
    inScale: 1,
    outScale: 1,
    whole: (x) => conv2d(x, params, 'c3', 1),
  },
  { name: 'blur-down', op: { kind: 'blurDown' }, inScale: 1, outScale: 2, whole: blurDownsample },
  { name: 'upsample', op: { kind: 'upsample' }, inScale: 2, outScale: 1, whole: upsample2x },
];

describe('evaluateTile on one-op stages', () => {
  it.each(cases)('$name: every tile equals the slice of the whole-map result', (c) => {
    const size = { height: 24, width: 36 }; // full resolution
    const node: MapNode = {
      id: 'y',
      scale: c.outScale,
      channels: C,
      source: { kind: 'map', of: 'x' },
      ops: [c.op],
      normalised: false,
    };
    const src: MapNode = { ...node, id: 'x', scale: c.inScale, ops: [] };
    const nodes = [src, node];
    const pass: Pass = { target: 'y', evaluate: ['y'], write: [], read: ['x'], free: [] };
    const [ih, iw] = [size.height / c.inScale, size.width / c.inScale];
    const rng = new Rng(7);
    const x = Float32Array.from({ length: ih * iw * C }, () => rng.uniform(-1, 1));
    const full = tf.tidy(() => c.whole(tf.tensor4d(x, [1, ih, iw, C])));
    const expected = full.dataSync() as Float32Array;
    const ow = full.shape[2];
    full.dispose();
    const before = tf.memory().numTensors;
    let worst = 0;
    for (const tile of [4, 8, 12, 40]) {
      for (const rect of tileGrid(size, tile)) {
        const windows = passWindows(nodes, pass, rect, size);
        const inputs = new Map([['x', window(x, iw, windows.get('x') as Rect)]]);
        const job = { nodes, pass, params, size, tile: rect, windows, inputs, norms: new Map() };
        const [out] = evaluateTile(job);
        const got = out.dataSync();
        out.dispose();
        const s = c.outScale;
        const r = { y: scaled(rect.y, s), x: scaled(rect.x, s) };
        const want = window(expected, ow, r);
        expect(got.length).toBe(want.length);
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      }
    }
    expect(worst).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
  });
});

function scaled(s: { start: number; end: number }, by: number) {
  return { start: s.start / by, end: s.end / by };
}
