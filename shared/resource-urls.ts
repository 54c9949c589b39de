/**
 * The addresses of the files the page may load, built and read in one place: /files (an
 * image or output the studio allows), /thumbs (a small WebP of one) and /tiles (one tile of
 * the before/after viewer's image pyramid). The preload and the serve client build them, the
 * renderer derives tile addresses from a file's, and `patchwork serve` and the app's
 * patchwork:// scheme read them back — so a route or a parameter cannot drift between them.
 * The serve client adds a grant (resource-grants.ts: &exp=…&sig=…) that a tile's address
 * keeps from its file's; the app's scheme needs none and ignores it.
 * Pure TypeScript with no schema library: the sandboxed preload bundles it.
 */
import type { Grant } from './resource-grants';

/** The largest thumbnail the page may ask for (main/services/thumbnails.ts's biggest step). */
export const MAX_THUMB_SIZE = 2048;
export const MIN_THUMB_SIZE = 16;
/** The thumbnail size a /thumbs address without one gets. */
const DEFAULT_THUMB_SIZE = 256;

/** What one address asks for. */
export type Resource =
  | { route: 'files'; path: string }
  | { route: 'thumbs'; path: string; size: number }
  | { route: 'tiles'; path: string; level: number; x: number; y: number };

/**
 * The address of `resource` below `base`: an origin or folder URL ending in '/' (the app's
 * patchwork://app/, the serve page's folder), or '' for one relative to the page.
 */
export function resourceUrl(base: string, resource: Resource, grant?: Grant): string {
  const p = encodeURIComponent(resource.path);
  const g = grant ? `&exp=${grant.exp}&sig=${grant.sig}` : '';
  switch (resource.route) {
    case 'files':
      return `${base}files?path=${p}${g}`;
    case 'thumbs':
      return `${base}thumbs?size=${Math.round(resource.size)}&path=${p}${g}`;
    case 'tiles': {
      const { level, x, y } = resource;
      return `${base}tiles?path=${p}&level=${level}&x=${x}&y=${y}${g}`;
    }
  }
}

/**
 * One tile of the image a /files address shows, beside it: the page knows only the api's
 * fileUrl (its base and grant differ by transport), so the tile's address is derived from
 * it, keeping its grant (which is for the image, whatever the route).
 */
export function tileUrlOf(fileUrl: string, level: number, x: number, y: number): string {
  const m = /^(.*?\/|)files\?path=([^&]*)(?:&exp=(\d+)&sig=([0-9a-f]+))?$/.exec(fileUrl);
  if (!m) throw new Error(`not a /files address: ${fileUrl}`);
  const path = decodeURIComponent(m[2]);
  const grant = m[3] !== undefined ? { exp: Number(m[3]), sig: m[4] } : undefined;
  return resourceUrl(m[1], { route: 'tiles', path, level, x, y }, grant);
}

/**
 * What an address asks for, or what is wrong with it (HTTP 400); null when its path is none
 * of the three routes.
 */
export function parseResourceUrl(url: URL): Resource | { error: string } | null {
  const params = url.searchParams;
  switch (url.pathname) {
    case '/files':
      return { route: 'files', path: params.get('path') ?? '' };
    case '/thumbs': {
      const size = Number(params.get('size') ?? String(DEFAULT_THUMB_SIZE));
      if (!Number.isInteger(size) || size < MIN_THUMB_SIZE || size > MAX_THUMB_SIZE) {
        return { error: `size must be a whole number from ${MIN_THUMB_SIZE} to ${MAX_THUMB_SIZE}` };
      }
      return { route: 'thumbs', path: params.get('path') ?? '', size };
    }
    case '/tiles': {
      const q = tileQuery(params);
      return 'error' in q ? q : { route: 'tiles', ...q };
    }
    default:
      return null;
  }
}

/** A /tiles request's query: the image and the tile, or what is wrong with it. */
export function tileQuery(
  params: URLSearchParams,
): { path: string; level: number; x: number; y: number } | { error: string } {
  const p = params.get('path');
  if (!p) return { error: 'path is required' };
  const n: Record<'level' | 'x' | 'y', number> = { level: 0, x: 0, y: 0 };
  for (const k of ['level', 'x', 'y'] as const) {
    const raw = params.get(k);
    const v = raw !== null && /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(v)) return { error: `${k} must be a whole number from 0` };
    n[k] = v;
  }
  return { path: p, ...n };
}
