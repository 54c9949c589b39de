/**
 * Requests `patchwork serve` refuses whoever sends them (issue 19, item 1): a Host it was not
 * asked to serve (DNS rebinding), a POST or WebSocket from another origin, a body over the
 * limit, malformed JSON, an address with a bad %-escape, other methods. And what it answers
 * when it fails itself: a generic message and an id, the detail only in its log — over HTTP
 * and in the API's replies alike.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { Reply } from '../../shared/ipc';
import { wsProtocols } from '../../shared/serve-auth';
import { toIpcError } from '../../main/services/studio/request-error';
import { exchange } from './serve-fuzz';
import { bearer, handshake, INTERNALS, openSite, post, raw, type Site } from './serve-attacks';

let site: Site;
let wide: Site;

beforeAll(async () => {
  site = await openSite();
  wide = await openSite({ host: '0.0.0.0', allowHosts: ['studio.lan'] });
});
afterAll(async () => {
  await site?.close();
  await wide?.close();
});

const INFO = { channel: 'app:info', input: {} };

describe('the Host header (DNS rebinding)', () => {
  it('refuses names the server was not asked to serve, on every route', async () => {
    for (const s of [site, wide]) {
      const port = s.served.port;
      for (const host of [
        `evil.example:${port}`,
        `127.0.0.1.evil.example:${port}`,
        'localhost:1',
      ]) {
        const headers = { ...bearer(s), Host: host };
        expect([host, (await raw(s, '/', { headers })).status]).toEqual([host, 403]);
        expect((await post(s, INFO, { Host: host })).status).toBe(403);
        expect(await handshake(s, { headers })).toEqual({ opened: false });
      }
    }
  });

  it('answers the names it was asked to serve', async () => {
    const port = wide.served.port;
    for (const host of [`studio.lan:${port}`, `STUDIO.LAN.:${port}`, `127.0.0.1:${port}`]) {
      expect([host, (await post(wide, INFO, { Host: host })).status]).toEqual([host, 200]);
    }
  });
});

describe('other origins', () => {
  it('cannot POST to the API, even with the token', async () => {
    for (const origin of [
      'http://evil.example',
      'null',
      `http://localhost:${site.served.port + 1}`,
    ]) {
      const res = await post(site, INFO, { Origin: origin });
      expect([origin, res.status, res.body]).toEqual([origin, 403, 'cross-origin request refused']);
    }
    const same = await post(site, INFO, { Origin: `http://127.0.0.1:${site.served.port}` });
    expect(same.status).toBe(200);
  });

  it('cannot open the events socket, even with the token', async () => {
    const protocols = wsProtocols(site.served.token);
    const evil = await handshake(site, { protocols, headers: { Origin: 'http://evil.example' } });
    expect(evil).toEqual({ opened: false });
    const own = { Origin: `http://127.0.0.1:${site.served.port}` };
    expect(await handshake(site, { protocols, headers: own })).toMatchObject({ opened: true });
  });

  it('cannot send a form or text as the API’s JSON (no preflight needed for those)', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) {
      const res = await post(site, JSON.stringify(INFO), { 'Content-Type': type });
      expect([type, res.status]).toEqual([type, 415]);
    }
  });
});

describe('bodies and addresses', () => {
  const big = Buffer.alloc(2 * 1024 * 1024, 0x20);

  it('a body over 1 MiB gets 413, declared or chunked', async () => {
    const json = { 'Content-Type': 'application/json', ...bearer(site) };
    const declared = await raw(site, '/api', { method: 'POST', headers: json, body: big });
    expect(declared).toMatchObject({ status: 413, body: 'request body over 1 MiB' });
    const chunked = { ...json, 'Transfer-Encoding': 'chunked' };
    expect((await raw(site, '/api', { method: 'POST', headers: chunked, body: big })).status).toBe(
      413,
    );
  });

  it('malformed JSON and unknown shapes get 400 with a specific reason', async () => {
    const cases: unknown[] = [
      '{"channel": ',
      '',
      'null',
      '[]',
      '"app:info"',
      '{"channel":"app:info"}',
      '{"channel":"nope:x","input":{}}',
      '{"channel":"app:info","input":{"extra":1}}',
      '{"channel":"folder:inspect","input":{"path":5}}',
      '{"__proto__":{"polluted":1},"channel":"app:info","input":{}}',
    ];
    for (const body of cases) {
      const res = await post(site, body as string);
      expect([body, res.status]).toEqual([body, 400]);
      const reply = JSON.parse(res.body) as Reply<never>;
      expect(reply.ok).toBe(false);
      expect(!reply.ok && reply.error.code).toMatch(/^invalid-(message|input)$/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a bad %-escape gets 400, without the exception text', async () => {
    for (const target of ['/%E0%A4%A', '/files?path=%E0%A4%A', '/assets/%zz.js', '//', '/%']) {
      const res = await raw(site, target, { headers: bearer(site) });
      expect([target, res.status]).toEqual([target, 400]);
      expect(res.body).not.toMatch(INTERNALS);
    }
    expect(await handshake(site, { target: '//', headers: bearer(site) })).toEqual({
      opened: false,
    });
  });

  it('CONNECT, a proxy’s method, gets 405 rather than a dropped connection', async () => {
    const req = `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:${site.served.port}\r\n\r\n`;
    const res = await exchange(site.served.port, Buffer.from(req), 10_000);
    expect(res.status).toBe(405);
  });

  it('methods other than GET/HEAD (or the API’s POST) get 405', async () => {
    for (const [method, target] of [
      ['PUT', '/'],
      ['DELETE', '/files?path=x'],
      ['POST', '/thumbs?path=x'],
      ['GET', '/api'],
      ['PATCH', '/api'],
    ]) {
      const res = await raw(site, target, { method, headers: bearer(site) });
      expect([method, target, res.status]).toEqual([method, target, 405]);
    }
  });
});

describe('a client that stops sending mid-body', () => {
  it('is not a failure of the server: nothing logged, and it answers the next', async () => {
    const logged: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((line) => {
      logged.push(String(line));
      return true;
    });
    try {
      for (let i = 0; i < 3; i++) {
        const head =
          `POST /api HTTP/1.1\r\nHost: 127.0.0.1:${site.served.port}\r\n` +
          `Authorization: Bearer ${site.served.token}\r\nContent-Type: application/json\r\n` +
          'Content-Length: 100\r\n\r\n{"channel":';
        const res = await exchange(site.served.port, Buffer.from(head), 10_000);
        expect(res.timedOut).toBe(false);
        expect([null, 400]).toContain(res.status);
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(logged.join('')).not.toMatch(/serve: error/);
    } finally {
      stderr.mockRestore();
    }
    expect((await post(site, INFO)).status).toBe(200);
  });
});

describe("the server's own failures", () => {
  it('over HTTP: a generic 500 naming an id, the detail logged under it', async () => {
    const failing = vi
      .spyOn(site.served.studio, 'readableFile')
      .mockRejectedValue(new Error('EACCES: permission denied, open /home/u/secret.png'));
    const logged: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((line) => {
      logged.push(String(line));
      return true;
    });
    try {
      const res = await raw(site, '/files?path=x.png', { headers: bearer(site) });
      expect(res.status).toBe(500);
      expect(res.body).not.toMatch(INTERNALS);
      const id = /internal error ([0-9a-f]{8})/.exec(res.body)?.[1];
      expect(id).toBeDefined();
      expect(logged.join('')).toContain(`error ${id}: GET /files?path=x.png failed: Error: EACCES`);
    } finally {
      failing.mockRestore();
      stderr.mockRestore();
    }
  });

  it('in an API reply: code internal, a generic message and an id, the stack logged', () => {
    const logged: string[] = [];
    const err = new Error("ENOENT: no such file, open '/home/u/library/secret/settings.json'");
    const error = toIpcError(err, (line) => logged.push(line));
    expect(error.code).toBe('internal');
    expect(error.message).not.toMatch(INTERNALS);
    const id = /error ([0-9a-f]{8})/.exec(error.message)?.[1];
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(new RegExp(`^error ${id}: Error: ENOENT.*\\n\\s+at `));
    expect(toIpcError('a thrown string /etc/shadow', () => undefined).message).not.toMatch(
      /shadow/,
    );
  });

  it('through the studio and the server: status 500, nothing of the cause in the body', async () => {
    const real = site.served.studio.handle.bind(site.served.studio);
    const boom = new Error('cannot open /home/u/.ssh/id_rsa');
    const spy = vi
      .spyOn(site.served.studio, 'handle')
      .mockImplementation(async () => ({ ok: false, error: toIpcError(boom, () => undefined) }));
    try {
      const res = await post(site, INFO);
      expect(res.status).toBe(500);
      expect(res.body).not.toMatch(/ssh|id_rsa|\/home/);
    } finally {
      spy.mockRestore();
    }
    expect((await real(INFO)).ok).toBe(true);
  });

  describe('a job that failed inside the engine', () => {
    const stack =
      "Error: ENOENT: no such file or directory, open '/home/u/photos/x.png'\n" +
      '    at Object.openSync (node:fs:573:3)\n    at readImage (/opt/patchwork/engine.js:10:5)';
    const failed = {
      id: 'j1',
      status: 'failed',
      error: { message: 'Something went wrong inside the engine.', detail: stack },
    };

    /** Captures what the server logs meanwhile. */
    function captureLog() {
      const logged: string[] = [];
      const spy = vi.spyOn(process.stderr, 'write').mockImplementation((line) => {
        logged.push(String(line));
        return true;
      });
      return { logged, restore: () => spy.mockRestore() };
    }

    it('reaches the events socket with an id in place of its stack, the stack logged', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${site.served.port}/events`, {
        headers: bearer(site),
      });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const frame = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
      const log = captureLog();
      try {
        // What the job queue emits when the engine reports the failure.
        (site.served.studio as unknown as { emit(e: unknown): void }).emit({
          type: 'job',
          job: failed,
        });
        const text = await frame;
        expect(text).not.toMatch(/ENOENT|\/home\/|node:fs|at Object/);
        const sent = JSON.parse(text) as { job: typeof failed };
        expect(sent.job.error.message).toBe('Something went wrong inside the engine.');
        const id = /under error ([0-9a-f]{8})/.exec(sent.job.error.detail)?.[1];
        expect(log.logged.join('')).toContain(`serve: error ${id}: Error: ENOENT`);
      } finally {
        log.restore();
        ws.close();
      }
    });

    it('reaches an API reply the same way, under the same id; a detail without a stack stays', async () => {
      const signal = { ...failed, id: 'j2', error: { message: 'stopped', detail: 'SIGKILL' } };
      const spy = vi
        .spyOn(site.served.studio, 'handle')
        .mockResolvedValue({ ok: true, value: { jobs: [failed, failed, signal] } });
      const log = captureLog();
      try {
        const res = await post(site, { channel: 'jobs:list', input: {} });
        expect(res.body).not.toMatch(/ENOENT|\/home\/|node:fs/);
        const { value } = JSON.parse(res.body) as { value: { jobs: (typeof failed)[] } };
        const [a, b, c] = value.jobs.map((j) => j.error.detail);
        expect(a).toMatch(/under error [0-9a-f]{8}$/);
        expect(b).toBe(a);
        expect(c).toBe('SIGKILL');
      } finally {
        spy.mockRestore();
        log.restore();
      }
    });
  });
});
