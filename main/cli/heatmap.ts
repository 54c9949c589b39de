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
import { BACKEND_CHOICES } from '../../shared/jobs';
import { initBackend, type BackendPreference } from '../engine/backend';
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
import { renderGrid, renderHeatmaps } from '../engine/infer/heatmap-render';
import { openHeatmapStyle } from '../engine/style/open-heatmap';
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
  backend: BackendPreference;
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
  const backend = await initBackend(flags.backend);
  log(`backend: ${backend.detail}`);
  const style = await openHeatmapStyle(flags.style);
  try {
    let raw = flags.raw === true;
    if (!raw && style.head === null) {
      log(
        'note: this style has no projection head (H) — older styles and imported generators ' +
          'have none; using raw encoder features, L2-normalised, instead.',
      );
      raw = true;
    }
    const taps = usage(() => resolveTaps(style, raw, flags.tap ?? []));
    const image = await readHeatmapImage(flags.image, flags.workingSize).catch((err) => {
      // Too small to translate: the image is unusable, not the flags.
      if (err instanceof HeatmapError)
        throw Object.assign(new Error(err.message), { name: 'ImageReadError' });
      throw err;
    });
    if (flags.point) {
      const p = flags.point;
      usage(() => checkPoint(p, image.width, image.height));
    }
    const { width, height } = image.working;
    const scaled = width !== image.width ? ` (analysed at ${width}×${height})` : '';
    log(`image: ${image.width}×${image.height}${scaled}; translating and encoding…`);
    const session = await HeatmapSession.create(style, image, { raw });
    log(`features: ${session.mode === 'raw' ? 'raw, L2-normalised' : 'projected by H'}`);
    const on = flags.queryOn;
    const other = on === 'output' ? 'input' : 'output';
    const opts = { opacity: flags.opacity, panelSize: flags.panelSize };
    let png: Buffer;
    if (flags.grid !== undefined) {
      png = await renderGrid(session, { ...opts, n: flags.grid, on, taps });
      process.stdout.write(
        `grid of ${flags.grid}×${flags.grid} query points on the ${on}, taps ${taps.join(', ')}\n`,
      );
    } else {
      const p = flags.point as Point;
      // One tap at a time: the session then holds one tap's features at once, not all.
      const maps = taps.map((tap) => session.query(p, { on, taps: [tap] })[0]);
      for (const m of maps) process.stdout.write(`${describe(m, p, other)}\n`);
      png = await renderHeatmaps(session, maps, on, opts);
    }
    await writeFileAtomic(flags.out, png, { protect: [flags.image] });
    process.stdout.write(`wrote ${path.resolve(flags.out)}\n`);
    return EXIT.ok;
  } finally {
    style.dispose();
  }
}

/** A point or tap the user named that does not exist is a usage error (exit 2). */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof HeatmapError) throw new UsageError(err.message);
    throw err;
  }
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
