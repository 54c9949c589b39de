/**
 * The heatmap view's requests: open an image under a style, ask where a point's patch looks
 * (one point, or a grid of them). Each runs in the heatmap engine process, one at a time (a
 * click while one is computed waits for it); that process keeps the translated image between
 * requests, and writes its pictures to the heatmap cache (cache-folder.ts).
 */
import { promises as fs } from 'node:fs';
import type { HeatmapJobResult } from '../../../../shared/ipc-worker';
import { findTrainedStyle } from '../../style-library';
import type { Handlers, StudioContext } from '../context';
import { newJobId } from '../job-queue';
import { RequestError } from '../request-error';

type HeatmapChannel = 'heatmap:open' | 'heatmap:query' | 'heatmap:grid';

type HeatmapQuery =
  | { x: number; y: number; tap: string | null; opacity?: number }
  | { grid: number; tap: string | null; opacity?: number }
  | null;

export function heatmapRoutes(ctx: StudioContext): Handlers<HeatmapChannel> {
  return {
    'heatmap:open': (input) => heatmap(ctx, input.styleId, input.image, null),
    'heatmap:query': (input) => {
      const { styleId, image, x, y, tap, opacity } = input;
      return heatmap(ctx, styleId, image, { x, y, tap: tap ?? null, opacity });
    },
    'heatmap:grid': (input) => {
      const { styleId, image, n, tap, opacity } = input;
      return heatmap(ctx, styleId, image, { grid: n, tap: tap ?? null, opacity });
    },
  };
}

async function heatmap(
  ctx: StudioContext,
  styleId: string,
  image: string,
  query: HeatmapQuery,
): Promise<HeatmapJobResult> {
  const engine = ctx.heatmaps;
  if (!engine) {
    throw new RequestError('unsupported', 'heatmaps are not available here');
  }
  const { dir } = await findTrainedStyle(ctx.opts.libraryDir, styleId);
  const file = await ctx.paths.allowed(image, 'image');
  const stat = await fs.stat(file).catch(() => null);
  if (!stat?.isFile()) {
    const problem = stat
      ? 'is a folder, not an image'
      : 'is not there (moved, renamed or deleted?)';
    throw new RequestError('rejected', `${file} ${problem}`, [{ path: 'image', message: problem }]);
  }
  // Made private (or refused) here: the engine process only writes into it.
  const outDir = await ctx.cache.ready('heatmaps');
  const result = await engine.run({
    type: 'heatmap',
    jobId: `heatmap-${newJobId()}`,
    spec: {
      styleDir: dir,
      image: file,
      point: query && 'x' in query ? { x: query.x, y: query.y } : null,
      ...(query && 'grid' in query ? { grid: query.grid } : {}),
      tap: query?.tap ?? null,
      ...(query?.opacity !== undefined ? { opacity: query.opacity } : {}),
      outDir,
      backend: ctx.settings().backend,
    },
  });
  if (!result.heatmap) throw new RequestError('internal', 'the engine sent no heatmap');
  return result.heatmap;
}
