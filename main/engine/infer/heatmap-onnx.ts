/**
 * A heatmap's feature pass on ONNX Runtime (issue 18, "Heatmaps"): the working image is
 * translated, both images go through the style's encoder to the taps asked for (export/
 * onnx-export.ts exportCutEncoderOnnx, export/onnx-stylegan2.ts: the taps as graph outputs),
 * and every position's feature is projected by the tap's MLP and brought to unit length by a
 * head graph (export/onnx-graph.ts exportHeadOnnx), in chunks of rows so memory stays bounded.
 * Queries stay what they were (heatmap-dot.ts over the rows). Sessions come from the engine's
 * ONNX Runtime (onnx/runtime.ts: provider chosen once, sessions cached per graph).
 *
 * Translation: CUT's generator runs whole on the working image (long side 1024 by default)
 * up to UNTILED_MAX_PIXELS, beyond which the TF.js tiled path keeps memory bounded; SinCUT's
 * StyleGAN2 generator runs tile by tile as its conversion does, with conversion's own window
 * runner (sincut-onnx.ts), so the result is the conversion's.
 */
import type { EngineChoice } from '../../../shared/convert-options';
import type { NceTap } from '../../../shared/options';
import { exportCutEncoderOnnx, exportOnnx } from '../export/onnx-export';
import { exportHeadOnnx, tapOutputName, type TapMlp } from '../export/onnx-graph';
import { exportStyleGan2Onnx } from '../export/onnx-stylegan2';
import { tapChannels } from '../model/generator';
import type { ProjectionHead } from '../model/projection-head';
import { StyleGan2Generator, styleGan2TapChannels } from '../model/stylegan2-generator';
import {
  ortRuntime,
  type OrtModule,
  type OrtProviderPreference,
  type OrtRuntime,
  type OrtSession,
} from '../onnx/runtime';
import type { HeatmapGenerator } from './heatmap-geometry';
import { sincutOrtForward } from './sincut-onnx';
import { translateSinCut, type SinCutTileOptions } from './sincut-tiled';
import { readImage } from './tiled-generator';
import type { RgbFloatImage } from './translate';

/** Which engine computes a heatmap's translation and features (`--engine`). */
export type HeatmapEngineChoice = EngineChoice;

/** CUT's generator runs whole on ONNX Runtime up to this many (padded) working pixels. */
export const UNTILED_MAX_PIXELS = 4 * 2 ** 20;
/** Rows per run of the head graph. */
const HEAD_ROWS = 65536;

/** A tap's raw map of the padded image, NHWC. */
export interface TapMap {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

export interface HeatmapEngineReport {
  /** 'onnx' when ONNX Runtime runs the feature pass, else 'tfjs'. */
  name: 'onnx' | 'tfjs';
  /** e.g. "ONNX Runtime 1.31.1, cpu (2 threads)", or why TF.js runs it. */
  detail: string;
}

let ids = 0;
const styleIds = new WeakMap<object, number>();

/** A process-unique id for a loaded generator, so sessions are cached per style. */
function idOf(G: object): number {
  let id = styleIds.get(G);
  if (id === undefined) {
    id = ++ids;
    styleIds.set(G, id);
  }
  return id;
}

export class OnnxHeatmapEngine {
  private constructor(
    private readonly runtime: OrtRuntime,
    private readonly ort: OrtModule,
    readonly provider: Parameters<OrtRuntime['sessionFor']>[2],
    readonly detail: string,
  ) {}

  /**
   * The engine `choice` resolves to: ONNX Runtime for `onnx` and `auto` when it loads (`onnx`
   * fails with the reason otherwise, `auto` falls back to TF.js and says why), null for `tfjs`.
   */
  static async open(
    choice: HeatmapEngineChoice,
    provider: OrtProviderPreference = 'auto',
    runtime: OrtRuntime = ortRuntime,
  ): Promise<{ engine: OnnxHeatmapEngine | null; report: HeatmapEngineReport }> {
    if (choice === 'tfjs') {
      return { engine: null, report: { name: 'tfjs', detail: 'TF.js (asked for)' } };
    }
    const loaded = await runtime.load();
    if (!loaded.ok) {
      if (choice === 'onnx') throw new Error(`--engine onnx: ${loaded.reason}`);
      return { engine: null, report: { name: 'tfjs', detail: `TF.js (${loaded.reason})` } };
    }
    const chosen = await runtime.chooseProvider(provider);
    const detail = `ONNX Runtime ${loaded.version}, ${chosen.detail}`;
    const engine = new OnnxHeatmapEngine(runtime, loaded.ort, chosen.name, detail);
    return { engine, report: { name: 'onnx', detail } };
  }

  private session(key: string, bytes: () => Uint8Array): Promise<OrtSession> {
    return this.runtime.sessionFor(key, bytes, this.provider);
  }

