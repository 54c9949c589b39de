/**
 * Heatmaps as pictures (heatmap.ts computes them as data). A similarity map is drawn over the
 * image it covers in a perceptually uniform colour map (viridis: lightness rises steadily from
 * dark purple to yellow, so equal steps of similarity look like equal steps), at an adjustable
 * opacity, with the query point and the best match marked and a colour bar with the minimum
 * and maximum beside it. Two layouts:
 *
 *   single  [query image, point marked] [tap 1 over the other image] [tap 2 …] …
 *           each map with its own colour bar (its own min and max);
 *   grid    the paper's Fig. 5 idea: N×N query points on a grid over the query image (left,
 *           numbered) and, on the right, one small map per point, in the same arrangement,
 *           all on one shared colour scale; one such row per tap.
 *
 * Pixels are blended in JS; sharp resizes the images to panel size and composites the panels
 * and one SVG layer (labels, markers, legend text) into the PNG.
 */
import sharp from 'sharp';
import type { NceTap } from '../../../shared/options';
import type { HeatmapSession, HeatmapSide, Point, SimilarityMap } from './heatmap';
import type { RgbFloatImage } from './translate';

/**
 * Viridis (van der Walt & Smith, matplotlib's default map) as nine evenly spaced sRGB stops,
 * 0 → 1; the map between them is linear interpolation in sRGB.
 */
export const VIRIDIS_STOPS: readonly (readonly [number, number, number])[] = [
  [0x44, 0x01, 0x54],
  [0x47, 0x2d, 0x7b],
  [0x3b, 0x52, 0x8b],
  [0x2c, 0x72, 0x8e],
  [0x21, 0x91, 0x8c],
  [0x28, 0xae, 0x80],
  [0x5e, 0xc9, 0x62],
  [0xad, 0xdc, 0x30],
  [0xfd, 0xe7, 0x25],
];

/** 256 RGB entries interpolated from the stops: entry i is the colour of i/255. */
export function colourTable(stops = VIRIDIS_STOPS): Uint8Array {
  const table = new Uint8Array(256 * 3);
  const last = stops.length - 1;
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * last;
    const a = Math.min(Math.floor(t), last - 1);
    const f = t - a;
    for (let c = 0; c < 3; c++) {
      table[i * 3 + c] = Math.round(stops[a][c] * (1 - f) + stops[a + 1][c] * f);
    }
  }
  return table;
}

const VIRIDIS = colourTable();

export interface RenderOptions {
  /** Opacity of the colour map over the image, 0–1 (default 0.65). */
  opacity?: number;
  /** Long side of each panel in pixels (default 512; never above the working size). */
  panelSize?: number;
}

export interface GridOptions extends RenderOptions {
  /** Query points per side (N×N in all). */
  n: number;
  on?: HeatmapSide;
  taps?: readonly NceTap[];
}

const FONT = 'DejaVu Sans, Verdana, sans-serif';
const MARGIN = 8;
const LABEL_H = 22;
const BAR_H = 12;
const LEGEND_H = BAR_H + 20;
const BACKGROUND = { r: 24, g: 24, b: 24 };

interface Panel {
  pixels: Uint8Array;
  width: number;
  height: number;
  left: number;
  top: number;
}

/** A picture being assembled: raw panels plus SVG drawn over everything. */
class Canvas {
  readonly panels: Panel[] = [];
  readonly svg: string[] = [];

  add(p: Panel): void {
    this.panels.push(p);
  }

  text(x: number, y: number, s: string, anchor: 'start' | 'middle' | 'end' = 'start', size = 13) {
    this.svg.push(
      `<text x="${x}" y="${y}" font-family="${FONT}" font-size="${size}" fill="#eee" ` +
        `text-anchor="${anchor}">${escapeXml(s)}</text>`,
    );
  }

  /** A ring: the query (white) or the best match (red). */
  marker(x: number, y: number, kind: 'query' | 'best', r = 7): void {
    const colour = kind === 'query' ? '#ffffff' : '#ff2d55';
    this.svg.push(
      `<circle cx="${x}" cy="${y}" r="${r}" fill="none" stroke="#000" stroke-width="4"/>` +
        `<circle cx="${x}" cy="${y}" r="${r}" fill="none" stroke="${colour}" stroke-width="2"/>`,
    );
  }

  /** A colour bar `width` wide with its range written under the ends. */
  legend(left: number, top: number, width: number, lo: number, hi: number, title: string) {
    const pixels = new Uint8Array(width * BAR_H * 3);
    for (let x = 0; x < width; x++) {
      const i = Math.round((x / Math.max(1, width - 1)) * 255) * 3;
      for (let y = 0; y < BAR_H; y++) pixels.set(VIRIDIS.subarray(i, i + 3), (y * width + x) * 3);
    }
    this.add({ pixels, width, height: BAR_H, left, top });
    const y = top + BAR_H + 14;
    this.text(left, y, formatValue(lo), 'start', 12);
    this.text(left + width / 2, y, title, 'middle', 12);
    this.text(left + width, y, formatValue(hi), 'end', 12);
  }

