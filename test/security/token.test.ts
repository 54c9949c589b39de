/**
 * The token of `patchwork serve` (issue 19, item 1): every route but the page itself needs it,
 * a wrong one is refused, and it never travels in a cookie — cookies ignore the port, so one
 * set by the studio would reach every other server on 127.0.0.1. Nor is it taken from a
 * cookie or from the address (where it would stay in history and logs). The page takes it from
 * the address it was opened with, keeps it in this tab's storage and clears the address bar.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  takeToken,
  TOKEN_KEY,
  tokenOfProtocols,
  wsProtocols,
  type TokenPage,
} from '../../shared/serve-auth';
import { bearer, filesUrl, handshake, openSite, post, raw, type Site } from './serve-attacks';

let site: Site;

beforeAll(async () => {
  site = await openSite();
});
afterAll(async () => {
  await site?.close();
});

const INFO = { channel: 'app:info', input: {} };

/** Every route that needs the token, as a GET or the API's POST. */
function guarded(headers: Record<string, string>) {
  return Promise.all([
    post(site, INFO, { Authorization: '', ...headers }),
    raw(site, filesUrl(site.image), { headers }),
    raw(site, `/thumbs?size=64&path=${encodeURIComponent(site.image)}`, { headers }),
    raw(site, `/tiles?path=${encodeURIComponent(site.image)}&level=0&x=0&y=0`, { headers }),
  ]);
}

describe('without the right token', () => {
  it('the API and every image route answer 401, saying what is needed', async () => {
    for (const res of await guarded({})) {
      expect(res.status).toBe(401);
      expect(res.body).toMatch(/needs its token: open the address `patchwork serve` printed/);
    }
  });

  it('a wrong token, or the right one cut short or lengthened, is refused', async () => {
    const t = site.served.token;
    for (const wrong of ['wrong', t.slice(0, -1), `${t}x`, t.toUpperCase(), `bearer ${t}`]) {
      for (const res of await guarded({ Authorization: `Bearer ${wrong}` })) {
        expect([wrong, res.status]).toEqual([wrong, 401]);
      }
    }
  });

  it('the events socket will not open: no token, a wrong one, or a wrong subprotocol', async () => {
    expect(await handshake(site)).toEqual({ opened: false });
    expect(await handshake(site, { headers: { Authorization: 'Bearer wrong' } })).toEqual({
      opened: false,
    });
    expect(await handshake(site, { protocols: wsProtocols('wrong-token-of-some-length') })).toEqual(
      { opened: false },
    );
    expect(await handshake(site, { protocols: ['patchwork', 'patchwork.token.zz'] })).toEqual({
      opened: false,
    });
  });
});

describe('the token is never a cookie', () => {
  it('a cookie holding the token opens nothing', async () => {
    const cookie = { Cookie: `patchwork_token=${site.served.token}` };
    for (const res of await guarded(cookie)) expect(res.status).toBe(401);
    expect(await handshake(site, { headers: cookie })).toEqual({ opened: false });
  });

  it('nor does the token in the address', async () => {
    const q = `token=${site.served.token}`;
    expect((await raw(site, `/api?${q}`, { method: 'POST' })).status).toBe(401);
    expect((await raw(site, filesUrl(site.image, q))).status).toBe(401);
    expect(await handshake(site, { target: `/events?${q}` })).toEqual({ opened: false });
  });

  it('no answer sets a cookie: the page (opened with the token), the API, an image', async () => {
    const answers = [
      await raw(site, `/?token=${site.served.token}`),
      await raw(site, '/'),
      await post(site, INFO),
      await raw(site, filesUrl(site.image), { headers: bearer(site) }),
      await raw(site, filesUrl(site.image)),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 401]);
    for (const a of answers) expect(a.headers['set-cookie']).toBeUndefined();
  });

  it('the printed address carries it in the fragment, which the browser keeps to itself', () => {
    const url = new URL(site.served.url);
    expect(url.search).toBe('');
    expect(new URLSearchParams(url.hash.slice(1)).get('token')).toBe(site.served.token);
  });
});

describe('with the token', () => {
  it('as a header, the API answers', async () => {
    const res = await post(site, INFO);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ ok: true, value: { transport: 'serve' } });
  });

  it('as a subprotocol (a browser cannot set headers), the socket opens with the plain one', async () => {
    const opened = await handshake(site, { protocols: wsProtocols(site.served.token) });
    // The answer names only 'patchwork': the token is not echoed back.
    expect(opened).toEqual({ opened: true, protocol: 'patchwork' });
    expect(await handshake(site, { headers: bearer(site) })).toMatchObject({ opened: true });
  });

  it('any token the CLI accepts survives the subprotocol encoding', () => {
    for (const t of ['a'.repeat(22), '!#$%&*+-./:;<=>?@[]^_`{|}~'.repeat(2), 'A,b c'.repeat(6)]) {
      expect(tokenOfProtocols(wsProtocols(t).join(', '))).toBe(t);
    }
  });
});

describe('the page keeps the token to this tab', () => {
  /** A page opened at `href`, with its storage and address bar. */
  function pageAt(href: string, stored: Record<string, string> = {}) {
    const storage = new Map(Object.entries(stored));
    const shown: string[] = [];
    const page: TokenPage = {
      location: new URL(href),
      history: { replaceState: (_s, _t, url) => void shown.push(String(url)) },
      storage: { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, v) },
    };
    return { page, storage, shown };
  }

  it('takes it from the fragment or the query, stores it, and clears the address bar', () => {
    const t = 'x/y+z%w'.repeat(4);
    for (const href of [
      `http://127.0.0.1:9/#token=${encodeURIComponent(t)}`,
      `http://127.0.0.1:9/?token=${encodeURIComponent(t)}`,
    ]) {
      const { page, storage, shown } = pageAt(href);
      expect(takeToken(page)).toBe(t);
      expect(storage.get(TOKEN_KEY)).toBe(t);
      expect(shown).toEqual(['/']);
    }
  });

  it('after a reload (no token in the address) reads it back from the tab', () => {
    const { page, shown } = pageAt('http://127.0.0.1:9/', { [TOKEN_KEY]: 'kept' });
    expect(takeToken(page)).toBe('kept');
    expect(shown).toEqual([]);
  });
});
