/**
 * What `patchwork serve` answers to requests it will not serve (issue 19, item 1): a Host it
 * was not asked to serve even when bound beyond loopback, a body over the limit, an address
 * with a bad %-escape, and its own failures, each with a status that says so and a body
 * that does not carry the server's internals (exception text, paths, stacks).
 */
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { serveStudio, type ServedStudio } from '../../../main/serve/index';

let served: ServedStudio;
let wide: ServedStudio;
let library: string;
let work: string;
let renderer: string;

interface Answer {
  status: number;
  body: string;
}

/** One raw request (fetch would normalise the address and the Host). */
function raw(
  server: ServedStudio,
  target: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path: target,
        method: opts.method ?? 'GET',
        headers: { Authorization: `Bearer ${server.token}`, ...opts.headers },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Whether a WebSocket to /events opens with these headers. */
function opens(server: ServedStudio, headers: Record<string, string>, p = '/events') {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}${p}`, {
    headers: { Authorization: `Bearer ${server.token}`, ...headers },
  });
  return new Promise<boolean>((resolve) => {
    ws.once('open', () => (ws.close(), resolve(true)));
    ws.once('error', () => resolve(false));
  });
}

const INTERNALS = /Error|at .*\(|node:|\/tmp\/|EACCES|secret/;

beforeAll(async () => {
  library = await mkdtemp(path.join(os.tmpdir(), 'pw-refuse-lib-'));
  work = await mkdtemp(path.join(os.tmpdir(), 'pw-refuse-work-'));
  renderer = await mkdtemp(path.join(os.tmpdir(), 'pw-refuse-ui-'));
  await writeFile(path.join(renderer, 'index.html'), '<!doctype html><title>t</title>');
  served = await serveStudio({ libraryDir: library, allowedRoots: [work], rendererDir: renderer });
  wide = await serveStudio({
    libraryDir: library,
    allowedRoots: [work],
    rendererDir: renderer,
    host: '0.0.0.0',
    allowHosts: ['studio.lan', 'Other.Example'],
  });
});

afterAll(async () => {
  await served?.close();
  await wide?.close();
  for (const d of [library, work, renderer]) await rm(d, { recursive: true, force: true });
});

describe('the Host header beyond loopback', () => {
  it('refuses a name the server was not asked to serve', async () => {
    const evil = await raw(wide, '/', { headers: { Host: `evil.example:${wide.port}` } });
    expect(evil).toEqual({ status: 403, body: 'unexpected Host header' });
    expect(await opens(wide, { Host: `evil.example:${wide.port}` })).toBe(false);
    // The right name on another port is another server's.
    expect((await raw(wide, '/', { headers: { Host: 'studio.lan:1' } })).status).toBe(403);
  });

  it('answers the --host value, the --allow-host names and loopback', async () => {
    for (const host of ['studio.lan', 'other.example', '0.0.0.0', 'localhost', '[::1]']) {
      const res = await raw(wide, '/', { headers: { Host: `${host}:${wide.port}` } });
      expect([host, res.status]).toEqual([host, 200]);
    }
    expect(await opens(wide, { Host: `studio.lan:${wide.port}` })).toBe(true);
  });
});

describe('request bodies over the limit', () => {
  const big = Buffer.alloc(2 * 1024 * 1024, 0x20);
  const json = { 'Content-Type': 'application/json' };

  it('get 413 when the length is declared', async () => {
    const res = await raw(served, '/api', { method: 'POST', headers: json, body: big });
    expect(res).toEqual({ status: 413, body: 'request body over 1 MiB' });
  });

  it('get 413 when the body is chunked', async () => {
    const chunked = { ...json, 'Transfer-Encoding': 'chunked' };
    const res = await raw(served, '/api', { method: 'POST', headers: chunked, body: big });
    expect(res.status).toBe(413);
  });
});

describe('malformed addresses', () => {
  it('get 400, without the exception text', async () => {
    for (const target of ['/%E0%A4%A', '/files?path=%E0%A4%A', '/assets/%zz.js', '//']) {
      const res = await raw(served, target);
      expect([target, res.status]).toEqual([target, 400]);
      expect(res.body).not.toMatch(INTERNALS);
    }
  });

  it('refuse a WebSocket and leave the server up', async () => {
    expect(await opens(served, {}, '//')).toBe(false);
    expect((await raw(served, '/')).status).toBe(200);
  });
});

describe("the server's own failures", () => {
  it('answer a generic 500 and log the detail', async () => {
    const failing = vi
      .spyOn(served.studio, 'readableFile')
      .mockRejectedValue(new Error('EACCES: permission denied, open /home/u/secret.png'));
    const logged: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((line) => {
      logged.push(String(line));
      return true;
    });
    try {
      const res = await raw(served, '/files?path=x.png');
      expect(res.status).toBe(500);
      expect(res.body).not.toMatch(INTERNALS);
      expect(logged.join('')).toMatch(/GET \/files\?path=x\.png failed: Error: EACCES/);
    } finally {
      failing.mockRestore();
      stderr.mockRestore();
    }
  });
});

describe('the token', () => {
  it('is refused at start when shorter than 128 bits', async () => {
    for (const token of ['hunter2', 'a'.repeat(21), 'abcdef0123456789'.repeat(2).slice(1)]) {
      await expect(
        serveStudio({ libraryDir: library, allowedRoots: [work], rendererDir: null, token }),
      ).rejects.toThrow(/token is too short/);
    }
  });
});
