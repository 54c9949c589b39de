// What one heatmap query costs inside the studio's heatmap job (runHeatmap, as the engine
// process runs it for the Heatmaps view), to size hover: a session opened once on a 1024×576
// image, then points queried one after another at the deepest and the shallowest tap. Each
// query is the session's dot product plus the map blended over the input and written as a
// PNG; the times are printed, not asserted (they depend on the machine and its load). The
// style is tiny (ngf 2, H of dimension 8): the dot product grows with the style's H, the
// blending and the PNG do not (test/bench/README.md gives the dot product for a full style).
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/backend';
import { runHeatmap } from '../../../main/jobs/heatmap-job';
import { writeImage } from './convert/files';
import { openHeatmapSpec } from '../../support/heatmap-spec';
import { useTempDir } from '../../support/temp-dir';
import { saveTinyCutStyle } from '../../support/tiny-cut-style';

const tmp = useTempDir('patchwork-heatmap-cost-');
let style: string;
let image: string;

beforeAll(async () => {
  style = tmp.path('style');
  image = tmp.path('photo.png');
  await initBackend('wasm');
  await saveTinyCutStyle(style);
  await writeImage(image, 5, 1024, 576);
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('a heatmap query in the studio’s heatmap job', () => {
  it('answers points of an open session with a map; prints what a query costs', async () => {
    const spec = openHeatmapSpec(style, image, tmp.path('maps'));
    let t = performance.now();
    const opened = await runHeatmap(spec);
    const openMs = performance.now() - t;
    expect([opened.workingWidth, opened.workingHeight]).toEqual([1024, 576]);
    const lines = [`open (translate + features) ${openMs.toFixed(0)} ms`];
    for (const tap of [opened.taps[opened.taps.length - 1], opened.taps[0]]) {
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        t = performance.now();
        const r = await runHeatmap({ ...spec, tap, point: { x: 100 + i * 120, y: 50 + i * 70 } });
        times.push(performance.now() - t);
        expect(r.map?.tap).toBe(tap);
        expect((await sharp(r.map!.file).metadata()).width).toBe(1024);
      }
      lines.push(
        `${tap}: median ${median(times).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms`,
      );
    }
    process.stdout.write(`heatmap query cost (1024×576, tiny style):\n  ${lines.join('\n  ')}\n`);
  });
});
