/**
 * Bench case `seams`: the full elephants photo (5640×3172, 17.9 Mpx) translated tiled by the
 * paper's generator (ngf 64, 9 blocks; seeded random weights, as speed and seams do not depend
 * on training) at the default memory budget, in this process: time, Mpx/s, peak RSS against
 * the budget, and whether tile borders show. Untiled is out of reach here (one 64-channel
 * full-resolution map is 4.6 GB, over the wasm heap), so the seam check compares the output's
 * own statistics: the mean absolute step between neighbouring columns (rows) that straddle a
 * tile border of the last pass, against the same statistic over every column (row) and over
 * the columns (rows) near the borders. A seam is a step that only borders have.
 *
 * `--quick`: a 1410×793 crop of the photo (a quarter of each side), same network and budget.
 * `--budget MIB`: another budget (the default is the engine's, 1024 MiB).
 * `--engine onnx`: the tiles on ONNX Runtime (its own memory model and pass graphs) instead of
 * TF.js.
 */
import sharp from 'sharp';
import { initBackend, type BackendName } from '../../main/engine/backend';
import { pixelsToFloat } from '../../main/engine/data/image-io';
import {
  DEFAULT_MEMORY_BUDGET_MB,
  translateTiled,
  type TiledOptions,
} from '../../main/engine/infer/tiled-generator';
import type { RgbFloatImage } from '../../main/engine/infer/translate';
import { ResnetGenerator } from '../../main/engine/model/generator';
import { chooseEngine } from '../../main/engine/onnx/engine-choice';
import { ortTranslator } from '../../main/engine/onnx/ort-translate';
import { Rng } from '../../main/engine/rng';
import { ELEPHANTS } from './convert.bench';
import type { BenchArgs } from './index';
import { header, loadLine, machineLines, peakRssMiB, seconds, table } from './machine';

