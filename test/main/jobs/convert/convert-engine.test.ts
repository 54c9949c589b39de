// The convert job switches engines without changing anything else about a file: ONNX Runtime
// and TF.js give the same pixels (within one 8-bit level, 1/255), and alpha, 16-bit output
// and ICC profiles go through the same encoder either way. The job's opening lines say which
// engine runs, and why TF.js when `auto` could not use ONNX Runtime.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConvertJobSpec } from '../../../../shared/ipc-worker';
import { initBackend } from '../../../../main/engine/backend';
import { defaultOrtEnvironment, OrtRuntime } from '../../../../main/engine/onnx/runtime';
import { openStyleConversion } from '../../../../main/engine/style/open-conversion';
import { runConvertJob, type ConvertJobEvent } from '../../../../main/jobs/convert/convert-job';
import { useTempDir } from '../../../support/temp-dir';
import { saveTinyCutStyle } from '../../../support/tiny-cut-style';
import { saveTinySinCutStyle } from '../../../support/tiny-sincut-style';

const tmp = useTempDir('patchwork-convert-engine-');
let style: string;
let input: string;

beforeAll(async () => {
  await initBackend('wasm');
  style = tmp.path('cut');
  await saveTinyCutStyle(style, { ngf: 4, nBlocks: 2, seed: 5 });
  input = tmp.path('in');
  await fs.mkdir(input, { recursive: true });
  // RGBA with a varying alpha, in a Display P3 profile: every path that must stay unchanged.
  const w = 37;
  const h = 29;
  const rgba = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    rgba[4 * i] = (i * 7) % 256;
    rgba[4 * i + 1] = (i * 13) % 256;
    rgba[4 * i + 2] = (i * 29) % 256;
    rgba[4 * i + 3] = (i * 3) % 256;
  }
  await sharp(rgba, { raw: { width: w, height: h, channels: 4 } })
    .withIccProfile('p3')
    .png()
    .toFile(path.join(input, 'a.png'));
});

async function convert(name: string, over: Partial<ConvertJobSpec>) {
  const output = tmp.path(name);
  const events: ConvertJobEvent[] = [];
  const outcome = await runConvertJob(
    {
      styleDir: style,
      input,
      output,
      recursive: false,
      format: 'png',
      backend: 'wasm',
      ...over,
    },
    { signal: new AbortController().signal, onEvent: (e) => events.push(e) },
  );
  expect(outcome.files.map((f) => f.status)).toEqual(['done']);
  const engine = events.flatMap((e) => (e.type === 'engine' ? [e.detail] : []));
  return { file: path.join(output, 'a.png'), engine };
}

const raw = (file: string) => sharp(file).raw().toBuffer({ resolveWithObject: true });

describe('convert job engines', () => {
  it('onnx and tfjs: same pixels (8 and 16 bits), same alpha and profile', async () => {
    for (const enc of [
      { bitDepth: 8 as const, icc: 'source' as const, step: 1 },
      { bitDepth: 16 as const, icc: 'srgb' as const, step: 257 },
    ]) {
      const spec = { bitDepth: enc.bitDepth, icc: enc.icc, tile: 16 };
      const ort = await convert(`ort-${enc.bitDepth}`, { ...spec, engine: 'onnx' });
      const tfjs = await convert(`tfjs-${enc.bitDepth}`, { ...spec, engine: 'tfjs' });
      expect(ort.engine[0]).toMatch(/^ONNX Runtime 1\.\d+\.\d+, cpu/);
      expect(tfjs.engine).toEqual(['TF.js (asked for)']);
      const [a, b] = await Promise.all([raw(ort.file), raw(tfjs.file)]);
      expect(a.info).toEqual(b.info);
      expect(a.info.channels).toBe(4);
      const values = (d: Buffer) =>
        enc.bitDepth === 16 ? new Uint16Array(d.buffer, d.byteOffset, d.length / 2) : d;
      const [va, vb] = [values(a.data), values(b.data)];
      let worst = 0;
      for (let i = 0; i < va.length; i++) {
        if (i % 4 === 3)
          expect(va[i]).toBe(vb[i]); // alpha carried over untouched
        else worst = Math.max(worst, Math.abs(va[i] - vb[i]));
      }
      expect(worst).toBeLessThanOrEqual(enc.step);
      const [ma, mb] = await Promise.all([sharp(ort.file).metadata(), sharp(tfjs.file).metadata()]);
      expect([ma.depth, ma.hasProfile, ma.icc?.length]).toEqual([
        mb.depth,
        mb.hasProfile,
        mb.icc?.length,
      ]);
      expect(ma.depth).toBe(enc.bitDepth === 16 ? 'ushort' : 'uchar');
    }
  });

  it('auto says ONNX Runtime; a runtime that does not load falls back to TF.js with the reason', async () => {
    const auto = await convert('auto', {});
    expect(auto.engine[0]).toMatch(/^ONNX Runtime/);
    const broken = new OrtRuntime({
      ...defaultOrtEnvironment,
      importOrt: async () => {
        throw new Error("Cannot find module 'onnxruntime-node'");
      },
    });
    const conv = await openStyleConversion(style, { runtime: broken });
    try {
      expect(conv.engine).toMatch(/^TF\.js: onnxruntime-node is not installed or a native file/);
      const img = { data: new Float32Array(16 * 12 * 3).fill(0.25), width: 16, height: 12 };
      const out = await conv.translate(img, {});
      expect(out.data.length).toBe(img.data.length);
    } finally {
      conv.dispose();
    }
  });

  it('SinCUT styles (StyleGAN2 and ResNet): ONNX Runtime by default, the same pixels', async () => {
    for (const netG of ['stylegan2', 'resnet'] as const) {
      const sincut = tmp.path(`sincut-${netG}`);
      await saveTinySinCutStyle(sincut, netG);
      const spec = { styleDir: sincut, tile: 16 };
      const ort = await convert(`sincut-ort-${netG}`, spec);
      const tfjs = await convert(`sincut-tfjs-${netG}`, { ...spec, engine: 'tfjs' });
      expect(ort.engine[0]).toMatch(/^ONNX Runtime 1\.\d+\.\d+, cpu/);
      expect(tfjs.engine).toEqual(['TF.js (asked for)']);
      const [a, b] = await Promise.all([raw(ort.file), raw(tfjs.file)]);
      expect(a.info).toEqual(b.info);
      let worst = 0;
      for (let i = 0; i < a.data.length; i++) {
        if (i % 4 === 3) expect(a.data[i]).toBe(b.data[i]);
        else worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
      }
      expect(worst, netG).toBeLessThanOrEqual(1);
    }
  });
});
