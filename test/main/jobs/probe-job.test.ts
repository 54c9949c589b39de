// The engine's look at this machine for Settings, run in-process as the engine process runs
// it: here (no GPU, no native TF.js) auto picks wasm, cpu loads too, tensorflow is reported
// missing with its reason, and webgpu has no adapter (SwiftShader is not asked for, which
// keeps this test fast; with PATCHWORK_SWIFTSHADER=1 it lists SwiftShader as software).
import { afterEach, describe, expect, it } from 'vitest';
import { runProbe } from '../../../main/jobs/probe-job';

const before = process.env.PATCHWORK_GPU_ADAPTER;
afterEach(() => {
  if (before === undefined) delete process.env.PATCHWORK_GPU_ADAPTER;
  else process.env.PATCHWORK_GPU_ADAPTER = before;
});

describe('the probe job', () => {
  it('reports what auto picks, every backend with its reason, and the GPU adapters', async () => {
    const swiftShader = Boolean(process.env.PATCHWORK_SWIFTSHADER);
    const r = await runProbe({ gpuAdapter: null });
    process.stdout.write(`probe: ${r.durationMs} ms; auto ${r.auto?.name}: ${r.auto?.detail}\n`);
    expect(r.auto?.name).toBe('wasm');
    expect(r.backends.map((b) => b.name)).toEqual(['tensorflow', 'webgpu', 'wasm', 'cpu']);
    const by = Object.fromEntries(r.backends.map((b) => [b.name, b]));
    expect(by.wasm).toMatchObject({ available: true, reason: null });
    expect(by.wasm.detail).toMatch(/^wasm \(/);
    expect(by.cpu).toMatchObject({ available: true, detail: expect.stringMatching(/^cpu/) });
    expect(by.tensorflow).toMatchObject({ available: false, detail: null });
    expect(by.tensorflow.reason).toMatch(/not installed|tfjs-node/);
    if (swiftShader) {
      expect(r.adapters.length).toBeGreaterThan(0);
      expect(r.adapters.every((a) => a.software)).toBe(true);
      expect(by.webgpu).toMatchObject({
        available: true,
        reason: expect.stringMatching(/software/),
      });
    } else {
      expect(r.adapters).toEqual([]);
      expect(by.webgpu.available).toBe(false);
      expect(by.webgpu.reason).toMatch(/GPU|adapter|Dawn/);
    }
    expect(r.adapterAsked).toBeNull();
    expect(Date.parse(r.probedAt)).not.toBeNaN();
  });

  it('says which adapter was asked for', async () => {
    const r = await runProbe({ gpuAdapter: 'Some GPU', adapters: false });
    expect(r.adapterAsked).toBe('Some GPU');
    expect(process.env.PATCHWORK_GPU_ADAPTER).toBe('Some GPU');
    expect(r.adapters).toEqual([]);
  });
});
