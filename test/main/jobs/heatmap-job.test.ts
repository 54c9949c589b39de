// The studio's heatmap job (runHeatmap, as the engine process runs it) opens a SinCUT style as
// `patchwork heatmap` does (openHeatmapStyle): its taps, a point's map written as a PNG over
// the input, the best match given in the image's pixels.
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/backend';
import { runHeatmap } from '../../../main/jobs/heatmap-job';
import { writeImage } from './convert/files';
import { openHeatmapSpec } from '../../support/heatmap-spec';
import { useTempDir } from '../../support/temp-dir';
import { saveTinySinCutStyle } from '../../support/tiny-sincut-style';

const tmp = useTempDir('patchwork-worker-heatmap-');
let style: string;
let image: string;

beforeAll(async () => {
  await initBackend('wasm');
  style = tmp.path('sincut');
  image = tmp.path('photo.png');
  await saveTinySinCutStyle(style);
  await writeImage(image, 4, 40, 28);
});

describe('runHeatmap with a SinCUT style', () => {
  it('opens the style and image, then answers a point with a map over the input', async () => {
    const spec = openHeatmapSpec(style, image, tmp.path('maps'));
    const opened = await runHeatmap(spec);
    expect(opened).toMatchObject({
      width: 40,
      height: 28,
      taps: ['input', 'down1', 'res1'],
      mode: 'projected',
    });
    expect((await sharp(opened.output).metadata()).width).toBe(40);
    const r = await runHeatmap({ ...spec, point: { x: 21, y: 9 } });
    expect(r.map?.tap).toBe('res1'); // the deepest tap by default
    expect(r.map?.query).toEqual({ x: 22, y: 10 }); // res1's position 11,5: stride 2, on pixel 2j
    expect(r.map!.best.similarity).toBeCloseTo(r.map!.max, 6);
    expect(r.map!.best.x).toBeGreaterThanOrEqual(0);
    expect(r.map!.best.x).toBeLessThan(40);
    const meta = await sharp(r.map!.file).metadata();
    expect([meta.width, meta.height]).toEqual([40, 28]);
  });

  // Heatmaps show the artist's image: cached 0600, as the other caches (issue 19, item 3).
  it.runIf(process.platform !== 'win32')('writes its pictures 0600', async () => {
    // Another image, so the job opens a new session and makes the folder itself.
    const other = tmp.path('other.png');
    await writeImage(other, 5, 40, 28);
    const spec = openHeatmapSpec(style, other, tmp.path('private-maps'));
    const opened = await runHeatmap(spec);
    const r = await runHeatmap({ ...spec, point: { x: 5, y: 5 } });
    const grid = await runHeatmap({ ...spec, grid: 2 });
    for (const file of [opened.input, opened.output, r.map!.file, grid.grid!.file]) {
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    }
    expect((await stat(tmp.path('private-maps'))).mode & 0o777).toBe(0o700);
  });
});
