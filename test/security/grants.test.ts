/**
 * The signed image addresses of `patchwork serve` (shared/resource-grants.ts): what a browser
 * fetches by itself (an <img>, a tile) carries a grant instead of the token. A grant opens the
 * one image it was signed for — its file, thumbnails and tiles — and nothing else; an expired
 * one, one dated too far ahead, and a tampered one are refused; and a grant never lets a path
 * through that the studio would not show with the token either.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hex, hmacSha256, sha256, utf8 } from '../../shared/hmac-sha256';
import {
  GRANT_STEP_S,
  grantExpiry,
  grantKey,
  grantMessage,
  grantSigner,
  signGrant,
} from '../../shared/resource-grants';
import { resourceUrl, tileUrlOf } from '../../shared/resource-urls';
import { filesUrl, openSite, raw, type Site } from './serve-attacks';

let site: Site;
/** The server's clock, moved by the expiry tests. */
let clock = Date.now();

beforeAll(async () => {
  site = await openSite({});
});
afterAll(async () => {
  await site?.close();
});

/** A server whose grant clock is `clock`. */
async function withClock<T>(fn: (s: Site) => Promise<T>): Promise<T> {
  const { startServer } = await import('../../main/serve/server');
  const server = await startServer({
    studio: site.served.studio,
    token: site.served.token,
    rendererDir: null,
    now: () => clock,
  });
  try {
    return await fn({ ...site, served: { ...site.served, port: server.port } });
  } finally {
    await server.close();
  }
}

const key = () => grantKey(site.served.token);
const grantQuery = (p: string, exp = grantExpiry(Date.now())) => {
  const g = signGrant(key(), p, exp);
  return `exp=${g.exp}&sig=${g.sig}`;
};

describe('the page’s HMAC-SHA-256 is the standard one', () => {
  it('matches node:crypto on known and random inputs', () => {
    expect(hex(sha256(utf8('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    // RFC 4231, test case 2.
    expect(hex(hmacSha256(utf8('Jefe'), utf8('what do ya want for nothing?')))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    for (let n = 0; n < 300; n++) {
      const k = randomBytes(n % 150);
      const m = randomBytes((n * 7) % 260);
      expect(hex(hmacSha256(k, m))).toBe(createHmac('sha256', k).update(m).digest('hex'));
    }
  });
});

describe('a grant', () => {
  it('opens the image it was signed for: file, thumbnail and tiles', async () => {
    const q = grantQuery(site.image);
    const p = encodeURIComponent(site.image);
    const answers = await Promise.all([
      raw(site, filesUrl(site.image, q)),
      raw(site, `/thumbs?size=32&path=${p}&${q}`),
      raw(site, `/tiles?path=${p}&level=0&x=0&y=0&${q}`),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
  });

  it('does not open another file, even one the studio would show', async () => {
    const other = `${site.work}/other.png`;
    const { copyFile } = await import('node:fs/promises');
    await copyFile(site.image, other);
    expect((await raw(site, filesUrl(other))).status).toBe(401);
    const res = await raw(site, filesUrl(other, grantQuery(site.image)));
    expect(res).toMatchObject({
      status: 403,
      body: 'this image address is not signed for that file',
    });
    // Nor the same file named another way (the path is signed as written).
    const dotted = site.image.replace(/\/([^/]+)$/, '/./$1');
    expect((await raw(site, filesUrl(dotted, grantQuery(site.image)))).status).toBe(403);
  });

  it('does not open a file outside the allowed folders, however well signed', async () => {
    const res = await raw(site, filesUrl(site.secret, grantQuery(site.secret)));
    expect(res.status).toBe(404);
  });

  it('is refused once expired, and when dated further ahead than any page signs', async () => {
    const exp = grantExpiry(Date.now());
    clock = exp * 1000 - 1;
    expect(
      (await withClock((s) => raw(s, filesUrl(site.image, grantQuery(site.image, exp))))).status,
    ).toBe(200);
    clock = exp * 1000;
    const late = await withClock((s) => raw(s, filesUrl(site.image, grantQuery(site.image, exp))));
    expect(late).toMatchObject({
      status: 403,
      body: 'this image address has expired: reload the page',
    });
    clock = Date.now();
    const far = grantExpiry(Date.now()) + 10 * GRANT_STEP_S;
    const ahead = await withClock((s) => raw(s, filesUrl(site.image, grantQuery(site.image, far))));
    expect(ahead).toMatchObject({ status: 403, body: 'this image address expires too far ahead' });
  });

  it('is refused when tampered with: another expiry, a changed or cut signature', async () => {
    const exp = grantExpiry(Date.now());
    const { sig } = signGrant(key(), site.image, exp);
    const flipped = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
    const cases: [string, number][] = [
      [`exp=${exp - GRANT_STEP_S + GRANT_STEP_S / 2}&sig=${sig}`, 403],
      [`exp=${exp}&sig=${flipped}`, 403],
      [`exp=${exp}&sig=${sig.slice(0, 32)}`, 400],
      [`exp=${exp}&sig=${sig.toUpperCase()}`, 400],
      [`exp=${exp}`, 400],
      [`sig=${sig}`, 400],
      [`exp=-1&sig=${sig}`, 400],
    ];
    for (const [q, status] of cases) {
      expect([q, (await raw(site, filesUrl(site.image, q))).status]).toEqual([q, status]);
    }
  });

  it('signed with another token’s key is refused', async () => {
    const g = signGrant(
      grantKey('another-token-of-enough-length'),
      site.image,
      grantExpiry(Date.now()),
    );
    const res = await raw(site, filesUrl(site.image, `exp=${g.exp}&sig=${g.sig}`));
    expect(res.status).toBe(403);
  });

  it('names no secret: the signature is over the path and expiry, not the token', () => {
    const g = signGrant(key(), site.image, 123);
    expect(g.sig).toBe(
      createHmac('sha256', Buffer.from(key())).update(grantMessage(site.image, 123)).digest('hex'),
    );
    expect(g.sig).not.toContain(hex(utf8(site.served.token)).slice(0, 16));
  });
});

describe('the page’s signer', () => {
  it('signs addresses the server opens, the same string for minutes, and tiles keep it', async () => {
    const sign = grantSigner(site.served.token, () => 0);
    const url = resourceUrl('', { route: 'files', path: site.image }, sign(site.image));
    expect(resourceUrl('', { route: 'files', path: site.image }, sign(site.image))).toBe(url);
    expect((await raw(site, `/${url}`)).status).toBe(200);
    const tile = tileUrlOf(url, 0, 0, 0);
    expect(tile).toMatch(/^tiles\?path=.*&level=0&x=0&y=0&exp=\d+&sig=[0-9a-f]{64}$/);
    expect((await raw(site, `/${tile}`)).status).toBe(200);
  });

  it('corrects for a browser clock that is off, by the server’s', async () => {
    // A browser an hour slow: uncorrected its grants would be long expired.
    const hour = 3600_000;
    const slow = grantSigner(site.served.token, () => 0);
    const corrected = grantSigner(site.served.token, () => hour);
    const realNow = Date.now;
    try {
      Date.now = () => realNow() - hour;
      const stale = resourceUrl('', { route: 'files', path: site.image }, slow(site.image));
      const fresh = resourceUrl('', { route: 'files', path: site.image }, corrected(site.image));
      Date.now = realNow;
      expect((await raw(site, `/${stale}`)).status).toBe(403);
      expect((await raw(site, `/${fresh}`)).status).toBe(200);
    } finally {
      Date.now = realNow;
    }
  });
});
