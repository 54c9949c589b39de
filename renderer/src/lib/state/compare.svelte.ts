/**
 * The before/after viewer's state: which pair is open, where the split is (0–100 % from
 * the left: before to the left, after to the right), the zoom (1–16×) and the pan (pixels of
 * the stage). Zooming keeps the point under the pointer where it is; panning never lets the
 * picture leave the stage. Both images are drawn first as the services' previews (2048 px
 * long side), moved by CSS transforms; once zoomed past what a preview holds, the
 * full-resolution tiles in view (lib/viewer-tiles.ts chooses them) are drawn over it: a few asked
 * for at a time, the middle first, a request whose tile left the view cancelled, the ones
 * seen last kept for panning back.
 */
import { untrack } from 'svelte';
import { SvelteMap } from 'svelte/reactivity';
import type { PatchworkApi, PyramidInfo } from '../../../../shared/ipc';
import { tileUrlOf } from '../../../../shared/resource-urls';
import { messageOf } from '../errors';
import { chooseTiles, placeTile, type PlacedTile, type Viewport } from '../viewer-tiles';

export interface ComparePair {
  title: string;
  before: string;
  after: string;
}

export const MIN_ZOOM = 1;
export const MAX_ZOOM = 16;
/** Long side of the previews the viewer loads. */
export const COMPARE_SIZE = 2048;
/** Tile requests at once. */
export const TILES_IN_FLIGHT = 4;
/** Loaded tiles kept (object URLs) beyond those in view. */
const TILES_KEPT = 96;

export type Side = 'before' | 'after';

/** Fetches a tile's image; resolves to a URL an <img> can show (an object URL by default). */
export type TileLoader = (url: string, signal: AbortSignal) => Promise<string>;

