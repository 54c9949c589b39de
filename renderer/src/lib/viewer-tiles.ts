/**
 * Which full-resolution tiles the before/after viewer draws (main/services/image-pyramid.ts
 * makes them): none while the preview has enough pixels for the zoom, else the pyramid level whose
 * pixels are at least as fine as the screen's, and of it only the tiles that cover the part of
 * the stage being looked at, nearest the middle first. Positions are in stage pixels: tiles
 * are drawn untransformed over the (transformed) preview, so the browser never scales a
 * rasterised layer up and they stay sharp.
 */
import type { PyramidInfo } from '../../../shared/ipc';

/** The viewer as it is now: stage size, zoom and pan (CSS pixels), device pixel ratio. */
export interface Viewport {
  stageWidth: number;
  stageHeight: number;
  zoom: number;
  panX: number;
  panY: number;
  dpr: number;
}

export interface PlacedTile {
  key: string;
  level: number;
  x: number;
  y: number;
  /** Where it is drawn, in stage pixels. */
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface TileChoice {
  /** null: the preview is fine enough at this zoom, no tiles. */
  level: number | null;
  tiles: PlacedTile[];
}

/** More than this many tiles at once means a wrong level; never asked for. */
export const MAX_TILES = 48;

/**
 * Where the image sits on the stage at zoom 1: fitted inside it, centred (the preview's
 * object-fit: contain), as stage pixels per image pixel and the offset.
 */
export function fitOf(v: Viewport, info: PyramidInfo) {
  const scale = Math.min(v.stageWidth / info.width, v.stageHeight / info.height);
  return {
    scale,
    offsetX: (v.stageWidth - info.width * scale) / 2,
    offsetY: (v.stageHeight - info.height * scale) / 2,
  };
}

/** Where tile (level, x, y) of `info` is drawn in this viewport, in stage pixels. */
export function placeTile(
  v: Viewport,
  info: PyramidInfo,
  level: number,
  x: number,
  y: number,
): PlacedTile {
  const fit = fitOf(v, info);
  const span = info.tileSize * 2 ** level;
  const k = v.zoom * fit.scale; // stage pixels per image pixel
  const ix = x * span;
  const iy = y * span;
  return {
    key: `${level}/${x}/${y}`,
    level,
    x,
    y,
    left: v.panX + k * ix + v.zoom * fit.offsetX,
    top: v.panY + k * iy + v.zoom * fit.offsetY,
    width: k * Math.min(span, info.width - ix),
    height: k * Math.min(span, info.height - iy),
  };
}

/**
 * The tiles to draw for `info` in this viewport, within the stage's columns [from, to)
 * (the before image is seen only left of the split, the after image right of it).
 * `previewLong`: the long side of the preview under the tiles.
 */
export function chooseTiles(
  v: Viewport,
  info: PyramidInfo,
  previewLong: number,
  from = 0,
  to = v.stageWidth,
): TileChoice {
  const none: TileChoice = { level: null, tiles: [] };
  if (v.stageWidth <= 0 || v.stageHeight <= 0 || info.width <= 0 || info.height <= 0) return none;
  const fit = fitOf(v, info);
  // Screen pixels per image pixel.
  const density = v.zoom * fit.scale * Math.max(1, v.dpr);
  const previewDensity = Math.min(1, previewLong / Math.max(info.width, info.height));
  if (density <= previewDensity) return none;
  const level = Math.max(0, Math.min(info.levels - 1, Math.floor(Math.log2(1 / density))));
  // A level no finer than the preview adds nothing.
  if (2 ** -level <= previewDensity) return none;

  // The part of the image in view, in image pixels.
  const toImageX = (sx: number) => ((sx - v.panX) / v.zoom - fit.offsetX) / fit.scale;
  const toImageY = (sy: number) => ((sy - v.panY) / v.zoom - fit.offsetY) / fit.scale;
  const x0 = Math.max(0, toImageX(Math.max(0, from)));
  const x1 = Math.min(info.width, toImageX(Math.min(v.stageWidth, to)));
  const y0 = Math.max(0, toImageY(0));
  const y1 = Math.min(info.height, toImageY(v.stageHeight));
  if (x1 <= x0 || y1 <= y0) return { level, tiles: [] };

  const span = info.tileSize * 2 ** level; // image pixels per tile
  const cols = Math.ceil(Math.ceil(info.width / 2 ** level) / info.tileSize);
  const rows = Math.ceil(Math.ceil(info.height / 2 ** level) / info.tileSize);
  const c0 = Math.max(0, Math.floor(x0 / span));
  const c1 = Math.min(cols - 1, Math.ceil(x1 / span) - 1);
  const r0 = Math.max(0, Math.floor(y0 / span));
  const r1 = Math.min(rows - 1, Math.ceil(y1 / span) - 1);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const tiles: (PlacedTile & { d: number })[] = [];
  for (let y = r0; y <= r1; y++) {
    for (let x = c0; x <= c1; x++) {
      const ix = x * span;
      const iy = y * span;
      const iw = Math.min(span, info.width - ix);
      const ih = Math.min(span, info.height - iy);
      const d = (ix + iw / 2 - cx) ** 2 + (iy + ih / 2 - cy) ** 2;
      tiles.push({ ...placeTile(v, info, level, x, y), d });
    }
  }
  tiles.sort((a, b) => a.d - b.d);
  return { level, tiles: tiles.slice(0, MAX_TILES).map(({ d: _, ...t }) => t) };
}
