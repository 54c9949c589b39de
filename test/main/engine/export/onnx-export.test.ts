// The ONNX export must compute what PyTorch and TF.js compute, checked by a real ONNX
// runtime: onnxruntime-web (a development dependency, its wasm build runs under Node) loads
// each exported model and runs it at two sizes in one session.
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { exportOnnx } from '../../../../main/engine/export/onnx-export';
import {
  generatorFromRecognized,
  readGeneratorCheckpoint,
} from '../../../../main/engine/import/import-style';
import { translateImageAsync } from '../../../../main/engine/infer/translate';
import { disposeParams } from '../../../../main/engine/model/params';
import { image, maxAbsDiff, MODELS, pthPath } from '../import/import-fixtures';

const TOL = 1e-4;

beforeAll(async () => {
  await initBackend('wasm');
  ort.env.wasm.numThreads = 1;
});

/** HWC → NCHW. */
function nchw(x: { data: Float32Array; width: number; height: number }): Float32Array {
  const { data, width, height } = x;
  const out = new Float32Array(data.length);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < width * height; i++) out[c * width * height + i] = data[i * 3 + c];
  }
  return out;
}

describe('ONNX export', () => {
  it('is an opset-17 model with dynamic batch, height and width', async () => {
    const G = generatorFromRecognized(await readGeneratorCheckpoint(pthPath('cut')));
    const bytes = exportOnnx(G);
    disposeParams(G.params);
    const text = bytes.toString('latin1');
    for (const s of ['batch', 'height', 'width', 'InstanceNormalization', 'ConvTranspose']) {
      expect(text).toContain(s);
    }
    // opset_import (field 8) as the last field: { domain "", version 17 }
    expect([...bytes.subarray(bytes.length - 6)]).toEqual([0x42, 0x04, 0x0a, 0x00, 0x10, 17]);
  });

  describe('through ONNX Runtime (wasm)', () => {
    for (const model of MODELS) {
      it(`${model}: matches PyTorch and TF.js at two sizes in one session`, async () => {
        const G = generatorFromRecognized(await readGeneratorCheckpoint(pthPath(model)));
        const session = await ort.InferenceSession.create(exportOnnx(G));
        for (const input of ['a', 'b']) {
          const x = image(`input.${input}`);
          const feed = new ort.Tensor('float32', nchw(x), [1, 3, x.height, x.width]);
          const y = (await session.run({ input: feed })).output.data as Float32Array;
          expect(maxAbsDiff(y, nchw(image(`${model}.out.${input}`)))).toBeLessThan(TOL);
          expect(maxAbsDiff(y, nchw(await translateImageAsync(G, x)))).toBeLessThan(TOL);
        }
        disposeParams(G.params);
      });
    }
  });
});