export const fetchTile: TileLoader = async (url, signal) => {
  const res = await fetch(url, { signal, credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${res.status} ${(await res.text()) || res.statusText}`);
  return URL.createObjectURL(await res.blob());
};

interface TileSource {
  info: PyramidInfo;
  url: (level: number, x: number, y: number) => string;
}

export interface ShownTile extends PlacedTile {
  side: Side;
  src: string;
}

export class CompareState {
  pair = $state<ComparePair | null>(null);
  split = $state(50);
  zoom = $state(1);
  panX = $state(0);
  panY = $state(0);
  /** The stage's size in pixels, as last measured. */
  width = $state(0);
  height = $state(0);
  /** The screen's device pixels per CSS pixel. */
  dpr = $state(1);
  /** The images' full sizes and tile pyramids, once known (null: previews only). */
  sources = $state<Record<Side, TileSource | null>>({ before: null, after: null });
  /** Why full resolution is not available for this pair, or null. */
  tileProblem = $state<string | null>(null);
  /** Loaded tiles by `${side}:${key}`: their image URLs. */
  private loaded = $state<Record<string, string>>({});
  /** Tile requests on their way (reactive, so `loading` can be shown). */
  private readonly inFlight = new SvelteMap<string, AbortController>();
  /** Loaded keys, least recently wanted first. */
  private order: string[] = [];
  /** Tiles that could not be had for this pair: not asked for again. */
  private failed: Record<string, true> = {};
  private opened = 0;

  constructor(
    private readonly loader: TileLoader = fetchTile,
    private readonly release: (src: string) => void = (src) => {
      if (src.startsWith('blob:')) URL.revokeObjectURL(src);
    },
  ) {}

  /** What the viewer looks at now, for lib/viewer-tiles.ts. */
  get viewport(): Viewport {
    return {
      stageWidth: this.width,
      stageHeight: this.height,
      zoom: this.zoom,
      panX: this.panX,
      panY: this.panY,
      dpr: this.dpr,
    };
  }

  /** The tiles each side needs now (before: left of the split; after: right of it). */
  readonly wanted: Record<Side, PlacedTile[]> = $derived.by(() => {
    const v = this.viewport;
    const splitX = (this.split / 100) * this.width;
    const pick = (side: Side, from: number, to: number) => {
      const source = this.sources[side];
      return source ? chooseTiles(v, source.info, COMPARE_SIZE, from, to).tiles : [];
    };
    return { before: pick('before', 0, splitX), after: pick('after', splitX, this.width) };
  });

  /**
   * The wanted tiles already loaded, for drawing over the previews; under a wanted tile still
   * on its way, a loaded tile of a coarser level that covers it (so zooming in sharpens step
   * by step instead of falling back to the preview).
   */
  shown(side: Side): ShownTile[] {
    const source = this.sources[side];
    if (!source) return [];
    const under: ShownTile[] = [];
    const over: ShownTile[] = [];
    const seen: Record<string, true> = {};
    for (const t of this.wanted[side]) {
      const src = this.loaded[`${side}:${t.key}`];
      if (src) {
        over.push({ ...t, side, src });
        continue;
      }
      for (let up = 1; t.level + up < source.info.levels; up++) {
        const [level, x, y] = [t.level + up, t.x >> up, t.y >> up];
        const key = `${level}/${x}/${y}`;
        const coarse = this.loaded[`${side}:${key}`];
        if (!coarse) continue;
        if (!seen[key]) {
          seen[key] = true;
          under.push({ ...placeTile(this.viewport, source.info, level, x, y), side, src: coarse });
        }
        break;
      }
    }
    return [...under, ...over];
  }

  /**
   * The pair's full-resolution tiles (the files the previews are of): their sizes are asked
   * for; until they answer, or if they cannot, the previews alone are drawn.
   */
  async useTiles(api: PatchworkApi, before: string, after: string): Promise<void> {
    const ticket = this.opened;
    const source = async (p: string): Promise<TileSource> => ({
      info: await api.request('image:tiles', { path: p }),
      url: (level, x, y) => tileUrlOf(api.fileUrl(p), level, x, y),
    });
    try {
      const [b, a] = await Promise.all([source(before), source(after)]);
      if (ticket === this.opened) this.sources = { before: b, after: a };
    } catch (err) {
      if (ticket === this.opened) {
        this.tileProblem = `Full resolution is not available: ${messageOf(err)}`;
      }
    }
  }

  /**
   * Asks for the wanted tiles not yet loaded (the middle first, at most TILES_IN_FLIGHT at
   * once), cancels requests for tiles no longer wanted, and forgets the oldest loaded tiles
   * beyond TILES_KEPT. Called whenever the view changes (the component's effect).
   */
  syncTiles(): void {
    const wanted = this.wanted;
    untrack(() => this.load(wanted));
  }

  private load(wanted: Record<Side, PlacedTile[]>): void {
    const want: { key: string; side: Side; tile: PlacedTile }[] = [];
    const wantedKeys: Record<string, true> = {};
    // Interleave the sides so both fill in from the middle.
    const n = Math.max(wanted.before.length, wanted.after.length);
    for (let i = 0; i < n; i++) {
      for (const side of ['after', 'before'] as const) {
        const t = wanted[side][i];
        if (!t) continue;
        const key = `${side}:${t.key}`;
        want.push({ key, side, tile: t });
        wantedKeys[key] = true;
      }
    }
    for (const [key, controller] of this.inFlight) {
      if (!wantedKeys[key]) {
        controller.abort();
        this.inFlight.delete(key);
      }
    }
    // Wanted tiles become the most recent; the oldest beyond the limit are released.
    this.order = [
      ...this.order.filter((k) => !wantedKeys[k]),
      ...want.map((w) => w.key).filter((k) => this.loaded[k]),
    ];
    if (this.order.length > TILES_KEPT) {
      const drop = this.order
        .slice(0, this.order.length - TILES_KEPT)
        .filter((k) => !wantedKeys[k]);
      if (drop.length) {
        const next = { ...this.loaded };
        for (const k of drop) {
          this.release(next[k]);
          delete next[k];
        }
        this.loaded = next;
        this.order = this.order.filter((k) => next[k]);
      }
    }
    for (const { key, side, tile } of want) {
      if (this.inFlight.size >= TILES_IN_FLIGHT) break;
      if (this.loaded[key] || this.inFlight.has(key) || this.failed[key]) continue;
      const source = this.sources[side];
      if (!source) continue;
      const controller = new AbortController();
      this.inFlight.set(key, controller);
      const ticket = this.opened;
      this.loader(source.url(tile.level, tile.x, tile.y), controller.signal).then(
        (src) => {
          if (this.inFlight.get(key) !== controller || ticket !== this.opened) {
            this.release(src);
            return;
          }
          this.inFlight.delete(key);
          this.loaded = { ...this.loaded, [key]: src };
          this.order.push(key);
          this.syncTiles();
        },
        () => {
          if (this.inFlight.get(key) !== controller || ticket !== this.opened) return;
          // Not cancelled: the tile could not be made. The preview stays under it, and it is
          // not asked for again while this pair is open.
          this.inFlight.delete(key);
          this.failed[key] = true;
          this.syncTiles();
        },
      );
    }
  }

  /** Tile requests in flight (for tests and the status line). */
  get loading(): number {
    return this.inFlight.size;
  }

  /** The full image's width in pixels, once its tiles are known (null: previews only). */
  get fullWidth(): number | null {
    return this.sources.after?.info.width ?? this.sources.before?.info.width ?? null;
  }

  /**
   * Screen pixels per image pixel (1: one image pixel on one device pixel, "1:1"); null
   * while the full size is unknown. At zoom 1 the picture fits the stage's width.
   */
  get pixelScale(): number | null {
    const full = this.fullWidth;
    if (!full || !this.width) return null;
    return (this.zoom * this.width * this.dpr) / full;
  }

  /** Zooms to one image pixel per screen pixel around the stage's centre (as far as allowed). */
  actualPixels(): void {
    const scale = this.pixelScale;
    if (scale) this.zoomBy(1 / scale);
  }

  get transform(): string {
    return `translate(${this.panX}px, ${this.panY}px) scale(${this.zoom})`;
  }

  open(pair: ComparePair): void {
    this.dropTiles();
    this.pair = pair;
    this.split = 50;
    this.reset();
  }

  close(): void {
    this.dropTiles();
    this.pair = null;
  }

  private dropTiles(): void {
    this.opened += 1;
    for (const c of this.inFlight.values()) c.abort();
    this.inFlight.clear();
    for (const src of Object.values(this.loaded)) this.release(src);
    this.loaded = {};
    this.order = [];
    this.failed = {};
    this.sources = { before: null, after: null };
    this.tileProblem = null;
  }

  reset(): void {
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
  }

  setSplit(percent: number): void {
    this.split = Math.min(100, Math.max(0, percent));
  }

  /** Zooms by `factor` around the stage point (x, y) (default: its centre). */
  zoomBy(factor: number, x = this.width / 2, y = this.height / 2): void {
    const next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.zoom * factor));
    const k = next / this.zoom;
    this.panX = x - (x - this.panX) * k;
    this.panY = y - (y - this.panY) * k;
    this.zoom = next;
    this.clamp();
  }

  panBy(dx: number, dy: number): void {
    this.panX += dx;
    this.panY += dy;
    this.clamp();
  }

  /** The zoomed picture always covers the stage: no empty margin beside it. */
  private clamp(): void {
    const minX = this.width - this.width * this.zoom;
    const minY = this.height - this.height * this.zoom;
    this.panX = Math.min(0, Math.max(minX, this.panX));
    this.panY = Math.min(0, Math.max(minY, this.panY));
  }
}
