// The webgpu backend on SwiftShader (no GPU needed): how it is chosen and declined, that a short
// training run matches the same run on cpu, that tiled translation equals untiled within 1/255,
// that tensors and GPU bytes stay put across steps and tiles, and that GPU errors and a lost
// device fail the work with a clear reason while the process carries on. Sizes are tiny:
// SwiftShader runs TF.js's shared-memory kernels (convolutions, reductions) very slowly.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveTrainOptions, type NceTap } from '../../../shared/options';
import { BackendError, initBackend } from '../../../main/engine/backend';
import { ResnetGenerator, tapChannels } from '../../../main/engine/model/generator';
import { ProjectionHead } from '../../../main/engine/model/projection-head';
import { HeatmapSession } from '../../../main/engine/infer/heatmap';
import { disposeParams } from '../../../main/engine/model/params';
import { Rng } from '../../../main/engine/rng';
import { CutModel } from '../../../main/engine/train/cut-model';
import {
  drawSampling,
  trainStepAsync,
  type StepLosses,
} from '../../../main/engine/train/train-step';
import { translateImageAsync, type RgbFloatImage } from '../../../main/engine/infer/translate';
import { translateTiled } from '../../../main/engine/infer/tiled-generator';
import { isOutOfMemory } from '../../../main/engine/infer/oom-retry';
import {
  chooseTile,
  generatorStages,
  largestTensorBytes,
  schedulePasses,
} from '../../../main/engine/infer/stage-plan';
import {
  destroyGpuDeviceForTest,
  gpuBufferLimitBytes,
  listGpuAdapters,
  loadWebGpu,
  useSwiftShader,
} from '../../../main/engine/webgpu';
import { swiftShaderUnavailable } from '../../support/swiftshader';

const figures: string[] = [];
afterAll(() => {
  if (figures.length) console.info(`webgpu on SwiftShader:\n${figures.join('\n')}`);
});

describe('webgpu tile sizes from the adapter limits (no GPU needed)', () => {
  it('a buffer limit makes tiles smaller, never larger', () => {
    const nodes = generatorStages({ ngf: 16, nBlocks: 2 });
    const passes = schedulePasses(nodes, 'quarter');
    const size = { height: 512, width: 768 };
    const free = chooseTile(nodes, passes, size, 256 * 2 ** 20);
    const limit = largestTensorBytes(nodes, passes, free, size) / 4;
    const capped = chooseTile(nodes, passes, size, 256 * 2 ** 20, limit);
    expect(capped).toBeLessThan(free);
    expect(largestTensorBytes(nodes, passes, capped, size)).toBeLessThanOrEqual(limit);
    expect(chooseTile(nodes, passes, size, 256 * 2 ** 20, Infinity)).toBe(free);
  });
});

describe('webgpu without an adapter', () => {
  it('declines with the reason, asked for by name or not', async () => {
    const saved = process.env.VK_ICD_FILENAMES;
    process.env.VK_ICD_FILENAMES = path.join(os.tmpdir(), 'patchwork-no-such-icd.json');
    try {
      const err = await initBackend('webgpu').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendError);
      expect((err as BackendError).skipped[0].reason).toMatch(/no WebGPU adapter|did not load/);
      // What auto asks (the backend's initBackend('auto') runs later, on SwiftShader).
      await expect(loadWebGpu(false)).rejects.toThrow(/no WebGPU adapter|did not load/);
    } finally {
      if (saved === undefined) delete process.env.VK_ICD_FILENAMES;
      else process.env.VK_ICD_FILENAMES = saved;
    }
  });
});