  /**
   * The working image translated: [H, W, 3] in [−1, 1] → the same size. CUT's generator whole
   * (null beyond UNTILED_MAX_PIXELS: the caller's TF.js tiled path takes it), SinCUT's tile by
   * tile with its position-based noise.
   */
  async translate(
    G: HeatmapGenerator,
    image: RgbFloatImage,
    sincut: SinCutTileOptions = {},
  ): Promise<RgbFloatImage | null> {
    if (G instanceof StyleGan2Generator) {
      // Conversion's window runner (its session is shared with conversions of this style).
      const { forward } = sincutOrtForward(G, { provider: this.provider, runtime: this.runtime });
      return translateSinCut(G, image, { ...sincut, forward });
    }
    const key = `heatmap:${idOf(G)}:generator`;
    const session = await this.session(key, () => exportOnnx(G));
    const H = Math.ceil(image.height / 4) * 4;
    const W = Math.ceil(image.width / 4) * 4;
    if (H * W > UNTILED_MAX_PIXELS) return null;
    const padded = readImage(image, { y: { start: 0, end: H }, x: { start: 0, end: W } });
    const out = await session.run({ input: this.nchw(padded, H, W, 3) });
    const y = toHwc(out.output.data as Float32Array, H, W, 3);
    const data = new Float32Array(image.width * image.height * 3);
    for (let r = 0; r < image.height; r++) {
      data.set(y.subarray(r * W * 3, (r * W + image.width) * 3), r * image.width * 3);
    }
    return { data, width: image.width, height: image.height };
  }

  /**
   * The encoder's raw maps at `taps` for the image reflect-padded to multiples of 4, as
   * G.encode gives them (CUT's `input` tap is the image reflect-padded by 3 more).
   */
  async encode(
    G: HeatmapGenerator,
    image: RgbFloatImage,
    taps: readonly NceTap[],
  ): Promise<TapMap[]> {
    const list = [...taps];
    const key = `heatmap:${idOf(G)}:encoder:${list.join(',')}`;
    const session = await this.session(key, () =>
      G instanceof StyleGan2Generator
        ? exportStyleGan2Onnx(G, list)
        : exportCutEncoderOnnx(G, list),
    );
    const H = Math.ceil(image.height / 4) * 4;
    const W = Math.ceil(image.width / 4) * 4;
    const padded = readImage(image, { y: { start: 0, end: H }, x: { start: 0, end: W } });
    const out = await session.run({ input: this.nchw(padded, H, W, 3) });
    return list.map((tap) => {
      const t = out[tapOutputName(tap)];
      const [, height, width, channels] = t.dims;
      return { data: t.data as Float32Array, height, width, channels };
    });
  }

  /**
   * Unit rows of `rows` [n, C] into `out` [n, dim]: the head's MLP for `tap` (null: raw
   * features, only normalised), HEAD_ROWS at a time.
   */
  async project(
    G: HeatmapGenerator,
    head: { head: ProjectionHead; index: number } | null,
    tap: NceTap,
    rows: Float32Array,
    channels: number,
    out: Float32Array,
  ): Promise<void> {
    const mode = head ? `mlp${head.index}` : 'raw';
    const key = `heatmap:${idOf(head?.head ?? G)}:head:${tap}:${mode}:${channels}`;
    const session = await this.session(key, () =>
      exportHeadOnnx(channels, head ? mlpOf(head.head, head.index) : null),
    );
    const n = rows.length / channels;
    const dim = out.length / n;
    for (let start = 0; start < n; start += HEAD_ROWS) {
      const size = Math.min(HEAD_ROWS, n - start);
      const chunk = rows.subarray(start * channels, (start + size) * channels);
      const { unit } = await session.run({
        rows: new this.ort.Tensor('float32', chunk, [size, channels]),
      });
      out.set(unit.data as Float32Array, start * dim);
    }
  }

  private nchw(hwc: Float32Array, h: number, w: number, c: number) {
    const out = new Float32Array(hwc.length);
    const plane = h * w;
    for (let i = 0; i < plane; i++) {
      for (let ch = 0; ch < c; ch++) out[ch * plane + i] = hwc[i * c + ch];
    }
    return new this.ort.Tensor('float32', out, [1, c, h, w]);
  }
}

/** Channels of a tap's raw map. */
export function onnxTapChannels(G: HeatmapGenerator, tap: NceTap): number {
  return G instanceof StyleGan2Generator
    ? styleGan2TapChannels(tap, G.config)
    : tapChannels(tap, G.config.ngf);
}

/** The head's MLP weights for its tap `i`, engine layouts. */
function mlpOf(head: ProjectionHead, i: number): TapMlp {
  const w = (name: string) => {
    const v = head.params.get(`mlp_${i}.${name}`);
    if (!v) throw new Error(`the projection head has no parameter mlp_${i}.${name}`);
    return { shape: v.shape, data: v.dataSync() as Float32Array };
  };
  return { w0: w('0.weight'), b0: w('0.bias'), w2: w('2.weight'), b2: w('2.bias') };
}

/** NCHW [1, C, H, W] → HWC. */
function toHwc(nchw: Float32Array, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(nchw.length);
  const plane = h * w;
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < plane; i++) out[i * c + ch] = nchw[ch * plane + i];
  }
  return out;
}
