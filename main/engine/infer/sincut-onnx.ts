/**
 * SinCUT's StyleGAN2 generator on ONNX Runtime, one window at a time, for the tiled
 * translation (sincut-tiled.ts `forward`): the window and its position-based noise go through
 * the exported graph (export/onnx-stylegan2.ts), so tiles keep the halo, noise and memory
 * bound of the TF.js path and the result stays the untiled one. Used by conversion
 * (sincut-convert.ts) and heatmaps (heatmap-onnx.ts); the session is the runtime's, cached per
 * generator.
 */
import { exportOnnx } from '../export/onnx-export';
import type { StyleGan2Generator } from '../model/stylegan2-generator';
import { ortRuntime, type OrtProvider, type OrtRuntime } from '../onnx/runtime';
import type { WindowForward } from './sincut-tiled';

export interface SinCutOrtOptions {
  provider: OrtProvider;
  runtime?: OrtRuntime;
  /** Called when the session runs on cpu instead of `provider` (with the reason). */
  onFallback?: (reason: string) => void;
}

let ids = 0;
const generatorIds = new WeakMap<StyleGan2Generator, number>();

export function sincutOrtKey(G: StyleGan2Generator): string {
  let id = generatorIds.get(G);
  if (id === undefined) {
    id = ++ids;
    generatorIds.set(G, id);
  }
  return `sincut:${id}:generator`;
}

/** The window runner and a release of its session. */
export function sincutOrtForward(
  G: StyleGan2Generator,
  opts: SinCutOrtOptions,
): { forward: WindowForward; dispose(): Promise<void> } {
  const runtime = opts.runtime ?? ortRuntime;
  const key = sincutOrtKey(G);
  let said = false;
  const forward: WindowForward = async (input, noise, h, w) => {
    const ort = await runtime.require();
    const session = await runtime.sessionFor(key, () => exportOnnx(G), opts.provider);
    const x = new Float32Array(input.length); // HWC → NCHW
    const plane = h * w;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) x[c * plane + i] = input[i * 3 + c];
    }
    const out = await session.run({
      input: new ort.Tensor('float32', x, [1, 3, h, w]),
      noise: new ort.Tensor('float32', noise, [1, 1, h, w]),
    });
    if (session.fallback && !said) {
      said = true;
      opts.onFallback?.(session.fallback);
    }
    const y = out.output.data as Float32Array; // NCHW → HWC
    const hwc = new Float32Array(y.length);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < plane; i++) hwc[i * 3 + c] = y[c * plane + i];
    }
    return hwc;
  };
  return { forward, dispose: () => runtime.releaseMatching(key) };
}