const unavailable = useSwiftShader() ? await swiftShaderUnavailable() : 'no SwiftShader driver';
if (unavailable) console.warn(`webgpu tests on SwiftShader skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('webgpu on SwiftShader', { timeout: 300_000 }, () => {
  it('is listed as a software adapter with its limits, and auto never picks it', async () => {
    const adapters = await listGpuAdapters();
    const sw = adapters.find((a) => /swiftshader/i.test(`${a.vendor} ${a.architecture} ${a.name}`));
    expect(sw?.software).toBe(true);
    expect(sw?.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const auto = await initBackend('auto');
    expect(auto.name).not.toBe('webgpu');
    expect(auto.skipped.find((s) => s.name === 'webgpu')?.reason).toMatch(/software adapter/);
    const chosen = await initBackend('webgpu');
    expect(chosen.name).toBe('webgpu');
    expect(chosen.detail).toMatch(/swiftshader.*software adapter.*max storage binding \d+ MiB/i);
    expect(gpuBufferLimitBytes()).toBe(
      Math.min(sw!.limits.maxBufferSize, sw!.limits.maxStorageBufferBindingSize),
    );
  });

  it('trains as cpu does: three FastCUT steps, losses and weights close', async () => {
    const run = async (backend: 'cpu' | 'webgpu') => {
      await initBackend(backend);
      const opts = resolveTrainOptions({
        preset: 'fastcut',
        ngf: 4,
        ndf: 4,
        nBlocks: 1,
        numPatches: 16,
        projectionDim: 16,
        nceTaps: ['input', 'down1', 'down2', 'res1'],
      });
      const model = CutModel.create(opts, 5);
      const rng = new Rng(9);
      const px = () => Float32Array.from({ length: 24 * 24 * 3 }, () => rng.uniform(-1, 1));
      const losses: StepLosses[] = [];
      const memory: { numTensors: number; bytes: number }[] = [];
      for (let i = 0; i < 3; i++) {
        const a = tf.tensor4d(px(), [1, 24, 24, 3]);
        const b = tf.tensor4d(px(), [1, 24, 24, 3]);
        losses.push(await trainStepAsync(model, a, b, drawSampling(model, 24, 24, rng)));
        tf.dispose([a, b]);
        const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
        memory.push({ numTensors: m.numTensors, bytes: m.numBytesInGPU ?? m.numBytes });
      }
      const weights = new Map<string, Float32Array>();
      for (const [net, params] of Object.entries(model.networks())) {
        for (const [name, v] of params)
          weights.set(`${net}.${name}`, (await v.data()) as Float32Array);
      }
      model.dispose();
      return { losses, memory, weights };
    };
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    let lossErr = 0;
    gpu.losses.forEach((l, i) => {
      for (const k of ['D', 'G', 'G_GAN', 'NCE'] as const) {
        lossErr = Math.max(
          lossErr,
          Math.abs(l[k] - cpu.losses[i][k]) / Math.max(1, Math.abs(cpu.losses[i][k])),
        );
      }
    });
    let weightErr = 0;
    let over = 0;
    let count = 0;
    for (const [k, w] of gpu.weights) {
      const c = cpu.weights.get(k)!;
      for (let i = 0; i < w.length; i++) {
        const d = Math.abs(w[i] - c[i]);
        weightErr = Math.max(weightErr, d);
        if (d > 1e-5) over += 1;
      }
      count += w.length;
    }
    figures.push(
      `  3 FastCUT steps vs cpu: losses ${lossErr.toExponential(2)} (relative); weights ` +
        `${weightErr.toExponential(2)} at most (absolute), ${over} of ${count} differ by > 1e-5 ` +
        '(zero-gradient conv biases before instance norm step by ±lr on rounding noise)',
    );
    expect(lossErr).toBeLessThan(1e-4);
    // A weight whose gradient is ~0 may step the other way (sign of rounding): ≤ 2·lr a step.
    expect(weightErr).toBeLessThan(3 * 2 * 2e-4);
    // Steady state after the first step: the same tensors and the same GPU bytes.
    expect(gpu.memory[2]).toEqual(gpu.memory[1]);
  });

  it('tiled translation equals untiled within 1/255; tiles leave no tensor or GPU byte', async () => {
    await initBackend('webgpu');
    const G = ResnetGenerator.create({ ngf: 4, nBlocks: 1 }, 0.5, new Rng(3));
    const rng = new Rng(4);
    const width = 28;
    const height = 20;
    const img: RgbFloatImage = {
      data: Float32Array.from({ length: width * height * 3 }, () => rng.uniform(-1, 1)),
      width,
      height,
    };
    const tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'webgpu-tiles-'));
    try {
      const untiled = await translateImageAsync(G, img);
      await translateTiled(G, img, { tile: 12, tmpDir }); // warms the buffer pool
      const before = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      const tiled = await translateTiled(G, img, { tile: 12, tmpDir });
      const after = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      expect(after.numTensors).toBe(before.numTensors);
      expect(after.numBytesInGPU).toBe(before.numBytesInGPU);
      let worst = 0;
      for (let i = 0; i < untiled.data.length; i++) {
        worst = Math.max(worst, Math.abs(tiled.data[i] - untiled.data[i]) / 2);
      }
      figures.push(
        `  tiled (12 px) vs untiled ${width}×${height}: max ${worst.toExponential(2)} on [0, 1]`,
      );
      expect(worst).toBeLessThan(1 / 255);
    } finally {
      disposeParams(G.params);
      await fs.rm(tmpDir, { recursive: true, force: true });
    }
  });

  it('heatmaps: the same similarity maps as on cpu', async () => {
    const taps: NceTap[] = ['input', 'down1', 'down2', 'res1'];
    const maps = async (backend: 'cpu' | 'webgpu') => {
      await initBackend(backend);
      const generator = ResnetGenerator.create({ ngf: 4, nBlocks: 1 }, 0.5, new Rng(3));
      const head = ProjectionHead.create(
        taps.map((t) => tapChannels(t, 4)),
        8,
        0.5,
        new Rng(4),
      );
      const rng = new Rng(6);
      const image: RgbFloatImage = {
        data: Float32Array.from({ length: 24 * 20 * 3 }, () => rng.uniform(-1, 1)),
        width: 24,
        height: 20,
      };
      const before = tf.memory().numTensors;
      const session = await HeatmapSession.create({ generator, head, headTaps: taps }, image);
      const out = session.query({ x: 9, y: 7 }).map((m) => m.data);
      expect(tf.memory().numTensors).toBe(before);
      disposeParams(generator.params);
      disposeParams(head.params);
      return out;
    };
    const cpu = await maps('cpu');
    const gpu = await maps('webgpu');
    let worst = 0;
    gpu.forEach((m, t) => m.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - cpu[t][i])))));
    figures.push(`  heatmap similarities vs cpu (4 taps): max ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });

  it('a buffer over the adapter limit fails as out of memory, and the backend carries on', async () => {
    await initBackend('webgpu');
    const elements = Math.floor(gpuBufferLimitBytes() / 4) + 1024;
    const huge = tf.fill([elements], 2);
    const doubled = tf.mul(huge, 2);
    const err = await doubled.data().catch((e: unknown) => e);
    tf.dispose([huge, doubled]);
    expect(err).toBeInstanceOf(Error);
    expect(isOutOfMemory(err)).toBe(true);
    const small = tf.add(tf.ones([4]), 1);
    expect(Array.from(await small.data())).toEqual([2, 2, 2, 2]);
    small.dispose();
  });

  it('a lost device fails the read with the reason; the next init builds a new one', async () => {
    await initBackend('webgpu');
    const x = tf.add(tf.ones([8]), 1);
    destroyGpuDeviceForTest();
    await new Promise((r) => setTimeout(r, 50));
    const err = await x.data().catch((e: unknown) => e);
    expect(String(err)).toMatch(/GPU device was lost/);
    const again = await initBackend('webgpu');
    expect(again.name).toBe('webgpu');
    const y = tf.add(tf.ones([3]), 2);
    expect(Array.from(await y.data())).toEqual([3, 3, 3]);
    y.dispose();
  });
});