  async png(width: number, height: number): Promise<Buffer> {
    const layers: sharp.OverlayOptions[] = this.panels.map((p) => ({
      input: Buffer.from(p.pixels.buffer, p.pixels.byteOffset, p.pixels.byteLength),
      raw: { width: p.width, height: p.height, channels: 3 },
      left: p.left,
      top: p.top,
    }));
    const svg =
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `${this.svg.join('')}</svg>`;
    layers.push({ input: Buffer.from(svg), left: 0, top: 0 });
    return sharp({ create: { width, height, channels: 3, background: BACKGROUND } })
      .composite(layers)
      .png({ compressionLevel: 6 })
      .toBuffer();
  }
}

// ─── single query ──────────────────────────────────────────────────────────────────────────

/**
 * The query image with the point marked, then one panel per map: the other image under the
 * map at `opacity`, the best match marked, a colour bar with the map's min and max below.
 */
export async function renderHeatmaps(
  session: HeatmapSession,
  maps: SimilarityMap[],
  on: HeatmapSide,
  opts: RenderOptions = {},
): Promise<Buffer> {
  const opacity = checkOpacity(opts.opacity);
  const size = panelSize(session, opts.panelSize);
  const queryImage = await rgbPanel(on === 'output' ? session.output : session.input, size);
  const other = await rgbPanel(on === 'output' ? session.input : session.output, size);
  const canvas = new Canvas();
  const top = MARGIN + LABEL_H;
  canvas.add({ ...queryImage, left: MARGIN, top });
  canvas.text(MARGIN, MARGIN + 15, `query on the ${on}`);
  if (maps.length) {
    const q = toPanel(session, maps[0].query, size);
    canvas.marker(MARGIN + q.x, top + q.y, 'query');
  }
  for (const [i, map] of maps.entries()) {
    const left = MARGIN + (i + 1) * (size.width + MARGIN);
    const pixels = overlay(other.pixels, size, session, map, map.min, map.max, opacity);
    canvas.add({ pixels, width: size.width, height: size.height, left, top });
    const b = toPanel(session, map.best, size);
    canvas.marker(left + b.x, top + b.y, 'best');
    canvas.text(left, MARGIN + 15, `${map.tap} · best ${map.best.similarity.toFixed(3)}`);
    canvas.legend(left, top + size.height + 6, size.width, map.min, map.max, 'cosine similarity');
  }
  const width = MARGIN + (maps.length + 1) * (size.width + MARGIN);
  const height = top + size.height + 6 + LEGEND_H + MARGIN;
  return canvas.png(width, height);
}

// ─── grid ──────────────────────────────────────────────────────────────────────────────────

/** Query points at the centres of an N×N grid of cells over a width×height image. */
export function gridPoints(n: number, width: number, height: number): Point[] {
  const points: Point[] = [];
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      points.push({
        x: Math.min(width - 1, Math.round(((c + 0.5) * width) / n - 0.5)),
        y: Math.min(height - 1, Math.round(((r + 0.5) * height) / n - 0.5)),
      });
    }
  }
  return points;
}

/**
 * N×N query points: per tap, the query image with the numbered points (left) and a mosaic of
 * one small map per point (right), on one colour scale shared by every map of the picture.
 */
export async function renderGrid(session: HeatmapSession, opts: GridOptions): Promise<Buffer> {
  const opacity = checkOpacity(opts.opacity);
  const on = opts.on ?? 'output';
  const taps = opts.taps ?? session.taps;
  const n = opts.n;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`grid size must be ≥ 1, got ${n}`);
  const size = panelSize(session, opts.panelSize);
  const { fullWidth, fullHeight } = session.coords;
  const points = gridPoints(n, fullWidth, fullHeight);
  // Tap by tap, so only one tap's features need be held at a time (the session's budget).
  const perTap = taps.map((tap) => points.map((p) => session.query(p, { on, taps: [tap] })[0]));
  const all = perTap.flat();
  const lo = Math.min(...all.map((m) => m.min));
  const hi = Math.max(...all.map((m) => m.max));
  const queryImage = await rgbPanel(on === 'output' ? session.output : session.input, size);
  const tile = {
    width: Math.max(1, Math.floor(size.width / n)),
    height: Math.max(1, Math.floor(size.height / n)),
  };
  const other = await rgbPanel(on === 'output' ? session.input : session.output, tile);
  const canvas = new Canvas();
  const blockH = LABEL_H + size.height + MARGIN;
  for (const [t, maps] of perTap.entries()) {
    const top = MARGIN + t * blockH + LABEL_H;
    canvas.add({ ...queryImage, left: MARGIN, top });
    canvas.text(MARGIN, top - 7, `query on the ${on}: ${n}×${n} points`);
    canvas.text(2 * MARGIN + size.width, top - 7, `${taps[t]}: one map per point`);
    for (const [k, map] of maps.entries()) {
      const q = toPanel(session, map.query, size);
      canvas.marker(MARGIN + q.x, top + q.y, 'query', 5);
      canvas.text(MARGIN + q.x + 7, top + q.y - 6, String(k + 1), 'start', 11);
      const left = 2 * MARGIN + size.width + (k % n) * tile.width;
      const tileTop = top + Math.floor(k / n) * tile.height;
      const pixels = overlay(other.pixels, tile, session, map, lo, hi, opacity);
      canvas.add({ pixels, width: tile.width, height: tile.height, left, top: tileTop });
      const b = toPanel(session, map.best, tile);
      canvas.marker(left + b.x, tileTop + b.y, 'best', 3);
    }
  }
  const width = 3 * MARGIN + size.width + n * tile.width;
  const legendTop = MARGIN + perTap.length * blockH;
  canvas.legend(MARGIN, legendTop, width - 2 * MARGIN, lo, hi, 'cosine similarity (all maps)');
  return canvas.png(width, legendTop + LEGEND_H + MARGIN);
}

