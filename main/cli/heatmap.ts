/**
 * `patchwork heatmap`: which patches of the input the style's encoder considers "the same
 * place" as a point of its translation (or the other way round), as a PNG: the query image
 * with the point marked, then one similarity map per tap over the other image, each with its
 * best match marked and a colour bar. `--grid N` queries N×N points instead (the paper's
 * Fig. 5 layout). The best matches are also printed, in the image's own pixel coordinates.
 *
 * Exit codes: 0 written; 1 the style, image or output file is unusable; 2 a usage error
 * (bad flags, a point outside the image, a tap the style does not have).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { ENGINE_CHOICES, type EngineChoice } from '../../shared/convert-options';
import { BACKEND_CHOICES, type TrainBackendChoice } from '../../shared/jobs';
import {
  DEFAULT_WORKING_SIZE,
  HeatmapSpecError,
  runHeatmapPictureJob,
  type HeatmapSide,
  type Point,
  type SimilarityMap,
} from '../jobs/heatmap-picture-job';
import { int, num, oneOf } from './args';
import { EXIT, UsageError } from './errors';

interface HeatmapFlags {
  style: string;
  image: string;
  point?: Point;
  tap?: string[];
  queryOn: HeatmapSide;
  raw?: boolean;
  grid?: number;
  workingSize: number;
  opacity: number;
  panelSize: number;
  backend: TrainBackendChoice;
  engine: EngineChoice;
  out: string;
}

export function registerHeatmap(program: Command): void {
  program
    .command('heatmap')
    .description('Show which input patches the style’s encoder matches to a point of the output.')
    .requiredOption('--style <dir>', 'the style folder (made by `patchwork train`, CUT or SinCUT)')
    .requiredOption('--image <file>', 'the image to translate and look into')
    .requiredOption('--out <file>', 'the picture to write (.png)')
    .option('--point <x,y>', 'the query point in image pixels (0,0 is the top left)', point)
    .option(
      '--tap <name>',
      'encoder tap: input, down1, down2, res1 … (SinCUT: input, down1, res1 …; repeat for ' +
        'several; default: every tap)',
      collect,
    )
    .option(
      '--query-on <image>',
      'which image the point is on: output or input',
      oneOf('--query-on', ['output', 'input'] as const),
      'output',
    )
    .option('--raw', 'raw encoder features (L2-normalised) instead of the projection head')
    .option('--grid <n>', 'query an n×n grid of points instead of one', int('--grid', { min: 1 }))
    .option(
      '--working-size <n>',
      'long side the image is analysed at; never upscaled',
      int('--working-size', { min: 8 }),
      DEFAULT_WORKING_SIZE,
    )
    .option('--opacity <f>', 'opacity of the colour map over the image, 0–1', fraction, 0.65)
    .option(
      '--panel-size <n>',
      'long side of each panel in the picture, pixels',
      int('--panel-size', { min: 16 }),
      512,
    )
    .option(
      '--backend <name>',
      `compute backend: ${BACKEND_CHOICES.join(', ')}`,
      oneOf('--backend', BACKEND_CHOICES),
      'auto',
    )
    .option(
      '--engine <name>',
      `inference engine for the translation and the features: ${ENGINE_CHOICES.join(', ')} ` +
        '(auto: ONNX Runtime where it loads, else TF.js on the backend)',
      oneOf('--engine', ENGINE_CHOICES),
      'auto',
    )
    .action(async (flags: HeatmapFlags) => {
      process.exitCode = await heatmap(flags);
    });
}

function point(value: string): Point {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(value);
  if (!m) throw new UsageError(`--point expects x,y in pixels (e.g. 120,80), got "${value}"`);
  return { x: Number(m[1]), y: Number(m[2]) };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim())].filter(Boolean);
}

function fraction(value: string): number {
  const n = num('--opacity')(value);
  if (n < 0 || n > 1) throw new UsageError(`--opacity must be between 0 and 1, got ${n}`);
  return n;
}

async function heatmap(flags: HeatmapFlags): Promise<number> {
  if (!flags.point && flags.grid === undefined) {
    throw new UsageError('give a query point (--point x,y) or a grid (--grid N)');
  }
  if (path.extname(flags.out).toLowerCase() !== '.png') {
    throw new UsageError(`--out must name a .png file, got "${flags.out}"`);
  }
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const other = flags.queryOn === 'output' ? 'input' : 'output';
  const p = flags.point;
  try {
    await runHeatmapPictureJob(
      {
        styleDir: flags.style,
        image: flags.image,
        ...(p ? { point: p } : {}),
        ...(flags.grid !== undefined ? { grid: flags.grid } : {}),
        taps: flags.tap ?? [],
        queryOn: flags.queryOn,
        raw: flags.raw === true,
        workingSize: flags.workingSize,
        opacity: flags.opacity,
        panelSize: flags.panelSize,
        backend: flags.backend,
        engine: flags.engine,
        out: flags.out,
      },
      (e) => {
        switch (e.type) {
          case 'backend':
            return log(`backend: ${e.detail}`);
          case 'engine':
            return log(`engine: ${e.detail}`);
          case 'no-head':
            return log(
              'note: this style has no projection head (H) — older styles and imported ' +
                'generators have none; using raw encoder features, L2-normalised, instead.',
            );
          case 'image': {
            const { width, height } = e.working;
            const scaled = width !== e.width ? ` (analysed at ${width}×${height})` : '';
            return log(`image: ${e.width}×${e.height}${scaled}; translating and encoding…`);
          }
          case 'features':
            return log(`features: ${e.mode === 'raw' ? 'raw, L2-normalised' : 'projected by H'}`);
          case 'grid':
            return void process.stdout.write(
              `grid of ${e.n}×${e.n} query points on the ${flags.queryOn}, taps ${e.taps.join(', ')}\n`,
            );
          case 'match':
            return void process.stdout.write(`${describe(e.map, p as Point, other)}\n`);
        }
      },
    );
  } catch (err) {
    // A point or tap the user named that does not exist is a usage error (exit 2).
    if (err instanceof HeatmapSpecError) throw new UsageError(err.message);
    throw err;
  }
  process.stdout.write(`wrote ${path.resolve(flags.out)}\n`);
  return EXIT.ok;
}

function describe(m: SimilarityMap, p: Point, other: string): string {
  const at = (q: Point) => `${Math.round(q.x)},${Math.round(q.y)}`;
  const snapped = at(m.query) === at(p) ? '' : ` (nearest ${m.tap} position ${at(m.query)})`;
  return (
    `${m.tap}: ${at(p)}${snapped} → best match ${at(m.best)} on the ${other} ` +
    `(similarity ${m.best.similarity.toFixed(3)}; map ${m.width}×${m.height}, ` +
    `range ${m.min.toFixed(3)} … ${m.max.toFixed(3)})`
  );
}
