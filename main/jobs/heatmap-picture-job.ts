/**
 * The heatmap picture job (`patchwork heatmap`): which patches of the input the style's
 * encoder considers "the same place" as a point of its translation (or the other way round),
 * as one PNG: the query image with the point marked, then one similarity map per tap over the
 * other image, each with its best match and a colour bar; or, for a grid, N×N points at once
 * (the paper's Fig. 5 layout). The studio's clickable heatmaps are heatmap-job.ts, over the
 * same HeatmapSession and style opener. `engine`: ONNX Runtime or TF.js (heatmap-onnx.ts).
 *
 * A point or tap the style or image does not have is a HeatmapSpecError (the caller's to
 * fix); an image too small to translate is an ImageReadError (the image is unusable).
 */
import type { BackendPreference } from '../engine/backend';
import { initBackend } from '../engine/backend';
import { writeFileAtomic } from '../engine/data/image-io';
import {
  checkPoint,
  DEFAULT_WORKING_SIZE,
  HeatmapError,
  HeatmapSession,
  readHeatmapImage,
  resolveTaps,
  type HeatmapSide,
  type Point,
  type SimilarityMap,
} from '../engine/infer/heatmap';
import { OnnxHeatmapEngine, type HeatmapEngineChoice } from '../engine/infer/heatmap-onnx';
import { renderGrid, renderHeatmaps } from '../engine/infer/heatmap-render';
import { openHeatmapStyle } from '../engine/style/open-heatmap';

export { DEFAULT_WORKING_SIZE };

/** The spec names a point or tap that the image or style does not have. */
export class HeatmapSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HeatmapSpecError';
  }
}

function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof HeatmapError) throw new HeatmapSpecError(err.message);
    throw err;
  }
}
export type { HeatmapSide, Point, SimilarityMap };

export interface HeatmapPictureSpec {
  styleDir: string;
  image: string;
  /** The query point; absent: a grid. */
  point?: Point;
  /** Grid mode: N×N query points. */
  grid?: number;
  /** The taps asked for (empty: every tap). */
  taps: string[];
  queryOn: HeatmapSide;
  /** Raw encoder features (L2-normalised) instead of the projection head. */
  raw: boolean;
  workingSize: number;
  opacity: number;
  panelSize: number;
  backend: BackendPreference;
  /** Which engine translates and computes the features (auto: ONNX Runtime when it loads). */
  engine: HeatmapEngineChoice;
  /** The PNG to write; never over the image. */
  out: string;
}

export type HeatmapPictureEvent =
  | { type: 'backend'; detail: string }
  /** Who computes the features: ONNX Runtime with its provider, or TF.js and why. */
  | { type: 'engine'; detail: string }
  /** The style has no projection head: raw features are used instead. */
  | { type: 'no-head' }
  | { type: 'image'; width: number; height: number; working: { width: number; height: number } }
  | { type: 'features'; mode: 'raw' | 'projected' }
  /** A point's best match on one tap (point mode). */
  | { type: 'match'; map: SimilarityMap }
  | { type: 'grid'; n: number; taps: string[] };

export async function runHeatmapPictureJob(
  spec: HeatmapPictureSpec,
  onEvent: (event: HeatmapPictureEvent) => void,
): Promise<void> {
  const backend = await initBackend(spec.backend);
  onEvent({ type: 'backend', detail: backend.detail });
  const { engine: onnx, report } = await OnnxHeatmapEngine.open(spec.engine);
  onEvent({ type: 'engine', detail: report.detail });
  const style = await openHeatmapStyle(spec.styleDir);
  try {
    let raw = spec.raw;
    if (!raw && style.head === null) {
      onEvent({ type: 'no-head' });
      raw = true;
    }
    const taps = checked(() => resolveTaps(style, raw, spec.taps));
    const image = await readHeatmapImage(spec.image, spec.workingSize).catch((err) => {
      // Too small to translate: the image is unusable, not the spec.
      if (err instanceof HeatmapError)
        throw Object.assign(new Error(err.message), { name: 'ImageReadError' });
      throw err;
    });
    const { point } = spec;
    if (point) checked(() => checkPoint(point, image.width, image.height));
    onEvent({ type: 'image', width: image.width, height: image.height, working: image.working });
    const session = await HeatmapSession.create(style, image, { raw, onnx });
    onEvent({ type: 'features', mode: session.mode });
    const on = spec.queryOn;
    const opts = { opacity: spec.opacity, panelSize: spec.panelSize };
    let png: Buffer;
    if (spec.grid !== undefined) {
      await session.load(taps);
      png = await renderGrid(session, { ...opts, n: spec.grid, on, taps });
      onEvent({ type: 'grid', n: spec.grid, taps });
    } else {
      const p = point;
      if (!p) throw new HeatmapSpecError('give a query point or a grid');
      // One tap at a time: the session then holds one tap's features at once, not all.
      const maps: SimilarityMap[] = [];
      for (const tap of taps) {
        await session.load([tap]);
        maps.push(session.query(p, { on, taps: [tap] })[0]);
      }
      for (const map of maps) onEvent({ type: 'match', map });
      png = await renderHeatmaps(session, maps, on, opts);
    }
    await writeFileAtomic(spec.out, png, { protect: [spec.image] });
  } finally {
    style.dispose();
  }
}
