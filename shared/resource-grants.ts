/**
 * Signed addresses for the images `patchwork serve` shows. The browser fetches an <img>'s
 * address itself, without the page's Authorization header, and a cookie would reach every
 * other server on the same host (cookies ignore the port). So each /files, /thumbs or /tiles
 * address carries a grant instead: an expiry and an HMAC-SHA-256 of the file's path and that
 * expiry under a key derived from the server's token. A grant opens one image (the file,
 * its thumbnails and its tiles, which show nothing the file does not) until it expires,
 * and names no secret: the token cannot be read back from it.
 *
 * The page (which holds the token) signs while it renders; the server checks. Expiries are
 * rounded up to a whole GRANT_STEP_S, so an address stays the same string for minutes and
 * the browser's cache keeps working; a grant lives GRANT_STEP_S to 2·GRANT_STEP_S.
 */
import { hex, hmacSha256, utf8 } from './hmac-sha256';

/** Expiries are multiples of this many seconds (10 minutes). */
export const GRANT_STEP_S = 600;
/** The server refuses an expiry further ahead than this: no page signs one (30 minutes). */
export const GRANT_MAX_AHEAD_S = 3 * GRANT_STEP_S;

/** What an address carries besides the resource. */
export interface Grant {
  /** Seconds since the epoch, server time. */
  exp: number;
  /** 64 lower-case hexadecimal digits. */
  sig: string;
}

/** The label the signing key is derived under, so the key is not the token itself. */
const KEY_LABEL = 'patchwork resource grant key v1';

/** The signing key: HMAC-SHA-256(token, label). */
export function grantKey(token: string): Uint8Array {
  return hmacSha256(utf8(token), utf8(KEY_LABEL));
}

/** The bytes signed for a grant: the path and the expiry, on two lines. */
export function grantMessage(path: string, exp: number): string {
  return `${path}\n${exp}`;
}

/** The expiry a grant made at `nowMs` (server time) gets. */
export function grantExpiry(nowMs: number): number {
  return (Math.floor(nowMs / 1000 / GRANT_STEP_S) + 2) * GRANT_STEP_S;
}

export function signGrant(key: Uint8Array, path: string, exp: number): Grant {
  return { exp, sig: hex(hmacSha256(key, utf8(grantMessage(path, exp)))) };
}

/**
 * The grant an address carries: null when it has none, or what is wrong with its form (the
 * signature itself is the server's to check).
 */
export function grantOf(params: URLSearchParams): Grant | null | { error: string } {
  const exp = params.get('exp');
  const sig = params.get('sig');
  if (exp === null && sig === null) return null;
  if (exp === null || !/^\d{1,12}$/.test(exp)) return { error: 'exp must be a whole number' };
  if (sig === null || !/^[0-9a-f]{64}$/.test(sig)) return { error: 'sig must be 64 hex digits' };
  return { exp: Number(exp), sig };
}

/**
 * Why a well-formed grant cannot be honoured at `nowMs`, judged by its expiry alone, or null.
 */
export function grantTimeProblem(grant: Grant, nowMs: number): string | null {
  const now = nowMs / 1000;
  if (grant.exp <= now) return 'this image address has expired: reload the page';
  if (grant.exp > now + GRANT_MAX_AHEAD_S) return 'this image address expires too far ahead';
  return null;
}

/**
 * The page's signer: one grant per path and expiry step, so an address stays the same string
 * (and cached) until the step changes. `serverOffset` (ms) corrects the browser's clock to
 * the server's, which judges the expiry.
 */
export function grantSigner(token: string, serverOffset: () => number): (path: string) => Grant {
  const key = grantKey(token);
  let exp = 0;
  let made = new Map<string, Grant>();
  return (path) => {
    const e = grantExpiry(Date.now() + serverOffset());
    if (e !== exp) {
      exp = e;
      made = new Map();
    }
    let grant = made.get(path);
    if (!grant) {
      grant = signGrant(key, path, e);
      made.set(path, grant);
    }
    return grant;
  };
}
