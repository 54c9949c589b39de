// `auto` must never fail a conversion because ONNX Runtime is missing or cannot run a style:
// it falls back to TF.js and says why. Naming `onnx` fails with that reason instead. SinCUT
// styles run on ONNX Runtime like the others.
import { afterEach, describe, expect, it } from 'vitest';
import { chooseEngine } from '../../../../main/engine/onnx/engine-choice';
import { defaultOrtEnvironment, OrtRuntime } from '../../../../main/engine/onnx/runtime';

const working = () => new OrtRuntime({ ...defaultOrtEnvironment, hardwareGpu: async () => null });
const missing = () =>
  new OrtRuntime({
    ...defaultOrtEnvironment,
    importOrt: async () => {
      throw new Error('libonnxruntime.so.1: cannot open shared object file');
    },
  });

afterEach(() => {
  delete process.env.PATCHWORK_ORT_PROVIDER;
});

describe('engine choice', () => {
  it('auto picks ONNX Runtime where it loads, naming the version and provider', async () => {
    const c = await chooseEngine('auto', 'resnet', working());
    expect(c).toMatchObject({ engine: 'onnx', provider: 'cpu' });
    expect(c.detail).toMatch(/^ONNX Runtime 1\.\d+\.\d+, cpu \(\d+ threads\)$/);
  });

  it('auto falls back to TF.js with the load failure; onnx fails with it', async () => {
    const c = await chooseEngine('auto', 'resnet', missing());
    expect(c.engine).toBe('tfjs');
    expect(c.detail).toMatch(/^TF\.js: onnxruntime-node did not load: libonnxruntime\.so\.1/);
    await expect(chooseEngine('onnx', 'resnet', missing())).rejects.toThrow(
      /ONNX Runtime is not usable: .*cannot open shared object/,
    );
  });

  it('tfjs is honoured without loading ONNX Runtime', async () => {
    const rt = missing();
    expect(await chooseEngine('tfjs', 'resnet', rt)).toEqual({
      engine: 'tfjs',
      detail: 'TF.js (asked for)',
    });
  });

  it('SinCUT styles run on ONNX Runtime too', async () => {
    for (const pref of ['auto', 'onnx'] as const) {
      const c = await chooseEngine(pref, 'sincut', working());
      expect(c).toMatchObject({ engine: 'onnx', provider: 'cpu' });
    }
  });

  it('a named provider that is not usable: auto runs on cpu and says why; onnx fails', async () => {
    process.env.PATCHWORK_ORT_PROVIDER = 'dml';
    const platform = process.platform === 'win32' ? 'linux' : process.platform;
    const rt = () =>
      new OrtRuntime({ ...defaultOrtEnvironment, platform, hardwareGpu: async () => null });
    const c = await chooseEngine('auto', 'resnet', rt());
    expect(c).toMatchObject({ engine: 'onnx', provider: 'cpu' });
    expect(c.detail).toMatch(
      /cpu \(\d+ threads\) \(ONNX Runtime provider dml is not usable here: Windows only\)/,
    );
    await expect(chooseEngine('onnx', 'resnet', rt())).rejects.toThrow(/dml is not usable here/);
    process.env.PATCHWORK_ORT_PROVIDER = 'tpu';
    await expect(chooseEngine('auto', 'resnet', rt())).rejects.toThrow(
      /PATCHWORK_ORT_PROVIDER must be one of auto, cuda, dml, coreml, webgpu, cpu; got "tpu"/,
    );
  });
});
