/**
 * What the attack tests share: a real `patchwork serve` on a temporary library and allowed
 * folder (with an image in it and one outside it), raw HTTP requests that keep the address
 * and headers exactly as written (fetch would normalise both), and WebSocket handshakes.
 */
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { WebSocket } from 'ws';
import { serveStudio, type ServedStudio, type ServeStudioOptions } from '../../main/serve/index';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Site {
  served: ServedStudio;
  library: string;
  /** The folder the studio may use; holds `image`. */
  work: string;
  /** Somewhere else: holds `secret`. */
  outside: string;
  /** An allowed 64×48 PNG. */
  image: string;
  /** A PNG outside every allowed folder. */
  secret: string;
  close(): Promise<void>;
}

/** Text that would give away the machine: exception names, stack frames, paths, errnos. */
export const INTERNALS = /Error\b|\bat .*\(|node:|\/tmp\/|\/home\/|EACCES|ENOENT|secret/;

export async function openSite(extra: Partial<ServeStudioOptions> = {}): Promise<Site> {
  const library = await mkdtemp(path.join(os.tmpdir(), 'pw-sec-lib-'));
  const work = await mkdtemp(path.join(os.tmpdir(), 'pw-sec-work-'));
  const outside = await mkdtemp(path.join(os.tmpdir(), 'pw-sec-outside-'));
  const renderer = await mkdtemp(path.join(os.tmpdir(), 'pw-sec-ui-'));
  await writeFile(path.join(renderer, 'index.html'), '<!doctype html><title>studio</title>');
  const image = path.join(work, 'photo.png');
  const secret = path.join(outside, 'secret.png');
  const png = (colour: string) =>
    sharp({ create: { width: 64, height: 48, channels: 3, background: colour } }).png();
  await png('#336699').toFile(image);
  await png('#000000').toFile(secret);
  const served = await serveStudio({
    libraryDir: library,
    allowedRoots: [work],
    rendererDir: renderer,
    ...extra,
  });
  return {
    served,
    library,
    work,
    outside,
    image,
    secret,
    async close() {
      await served.close();
      for (const d of [library, work, outside, renderer])
        await rm(d, { recursive: true, force: true });
    },
  };
}

export const bearer = (site: Site) => ({ Authorization: `Bearer ${site.served.token}` });

/** One request exactly as written. */
export function raw(
  site: Site,
  target: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: site.served.port,
        path: target,
        method: opts.method ?? 'GET',
        headers: opts.headers ?? {},
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A POST /api of `body` with the token, as JSON unless the headers say otherwise. */
export function post(site: Site, body: unknown, headers: Record<string, string> = {}) {
  return raw(site, '/api', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...bearer(site), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** How a WebSocket handshake to `target` ends: the protocol it opened with, or 'refused'. */
export function handshake(
  site: Site,
  opts: { headers?: Record<string, string>; protocols?: string[]; target?: string } = {},
): Promise<{ opened: true; protocol: string } | { opened: false }> {
  const ws = new WebSocket(
    `ws://127.0.0.1:${site.served.port}${opts.target ?? '/events'}`,
    opts.protocols ?? [],
    { headers: opts.headers ?? {} },
  );
  return new Promise((resolve) => {
    ws.once('open', () => {
      const protocol = ws.protocol;
      ws.close();
      resolve({ opened: true, protocol });
    });
    ws.once('error', () => resolve({ opened: false }));
  });
}

/** The address of a resource, as the renderer builds it, plus `query`. */
export const filesUrl = (p: string, query = '') =>
  `/files?path=${encodeURIComponent(p)}${query ? `&${query}` : ''}`;
