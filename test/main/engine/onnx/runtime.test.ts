// The runtime must never take the engine down with it: a package that does not load, a
// provider that refuses a graph or runs out of memory all end on the CPU provider (or TF.js)
// with a reason. Failures are injected through the environment, not left to this machine.
import { afterEach, describe, expect, it } from 'vitest';
import { encodeModel } from '../../../../main/engine/export/onnx-proto';
import {
  defaultOrtEnvironment,
  OrtRuntime,
  OrtUnavailableError,
  type OrtEnvironment,
  type OrtModule,
} from '../../../../main/engine/onnx/runtime';

/** y = relu(x) + 1, x: [1, n]. */
function tinyModel(): Uint8Array {
  return encodeModel({
    name: 'tiny',
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Add', inputs: ['r', 'one'], outputs: ['y'] },
    ],
    initializers: [{ name: 'one', dims: [1], data: new Float32Array([1]) }],
    inputs: [{ name: 'x', dims: [1, 'n'] }],
    outputs: [{ name: 'y', dims: [1, 'n'] }],
    opset: 17,
  });
}

function runtime(over: Partial<OrtEnvironment> = {}): OrtRuntime {
  return new OrtRuntime({
    ...defaultOrtEnvironment,
    hardwareGpu: async () => null,
    cudaInstalled: () => false,
    ...over,
  });
}

/** The real module with InferenceSession.create / run replaced where asked. */
async function patchedOrt(patch: {
  create?: (provider: string) => Error | null;
  run?: (provider: string) => Error | null;
  backends?: { name: string; bundled: boolean }[];
}): Promise<{ ort: OrtModule; created: string[] }> {
  const real = await defaultOrtEnvironment.importOrt();
  const created: string[] = [];
  const InferenceSession = {
    create: async (bytes: Uint8Array, opts: { executionProviders: string[] }) => {
      const provider = opts.executionProviders[0];
      const err = patch.create?.(provider);
      if (err) throw err;
      created.push(provider);
      const s = await real.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
      let failedOnce = false;
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        release: () => s.release(),
        run: async (feeds: never) => {
          const e = failedOnce ? null : patch.run?.(provider);
          if (e) {
            failedOnce = true;
            throw e;
          }
          return s.run(feeds);
        },
      };
    },
  };
  const ort = {
    ...real,
    InferenceSession,
    listSupportedBackends: () => patch.backends ?? real.listSupportedBackends(),
  } as unknown as OrtModule;
  return { ort, created };
}

afterEach(() => {
  delete process.env.PATCHWORK_THREADS;
});

describe('ONNX Runtime loading', () => {
  it('loads here and runs a graph on the CPU provider', async () => {
    const rt = runtime();
    const loaded = await rt.load();
    expect(loaded.ok).toBe(true);
    const s = await rt.sessionFor('tiny', tinyModel, 'cpu');
    expect(s.provider).toBe('cpu');
    expect(s.fallback).toBeNull();
    const ort = await rt.require();
    const y = await s.run({ x: new ort.Tensor('float32', new Float32Array([-2, 0, 3]), [1, 3]) });
    expect([...(y.y.data as Float32Array)]).toEqual([1, 1, 4]);
    await rt.releaseAll();
  });

  it('returns the reason instead of throwing when the package does not load', async () => {
    const rt = runtime({
      importOrt: async () => {
        throw new Error("Cannot find module '../bin/napi-v6/linux/x64/onnxruntime_binding.node'");
      },
    });
    const loaded = await rt.load();
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.reason).toMatch(/not installed or a native file is missing/);
    await expect(rt.chooseProvider('auto')).rejects.toBeInstanceOf(OrtUnavailableError);
    await expect(rt.sessionFor('k', tinyModel, 'cpu')).rejects.toThrow(/native file is missing/);
    const found = await rt.detectProviders();
    expect(found.every((p) => !p.available)).toBe(true);
  });

  it('names macOS on Intel as having no binary', async () => {
    const rt = runtime({
      platform: 'darwin',
      arch: 'x64',
      importOrt: async () => {
        throw new Error('dlopen failed');
      },
    });
    const loaded = await rt.load();
    expect(!loaded.ok && loaded.reason).toMatch(/no binary for macOS on Intel/);
  });
});

