// SinCUT's StyleGAN2 generator as ONNX must compute what PyTorch (the committed SinCUT
// fixtures) and TF.js compute, checked by ONNX Runtime's native CPU provider: the whole
// generator with the fixture's noise and with none, at two sizes and batch 2 in one session,
// on floats and on 8-bit output; the encoder graph's taps; the heatmap head graph's rows.
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { exportOnnx } from '../../../../main/engine/export/onnx-export';
import { exportHeadOnnx, tapOutputName } from '../../../../main/engine/export/onnx-graph';
import { exportStyleGan2Onnx } from '../../../../main/engine/export/onnx-stylegan2';
import { disposeParams } from '../../../../main/engine/model/params';
import { l2Normalize } from '../../../../main/engine/model/projection-head';
import type { StyleGan2Generator } from '../../../../main/engine/model/stylegan2-generator';
import { buildG, buildModel, cfg, fx } from '../../../support/reference-sincut';

/** Float tolerance relative to max(1, |expected|); the 8-bit outputs may differ by one level. */
const TOL = 1e-4;

let G: StyleGan2Generator;
let session: ort.InferenceSession;

beforeAll(async () => {
  await initBackend('cpu');
  G = buildG();
  session = await ort.InferenceSession.create(exportOnnx(G), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
  });
});
afterAll(async () => {
  disposeParams(G.params);
  await session.release();
});

function ortTensor(t: tf.Tensor): ort.Tensor {
  return new ort.Tensor('float32', t.dataSync() as Float32Array, t.shape);
}

function maxRelError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  }
  return worst;
}

/** Largest difference of the clamped outputs as 8-bit levels. */
function max8bit(a: Float32Array, b: Float32Array): number {
  const level = (v: number) => Math.round((Math.max(-1, Math.min(1, v)) + 1) * 127.5);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(level(a[i]) - level(b[i])));
  return worst;
}

describe('SinCUT StyleGAN2 generator as ONNX', () => {
  it('declares the noise input and an unclamped output, opset 17', () => {
    expect(session.inputNames).toEqual(['input', 'noise']);
    expect(session.outputNames).toEqual(['output']);
  });

  for (const key of ['a', 'b']) {
    it(`matches PyTorch and TF.js at input ${key}, with the fixture's noise and without`, async () => {
      const x = fx.raw(`input.g.${key}`); // [2, 3, H, W]
      const noise = fx.raw(`noise.g.${key}`); // [2, 1, H, W]
      const zeros = tf.zerosLike(noise);
      for (const [n, expected] of [
        [noise, `G.out.${key}`],
        [zeros, `G.out_no_noise.${key}`],
      ] as const) {
        const { output } = await session.run({ input: ortTensor(x), noise: ortTensor(n) });
        const y = output.data as Float32Array;
        expect(output.dims).toEqual(x.shape.map((d, i) => (i === 1 ? 3 : d)));
        const torch = fx.raw(expected).dataSync() as Float32Array;
        const tfjs = tf.tidy(() =>
          tf.transpose(
            G.forward(
              tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D,
              tf.transpose(n, [0, 2, 3, 1]) as tf.Tensor4D,
            ),
            [0, 3, 1, 2],
          ),
        );
        const tfData = tfjs.dataSync() as Float32Array;
        tfjs.dispose();
        expect(maxRelError(y, torch)).toBeLessThan(TOL);
        expect(maxRelError(y, tfData)).toBeLessThan(TOL);
        expect(max8bit(y, torch)).toBeLessThanOrEqual(1);
        expect(max8bit(y, tfData)).toBeLessThanOrEqual(1);
      }
      tf.dispose([x, noise, zeros]);
    });
  }

  it('encoder graph: the taps equal TF.js’s encoder and the PyTorch fixture’s', async () => {
    const taps = cfg.taps; // input, down1, res2
    const enc = await ort.InferenceSession.create(exportStyleGan2Onnx(G, taps), {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
    });
    try {
      expect(enc.inputNames).toEqual(['input']);
      expect(enc.outputNames).toEqual(taps.map(tapOutputName));
      for (const key of ['a', 'b']) {
        const x = fx.raw(`input.g.${key}`);
        const out = await enc.run({ input: ortTensor(x) });
        const feats = G.encode(tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D, taps);
        for (const [i, tap] of taps.entries()) {
          const got = out[tapOutputName(tap)];
          expect(got.dims).toEqual(feats[i].shape);
          const torch = fx.nhwc(`G.tap.${key}.${tap}`);
          const data = got.data as Float32Array;
          expect(maxRelError(data, feats[i].dataSync() as Float32Array)).toBeLessThan(TOL);
          expect(maxRelError(data, torch.dataSync() as Float32Array)).toBeLessThan(TOL);
          torch.dispose();
        }
        tf.dispose([x, ...feats]);
      }
    } finally {
      await enc.release();
    }
  });

  it('head graph: unit rows equal the projection head’s, and raw rows l2Normalize’s', async () => {
    const model = buildModel();
    const H = model.H;
    const rows = tf.randomNormal([37, cfg.g.c1], 0, 1, 'float32', 5) as tf.Tensor2D;
    const feed = { rows: ortTensor(rows) };
    const i = cfg.taps.indexOf('down1');
    const w = (name: string) => {
      const v = H.params.get(`mlp_${i}.${name}`) as tf.Variable;
      return { shape: v.shape, data: v.dataSync() as Float32Array };
    };
    const mlp = { w0: w('0.weight'), b0: w('0.bias'), w2: w('2.weight'), b2: w('2.bias') };
    for (const [m, expected] of [
      [mlp, H.project(i, tf.reshape(rows, [1, 37, 1, cfg.g.c1]) as tf.Tensor4D, iota(37))],
      [null, l2Normalize(rows)],
    ] as const) {
      const s = await ort.InferenceSession.create(exportHeadOnnx(cfg.g.c1, m));
      const { unit } = await s.run(feed);
      expect(unit.dims).toEqual(expected.shape);
      const want = expected.dataSync() as Float32Array;
      expect(maxRelError(unit.data as Float32Array, want)).toBeLessThan(TOL);
      await s.release();
      expected.dispose();
    }
    rows.dispose();
    model.dispose();
  });
});

function iota(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}
