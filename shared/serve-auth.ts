/**
 * How the `patchwork serve` page proves it holds the server's token, without a cookie
 * (cookies are sent to every port of a host, so other local servers would receive it): the
 * page takes the token from the address it was opened with (`#token=…`, or `?token=…`),
 * keeps it in sessionStorage (this tab, this origin and port only) and sends it as an
 * Authorization header with each request. A browser WebSocket cannot carry that header, so
 * the /events handshake offers the token as a subprotocol, hex-encoded (a subprotocol admits
 * only a few characters); the server answers with the plain PROTOCOL. The images the browser
 * fetches itself carry grants instead (resource-grants.ts).
 */
import { hex, utf8 } from './hmac-sha256';

/** The subprotocol the server selects. */
export const WS_PROTOCOL = 'patchwork';
const WS_TOKEN_PREFIX = 'patchwork.token.';

/** The subprotocols the page offers: the plain one and the one carrying the token. */
export function wsProtocols(token: string): string[] {
  return [WS_PROTOCOL, `${WS_TOKEN_PREFIX}${hex(utf8(token))}`];
}

/** The token a handshake's offered subprotocols carry, or null. */
export function tokenOfProtocols(header: string | undefined): string | null {
  for (const part of (header ?? '').split(',')) {
    const p = part.trim();
    if (!p.startsWith(WS_TOKEN_PREFIX)) continue;
    const digits = p.slice(WS_TOKEN_PREFIX.length);
    if (!/^(?:[0-9a-f]{2})+$/.test(digits)) return null;
    const bytes = new Uint8Array(digits.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
    return new TextDecoder().decode(bytes);
  }
  return null;
}

/** The token an opening address carries (`#token=…` or `?token=…`), or null. */
export function tokenOfAddress(href: string): string | null {
  const url = new URL(href);
  const fromHash = new URLSearchParams(url.hash.replace(/^#/, '')).get('token');
  return fromHash || url.searchParams.get('token') || null;
}

/** Where the page keeps the token: sessionStorage is per tab and per origin (port included). */
export const TOKEN_KEY = 'patchwork.token';

/** What taking the token needs of the page (the DOM's Location, History and Storage fit). */
export interface TokenPage {
  location: { href: string };
  history: { replaceState(data: unknown, unused: string, url?: string | null): void };
  storage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
}

/**
 * The token: from the opening address (then out of the address bar, so it does not end up in
 * history, bookmarks or screenshots), else from this tab's storage (a reload); '' if neither.
 */
export function takeToken(page: TokenPage): string {
  const given = tokenOfAddress(page.location.href);
  if (given) {
    page.storage.setItem(TOKEN_KEY, given);
    const url = new URL(page.location.href);
    url.searchParams.delete('token');
    url.hash = '';
    page.history.replaceState(null, '', url.pathname + url.search);
    return given;
  }
  return page.storage.getItem(TOKEN_KEY) ?? '';
}
