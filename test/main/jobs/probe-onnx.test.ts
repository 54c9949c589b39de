// The Settings view shows what ONNX Runtime does here: its version and auto's provider, or
// the reason it did not load (conversions then run on TF.js), and every provider with why.
import { describe, expect, it } from 'vitest';
import { probeOnnx } from '../../../main/jobs/probe-job';
import { defaultOrtEnvironment, OrtRuntime } from '../../../main/engine/onnx/runtime';

describe('probeOnnx', () => {
  it('reports the version, auto’s provider and every provider', async () => {
    const found = await probeOnnx([]);
    expect(found.version).toMatch(/^1\.\d+\.\d+$/);
    expect(found.reason).toBeNull();
    expect(found.auto).toMatch(/^cpu \(\d+ threads\)$/);
    expect(found.providers.map((p) => p.name)).toEqual(['cuda', 'dml', 'coreml', 'webgpu', 'cpu']);
    expect(found.providers.find((p) => p.name === 'webgpu')).toMatchObject({
      available: false,
      detail: expect.stringMatching(/no hardware GPU adapter/),
    });
  });

  it('reports why it did not load, with no provider available', async () => {
    const broken = new OrtRuntime({
      ...defaultOrtEnvironment,
      importOrt: async () => {
        throw new Error('Error relocating onnxruntime_binding.node: symbol not found');
      },
    });
    const found = await probeOnnx([], broken);
    expect(found).toMatchObject({ version: null, auto: null });
    expect(found.reason).toMatch(/did not load: Error relocating/);
    expect(found.providers.every((p) => !p.available)).toBe(true);
  });
});