/** Mean |out[i] − out[i − 1]| over the line pairs straddling position i, all channels. */
function stepAcross(im: RgbFloatImage, axis: 'x' | 'y', i: number): number {
  const { width, height, data } = im;
  let sum = 0;
  const n = axis === 'x' ? height : width;
  for (let j = 0; j < n; j++) {
    const a = axis === 'x' ? (j * width + i) * 3 : (i * width + j) * 3;
    const b = axis === 'x' ? a - 3 : a - width * 3;
    for (let c = 0; c < 3; c++) sum += Math.abs(data[a + c] - data[b + c]);
  }
  return (sum / (n * 3)) * 127.5; // on 0–255
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function run(args: BenchArgs): Promise<void> {
  const backend = (args.backend ?? 'wasm') as BackendName;
  const report = await initBackend(backend);
  if (args.engine !== undefined && args.engine !== 'onnx' && args.engine !== 'tfjs') {
    throw new Error(`--engine takes onnx or tfjs, not "${args.engine}"`);
  }
  const onOrt = args.engine === 'onnx';
  const ort = onOrt ? await chooseEngine('onnx', 'resnet') : null;
  if (ort && ort.engine !== 'onnx') throw new Error(`ONNX Runtime: ${ort.detail}`);
  let pipeline = sharp(ELEPHANTS).rotate().removeAlpha();
  if (args.quick) pipeline = pipeline.extract({ left: 2115, top: 1189, width: 1410, height: 793 });
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const { rgb } = pixelsToFloat(
    { data, width: info.width, height: info.height, channels: info.channels as 3 | 4 },
    8,
  );
  const image = { data: rgb, width: info.width, height: info.height };
  const mpx = (image.width * image.height) / 1e6;
  const budget = args.budgetMB ?? DEFAULT_MEMORY_BUDGET_MB;
  console.log(
    header('seams: the elephants photo, tiled, at the paper configuration', [
      ...machineLines(),
      ['engine', ort ? `ONNX Runtime: ${ort.detail}` : `TF.js: ${report.detail}`],
      [
        'image',
        `${image.width}×${image.height} (${mpx.toFixed(1)} Mpx)${args.quick ? ', quick: centre crop' : ''}`,
      ],
      ['generator', 'ngf 64, 9 blocks (paper), seeded random weights (xavier gain 0.02)'],
      [
        'budget',
        `${budget} MiB${args.budgetMB ? '' : ' (default)'} for the whole process (what it ` +
          'holds already, the images, tiles, stored maps), tile size chosen by the budget',
      ],
    ]),
  );
  const G = ResnetGenerator.create({ ngf: 64, nBlocks: 9 }, 0.02, new Rng(7));
  const tiles: number[] = [];
  let lastLog = 0;
  // The peak so far (decoding the photo included), to tell it apart from the translation's.
  const before = { rss: process.memoryUsage().rss / 2 ** 20, peak: peakRssMiB() };
  const t0 = performance.now();
  const translator =
    ort?.engine === 'onnx' ? ortTranslator(G, { provider: ort.provider }) : undefined;
  const tiled = translator
    ? translator.translateTiled
    : (im: RgbFloatImage, opts: TiledOptions) => translateTiled(G, im, opts);
  const out = await tiled(image, {
    memoryBudgetMB: budget,
    onPassTile: (pass, tile) => (tiles[pass] = tile),
    onProgress: (done, total) => {
      const now = performance.now();
      if (now - lastLog > 60_000) {
        lastLog = now;
        console.error(
          `  tile ${done}/${total}, ${((now - t0) / 1000).toFixed(0)} s; load ${loadLine()}`,
        );
      }
    },
  });
  const s = (performance.now() - t0) / 1000;
  await translator?.dispose();
  const rss = peakRssMiB();
  const last = tiles[tiles.length - 1];
  const rows: string[][] = [];
  for (const axis of ['x', 'y'] as const) {
    const extent = axis === 'x' ? out.width : out.height;
    const borders: number[] = [];
    for (let b = last; b < extent; b += last) borders.push(b);
    const near = borders.flatMap((b) =>
      [-8, -4, -2, -1, 1, 2, 4, 8].map((d) => b + d).filter((i) => i > 0 && i < extent),
    );
    const all = Array.from({ length: extent - 1 }, (_, k) => k + 1);
    const atBorders = mean(borders.map((b) => stepAcross(out, axis, b)));
    const nearBorders = mean(near.map((i) => stepAcross(out, axis, i)));
    const everywhere = mean(all.map((i) => stepAcross(out, axis, i)));
    rows.push([
      axis === 'x' ? 'columns' : 'rows',
      String(borders.length),
      atBorders.toFixed(4),
      nearBorders.toFixed(4),
      everywhere.toFixed(4),
      `${((atBorders / everywhere - 1) * 100).toFixed(2)} %`,
    ]);
  }
  console.log();
  console.log(
    table(
      [
        'mode',
        's',
        'Mpx/s',
        'RSS before MiB',
        'peak before MiB',
        'peak RSS MiB',
        'budget MiB',
        'tile per pass',
        'load after',
      ],
      [
        [
          'tiled',
          seconds(s),
          (mpx / s).toFixed(4),
          before.rss.toFixed(0),
          before.peak.toFixed(0),
          rss > before.peak ? rss.toFixed(0) : `≤ ${before.peak.toFixed(0)} (decoding's)`,
          String(budget),
          tiles.join(' / '),
          loadLine(),
        ],
      ],
    ),
  );
  console.log();
  console.log(
    table(
      [
        'lines',
        'tile borders',
        'mean |step| at borders (0–255)',
        '±1–8 px from borders',
        'all lines',
        'borders vs all',
      ],
      rows,
    ),
  );
  console.log(
    '\nA seam would make the step at borders stand out from its neighbours and from all lines.',
  );
}

export const seamsCase = {
  summary: 'elephants 17.9 Mpx, paper generator, tiled: time, peak RSS vs budget, seam statistics',
  run,
};
