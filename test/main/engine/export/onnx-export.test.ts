// The ONNX export must compute what PyTorch and TF.js compute. ONNX Runtime is not a
// dependency of Patchwork (about 290 MB); these tests run it when `onnxruntime-node` resolves
// from the project or from PATCHWORK_ONNXRUNTIME_DIR (a folder where it was installed with
// ONNXRUNTIME_NODE_INSTALL=skip), and are skipped otherwise. Without it, the model is still
// checked to be well-formed protobuf naming opset 17 and dynamic sides.
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { exportOnnx } from '../../../../main/engine/export/onnx-export';
import {
  generatorFromRecognized,
  readGeneratorCheckpoint,
} from '../../../../main/engine/import/import-style';
import { translateImage } from '../../../../main/engine/infer/translate';
import { disposeParams } from '../../../../main/engine/model/params';
import { image, maxAbsDiff, MODELS, pthPath } from '../import/import-fixtures';

interface OrtTensor {
  data: Float32Array;
}
interface Ort {
  InferenceSession: {
    create(bytes: Uint8Array): Promise<{
      run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
    }>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

function loadOrt(): Ort | null {
  const places = [import.meta.url, process.env.PATCHWORK_ONNXRUNTIME_DIR].filter(Boolean);
  for (const from of places) {
    try {
      const base = from!.startsWith('file:') ? from! : `${path.resolve(from!)}/`;
      return createRequire(base)('onnxruntime-node') as Ort;
    } catch {
      // not installed there
    }
  }
  return null;
}

const ort = loadOrt();
const TOL = 1e-4;

beforeAll(async () => {
  await initBackend('wasm');
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

  describe.skipIf(!ort)('through onnxruntime-node', () => {
    for (const model of MODELS) {
      it(`${model}: matches PyTorch and TF.js at two sizes in one session`, async () => {
        const G = generatorFromRecognized(await readGeneratorCheckpoint(pthPath(model)));
        const session = await ort!.InferenceSession.create(exportOnnx(G));
        for (const input of ['a', 'b']) {
          const x = image(`input.${input}`);
          const feed = new ort!.Tensor('float32', nchw(x), [1, 3, x.height, x.width]);
          const y = (await session.run({ input: feed })).output.data;
          expect(maxAbsDiff(y, nchw(image(`${model}.out.${input}`)))).toBeLessThan(TOL);
          expect(maxAbsDiff(y, nchw(translateImage(G, x)))).toBeLessThan(TOL);
        }
        disposeParams(G.params);
      });
    }
  });
});