describe('provider choice', () => {
  it('auto takes cpu here and says why it skipped the GPU providers', async () => {
    const rt = runtime({ platform: 'linux', arch: 'x64' });
    const r = await rt.chooseProvider('auto');
    expect(r.name).toBe('cpu');
    const why = Object.fromEntries(r.skipped.map((s) => [s.name, s.reason]));
    expect(why.cuda).toMatch(/never downloaded at install/);
    expect(why.dml).toMatch(/Windows only/);
    expect(why.coreml).toMatch(/Apple silicon/);
    expect(why.webgpu).toMatch(/no hardware GPU adapter/);
  });

  it('prefers hardware: cuda when installed, then dml / coreml, then webgpu on a real adapter', async () => {
    const cuda = runtime({ cudaInstalled: () => true });
    expect((await cuda.chooseProvider('auto')).name).toBe('cuda');
    const { ort: winOrt } = await patchedOrt({
      backends: [
        { name: 'cpu', bundled: true },
        { name: 'dml', bundled: true },
        { name: 'webgpu', bundled: true },
      ],
    });
    const win = runtime({ platform: 'win32', importOrt: async () => winOrt });
    expect((await win.chooseProvider('auto')).name).toBe('dml');
    const gpu = runtime({ hardwareGpu: async () => 'NVIDIA RTX' });
    const r = await gpu.chooseProvider('auto');
    expect(r.name).toBe('webgpu');
    expect(r.detail).toContain('NVIDIA RTX');
  });

  it('refuses a named provider that is not usable, with the reason', async () => {
    const rt = runtime({ platform: 'linux' });
    await expect(rt.chooseProvider('dml')).rejects.toThrow(/dml is not usable here: Windows only/);
  });

  it('uses the cores, or PATCHWORK_THREADS, or the set value', () => {
    const rt = runtime({ cores: () => 6 });
    expect(rt.intraOpThreads()).toBe(6);
    process.env.PATCHWORK_THREADS = '3';
    expect(rt.intraOpThreads()).toBe(3);
    rt.setIntraOpThreads(2);
    expect(rt.intraOpThreads()).toBe(2);
    expect(() => rt.setIntraOpThreads(0)).toThrow(RangeError);
  });
});

describe('session cache', () => {
  it('creates one session per key and provider, and releases it when idle', async () => {
    const rt = runtime({ idleMs: 60_000 });
    let built = 0;
    const bytes = () => {
      built++;
      return tinyModel();
    };
    const [a, b] = await Promise.all([
      rt.sessionFor('k', bytes, 'cpu'),
      rt.sessionFor('k', bytes, 'cpu'),
    ]);
    expect(a).toBe(b);
    expect(built).toBe(1);
    await rt.sessionFor('other', bytes, 'cpu');
    expect(rt.cachedSessions).toBe(2);
    expect(await rt.releaseIdle(60_000, Date.now())).toBe(0);
    expect(await rt.releaseIdle(60_000, Date.now() + 61_000)).toBe(2);
    expect(rt.cachedSessions).toBe(0);
    await rt.sessionFor('k', bytes, 'cpu');
    expect(built).toBe(3);
    await rt.releaseAll();
  });

  it('falls back to cpu with the reason when a provider fails at creation', async () => {
    const { ort, created } = await patchedOrt({
      create: (p) => (p === 'webgpu' ? new Error('no adapter found for webgpu EP') : null),
    });
    const rt = runtime({ importOrt: async () => ort });
    const s = await rt.sessionFor('k', tinyModel, 'webgpu');
    expect(s.provider).toBe('cpu');
    expect(s.fallback).toMatch(/webgpu failed to start this graph \(no adapter found/);
    expect(created).toEqual(['cpu']);
    await rt.releaseAll();
  });

  it('falls back to cpu when a provider runs out of memory mid-run, and still answers', async () => {
    const { ort, created } = await patchedOrt({
      run: (p) => (p === 'cuda' ? new Error('CUDA failure 2: out of memory') : null),
    });
    const rt = runtime({ importOrt: async () => ort });
    const s = await rt.sessionFor('k', tinyModel, 'cuda');
    expect(s.provider).toBe('cuda');
    const y = await s.run({ x: new ort.Tensor('float32', new Float32Array([-1, 5]), [1, 2]) });
    expect([...(y.y.data as Float32Array)]).toEqual([1, 6]);
    expect(s.provider).toBe('cpu');
    expect(s.fallback).toMatch(/cuda ran out of memory/);
    expect(created).toEqual(['cuda', 'cpu']);
    await rt.releaseAll();
  });

  it('passes other run errors through', async () => {
    const { ort } = await patchedOrt({ run: () => new Error('invalid input shape') });
    const rt = runtime({ importOrt: async () => ort });
    const s = await rt.sessionFor('k', tinyModel, 'cuda');
    await expect(
      s.run({ x: new ort.Tensor('float32', new Float32Array([1]), [1, 1]) }),
    ).rejects.toThrow(/invalid input shape/);
    await rt.releaseAll();
  });
});
