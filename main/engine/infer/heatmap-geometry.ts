/**
 * Where a heatmap looks (heatmap.ts's module comment has the full account): the working
 * resolution an image is read at, each tap's grid of positions and stride, the mapping of
 * full-image points to tap positions and back through pixel centres, and which taps a style
 * offers. Pure arithmetic apart from reading the working image; the session (heatmap.ts)
 * computes and compares the features.
 */
import type { NceTap } from '../../../shared/options';
import { openImage, resizeForTraining, type ReadOptions } from '../data/image-io';
import type { ResnetGenerator } from '../model/generator';
import type { ProjectionHead } from '../model/projection-head';
import { StyleGan2Generator } from '../model/stylegan2-generator';
import { MIN_SIDE, type RgbFloatImage } from './translate';

export const DEFAULT_WORKING_SIZE = 1024;

export type HeatmapErrorCode = 'point-outside' | 'unknown-tap' | 'image-too-small';

/** A query or session the user can fix: a point off the image, a tap the style lacks. */
export class HeatmapError extends Error {
  constructor(
    readonly code: HeatmapErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HeatmapError';
  }
}

/** CUT's generator (CUT styles, SinCUT's ResNet variant) or SinCUT's StyleGAN2 generator. */
export type HeatmapGenerator = ResnetGenerator | StyleGan2Generator;

/** Whose taps and strides: CUT's ResNet encoder or SinCUT's StyleGAN2 encoder. */
export type EncoderKind = 'resnet' | 'stylegan2';

export function encoderKind(G: HeatmapGenerator): EncoderKind {
  return G instanceof StyleGan2Generator ? 'stylegan2' : 'resnet';
}

/** What a session needs from a loaded style (LoadedStyle fits). */
export interface HeatmapStyle {
  generator: HeatmapGenerator;
  head: ProjectionHead | null;
  /** The taps the head projects, in its MLP order. */
  headTaps: NceTap[];
  /** Seed of the StyleGAN2 generator's position-based noise (a SinCUT style's; default NOISE_SEED). */
  noiseSeed?: number;
}

/** Where a tap's positions lie: `width`×`height` positions, one per `stride` working pixels. */
export interface TapGrid {
  tap: NceTap;
  width: number;
  height: number;
  stride: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface MatchPoint extends Point {
  /** The position in the tap's grid. */
  tapX: number;
  tapY: number;
}

/** The working size for a full size: long side at most `workingSize`, aspect kept. */
export function workingSizeFor(
  width: number,
  height: number,
  workingSize = DEFAULT_WORKING_SIZE,
): { width: number; height: number } {
  const s = Math.min(1, workingSize / Math.max(width, height));
  return {
    width: Math.max(1, Math.round(width * s)),
    height: Math.max(1, Math.round(height * s)),
  };
}

export interface HeatmapImage {
  /** The image at the working resolution. */
  working: RgbFloatImage;
  /** The full (upright) image size. */
  width: number;
  height: number;
}

/**
 * Reads an image straight to the working resolution (one sharp pipeline: orientation, sRGB,
 * bicubic resize), so a huge file never exists as floats; image-io's pixel limit guards
 * against decompression bombs.
 */
export async function readHeatmapImage(
  file: string,
  workingSize = DEFAULT_WORKING_SIZE,
  opts: ReadOptions = {},
): Promise<HeatmapImage> {
  const image = await openImage(file, opts);
  const { width, height } = image.info;
  const size = workingSizeFor(width, height, workingSize);
  checkWorkingSize(size, width, height);
  const crop = { left: 0, top: 0, width: size.width, height: size.height };
  const out = await resizeForTraining(image, { resize: size, crop, flip: false }, opts);
  return { working: { data: out.data, width: out.width, height: out.height }, width, height };
}

export function checkWorkingSize(
  size: { width: number; height: number },
  w: number,
  h: number,
): void {
  if (size.width < MIN_SIDE || size.height < MIN_SIDE) {
    throw new HeatmapError(
      'image-too-small',
      `the image is ${w}×${h}; at the working resolution it would be ` +
        `${size.width}×${size.height}, and at least ${MIN_SIDE}×${MIN_SIDE} is needed`,
    );
  }
}

/** Working pixels per tap position. */
export function tapStride(tap: NceTap, kind: EncoderKind = 'resnet'): number {
  if (tap === 'input') return 1;
  if (kind === 'stylegan2') return 2; // down1 and the residual blocks: half resolution
  if (tap === 'down1') return 1;
  if (tap === 'down2') return 2;
  return 4;
}

export function tapGrid(
  tap: NceTap,
  workingWidth: number,
  workingHeight: number,
  kind: EncoderKind = 'resnet',
): TapGrid {
  const stride = tapStride(tap, kind);
  return {
    tap,
    stride,
    width: Math.ceil(workingWidth / stride),
    height: Math.ceil(workingHeight / stride),
  };
}

/** Full-image ↔ working ↔ tap coordinates of one session. */
export class CoordinateMap {
  readonly scaleX: number;
  readonly scaleY: number;

