/** The studio's heatmap job as it opens a session: the style and image, no point yet, wasm. */
import type { HeatmapJobSpec } from '../../shared/ipc-worker';

export function openHeatmapSpec(styleDir: string, image: string, outDir: string): HeatmapJobSpec {
  return { styleDir, image, point: null, tap: null, outDir, backend: 'wasm' };
}