// ─── pixels ────────────────────────────────────────────────────────────────────────────────

interface Size {
  width: number;
  height: number;
}

function panelSize(session: HeatmapSession, long = 512): Size {
  const { width, height } = session.input;
  const s = Math.min(1, long / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/** A working image as 8-bit RGB at panel size. */
async function rgbPanel(image: RgbFloatImage, size: Size): Promise<Size & { pixels: Uint8Array }> {
  const n = image.width * image.height;
  const bytes = Buffer.alloc(n * 3);
  for (let i = 0; i < n * 3; i++) {
    const v = Math.round((image.data[i] + 1) * 127.5);
    bytes[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  const raw = { width: image.width, height: image.height, channels: 3 as const };
  const same = size.width === image.width && size.height === image.height;
  const data = same
    ? bytes
    : await sharp(bytes, { raw }).resize(size.width, size.height, { fit: 'fill' }).raw().toBuffer();
  return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ...size };
}

/** A full-image point in panel pixels. */
function toPanel(session: HeatmapSession, p: Point, size: Size): Point {
  const { fullWidth, fullHeight } = session.coords;
  return {
    x: ((p.x + 0.5) * size.width) / fullWidth - 0.5,
    y: ((p.y + 0.5) * size.height) / fullHeight - 0.5,
  };
}

/**
 * The base pixels with the map blended over them. Each panel pixel is mapped to working
 * coordinates and from there to the tap's grid (position j centred on working pixel s·j);
 * the map is sampled bilinearly there and coloured on the [lo, hi] scale.
 */
export function overlay(
  base: Uint8Array,
  size: Size,
  session: HeatmapSession,
  map: SimilarityMap,
  lo: number,
  hi: number,
  opacity: number,
): Uint8Array {
  const out = new Uint8Array(size.width * size.height * 3);
  const { width: ww, height: wh } = session.input;
  const span = hi > lo ? hi - lo : 1;
  const gx = new Float32Array(size.width);
  for (let x = 0; x < size.width; x++) {
    gx[x] = clamp(((x + 0.5) * ww) / size.width - 0.5, 0, ww - 1) / map.stride;
  }
  for (let y = 0; y < size.height; y++) {
    const v = clamp(((y + 0.5) * wh) / size.height - 0.5, 0, wh - 1) / map.stride;
    const y0 = Math.min(Math.floor(v), map.height - 1);
    const y1 = Math.min(y0 + 1, map.height - 1);
    const fy = Math.min(1, v - y0);
    for (let x = 0; x < size.width; x++) {
      const u = gx[x];
      const x0 = Math.min(Math.floor(u), map.width - 1);
      const x1 = Math.min(x0 + 1, map.width - 1);
      const fx = Math.min(1, u - x0);
      const d = map.data;
      const top = d[y0 * map.width + x0] * (1 - fx) + d[y0 * map.width + x1] * fx;
      const bottom = d[y1 * map.width + x0] * (1 - fx) + d[y1 * map.width + x1] * fx;
      const value = top * (1 - fy) + bottom * fy;
      const ci = Math.round(clamp((value - lo) / span, 0, 1) * 255) * 3;
      const o = (y * size.width + x) * 3;
      for (let c = 0; c < 3; c++) {
        out[o + c] = Math.round(base[o + c] * (1 - opacity) + VIRIDIS[ci + c] * opacity);
      }
    }
  }
  return out;
}

function checkOpacity(opacity = 0.65): number {
  if (!(opacity >= 0 && opacity <= 1)) {
    throw new RangeError(`opacity must be between 0 and 1, got ${opacity}`);
  }
  return opacity;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function formatValue(v: number): string {
  return (v < 0 ? '−' : '') + Math.abs(v).toFixed(2);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (ch) =>
    ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : ch === '&' ? '&amp;' : '&quot;',
  );
}