  constructor(
    readonly fullWidth: number,
    readonly fullHeight: number,
    readonly workingWidth: number,
    readonly workingHeight: number,
  ) {
    this.scaleX = fullWidth / workingWidth;
    this.scaleY = fullHeight / workingHeight;
  }

  /** The tap position whose centre is nearest a full-image point. */
  toTap(p: Point, grid: TapGrid): { tapX: number; tapY: number } {
    const wx = (p.x + 0.5) / this.scaleX - 0.5;
    const wy = (p.y + 0.5) / this.scaleY - 0.5;
    return {
      tapX: clamp(Math.round(wx / grid.stride), 0, grid.width - 1),
      tapY: clamp(Math.round(wy / grid.stride), 0, grid.height - 1),
    };
  }

  /** The full-image coordinates of a tap position's centre (inside the image). */
  fromTap(tapX: number, tapY: number, grid: TapGrid): MatchPoint {
    const wx = Math.min(tapX * grid.stride, this.workingWidth - 1);
    const wy = Math.min(tapY * grid.stride, this.workingHeight - 1);
    return {
      x: clamp((wx + 0.5) * this.scaleX - 0.5, 0, this.fullWidth - 1),
      y: clamp((wy + 0.5) * this.scaleY - 0.5, 0, this.fullHeight - 1),
      tapX,
      tapY,
    };
  }
}

/** v within [lo, hi]; Math.max also turns −0 (from rounding −0.4) into 0. */
function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}

/** A HeatmapError unless the point lies on a width×height image. */
export function checkPoint(p: Point, w: number, h: number): void {
  const inside =
    Number.isFinite(p.x) && Number.isFinite(p.y) && p.x >= 0 && p.y >= 0 && p.x < w && p.y < h;
  if (!inside) {
    throw new HeatmapError(
      'point-outside',
      `the point ${p.x},${p.y} is outside the ${w}×${h} image ` +
        `(x from 0 to ${w - 1}, y from 0 to ${h - 1})`,
    );
  }
}

/** The taps a session can query: the head's, or with raw features every encoder tap. */
export function availableTaps(style: HeatmapStyle, raw = false): NceTap[] {
  if (raw || style.head === null) {
    return generatorTaps(style.generator.config.nBlocks, encoderKind(style.generator));
  }
  return [...style.headTaps];
}

/**
 * The taps a query will use: `requested` (names checked against what the style offers) or,
 * when none are given, every available tap.
 */
export function resolveTaps(
  style: HeatmapStyle,
  raw: boolean,
  requested: readonly string[] = [],
): NceTap[] {
  const available = availableTaps(style, raw);
  const mode = raw || style.head === null ? 'raw' : 'projected';
  for (const t of requested) {
    if (!(available as string[]).includes(t)) throw unknownTap(t, available, mode);
  }
  return requested.length ? [...new Set(requested as NceTap[])] : available;
}

export function unknownTap(
  tap: string,
  available: NceTap[],
  mode: 'raw' | 'projected',
): HeatmapError {
  const why =
    mode === 'projected' ? 'the style’s projection head covers' : 'the generator’s encoder has';
  const hint = mode === 'projected' ? ' (with raw features, every encoder tap)' : '';
  return new HeatmapError(
    'unknown-tap',
    `unknown tap "${tap}": ${why} ${available.join(', ')}${hint}`,
  );
}

/**
 * Every tap of a generator with `nBlocks` residual blocks, shallow to deep: CUT's input, down1,
 * down2, res1 … resN; the StyleGAN2 encoder's input, down1, res1 … res(N/2).
 */
export function generatorTaps(nBlocks: number, kind: EncoderKind = 'resnet'): NceTap[] {
  const taps: NceTap[] = kind === 'resnet' ? ['input', 'down1', 'down2'] : ['input', 'down1'];
  const blocks = kind === 'resnet' ? nBlocks : Math.floor(nBlocks / 2);
  for (let i = 1; i <= blocks; i++) taps.push(`res${i}`);
  return taps;
}
