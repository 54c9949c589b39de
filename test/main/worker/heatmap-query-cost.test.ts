// What one heatmap query costs inside the studio's heatmap job (runHeatmap, as the engine
// process runs it for the Heatmaps view), to size hover: a session opened once on a 1024×576
// image, then points queried one after another at the deepest and the shallowest tap. Each
// query is the session's dot product plus the map blended over the input and written as a
// PNG; the times are printed, not asserted (they depend on the machine and its load). The
// style is tiny (ngf 2, H of dimension 8): the dot product grows with the style's H, the
// blending and the PNG do not (test/bench/README.md gives the dot product for a full style).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainOptions, type NceTap } from '../../../shared/options';
import { initBackend } from '../../../main/engine/backend';
import { ResnetGenerator, tapChannels } from '../../../main/engine/model/generator';
import { disposeParams } from '../../../main/engine/model/params';
import { ProjectionHead } from '../../../main/engine/model/patch-sampler';
import { Rng } from '../../../main/engine/rng';
import { saveStyle } from '../../../main/engine/train/style';
import { runHeatmap } from '../../../main/worker/heatmap-job';
import { writeImage } from '../services/convert/files';
import { UNTRAINED_SUMMARY } from '../../support/tiny-style';

let root: string;
let style: string;
let image: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-heatmap-cost-'));
  style = path.join(root, 'style');
  image = path.join(root, 'photo.png');
  await initBackend('wasm');
  const options = resolveTrainOptions({ preset: 'fastcut', ngf: 2, nBlocks: 1 });
  const taps = options.nceTaps as NceTap[];
  const generator = ResnetGenerator.create({ ngf: 2, nBlocks: 1 }, 0.5, new Rng(3));
  const head = ProjectionHead.create(
    taps.map((t) => tapChannels(t, 2)),
    8,
    0.5,
    new Rng(4),
  );
  await saveStyle(style, {
    name: 'Tiny',
    options,
    generator,
    training: UNTRAINED_SUMMARY,
    previews: [],
    head,
  });
  disposeParams(generator.params);
  disposeParams(head.params);
  await writeImage(image, 5, 1024, 576);
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('a heatmap query in the studio’s heatmap job', () => {
  it('answers points of an open session with a map; prints what a query costs', async () => {
    const spec = {
      styleDir: style,
      image,
      point: null,
      tap: null,
      outDir: path.join(root, 'maps'),
      backend: 'wasm' as const,
    };
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
