/**
 * `patchwork serve`'s transport: the studio's contract (shared/ipc.ts) over HTTP and a
 * WebSocket, serving the built renderer to a browser. POST /api carries the same
 * { channel, input } envelope the preload sends over Electron's IPC and answers with the
 * same Reply; /events pushes the same events; /files serves previews and outputs the studio
 * allows, /thumbs small WebPs of them and /tiles their full-resolution tiles (addresses read
 * by shared/resource-urls.ts). Bound to loopback unless asked otherwise; every request needs
 * the token (the
 * URL's ?token=, then a SameSite cookie, or an Authorization: Bearer header), and the Host
 * and Origin headers must name this server, which keeps other sites and DNS rebinding out.
 * What a request did wrong is answered in a 4xx; a failure of the server's own is logged and
 * answered with a generic 500, since its text (paths, stacks) is not the caller's business.
 */
import { contentTypeOf } from '../../shared/content-types';
import { createReadStream, promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ErrorCode, Reply } from '../../shared/ipc';
import { parseResourceUrl } from '../../shared/resource-urls';
import type { Studio } from '../services/studio/studio';
import { hostMatcher, hostNameProblem } from './host-names';
import { tokenProblem } from './token';

export interface ServeOptions {
  studio: Studio;
  token: string;
  /** 127.0.0.1 unless the user opts in to another interface. */
  host?: string;
  /** Names besides `host` (and loopback's) that requests may give as Host: --allow-host. */
  allowHosts?: string[];
  /** 0: any free port. */
  port?: number;
  /** The built renderer (index.html, assets/); null serves a page saying how to build it. */
  rendererDir: string | null;
  /** Where the detail of the server's own failures goes (stderr unless given). */
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const TOKEN_COOKIE = 'patchwork_token';
const MAX_BODY = 1024 * 1024;

/** A request body past MAX_BODY: answered 413, not read further. */
class BodyTooLarge extends Error {}

const STATUS: Record<ErrorCode, number> = {
  'invalid-message': 400,
  'invalid-input': 400,
  rejected: 422,
  'forbidden-path': 403,
  'not-found': 404,
  unsupported: 501,
  internal: 500,
};

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const bindHost = opts.host ?? '127.0.0.1';
  const allowHosts = opts.allowHosts ?? [];
  // The CLI refuses these as usage errors first; this keeps other callers to the same rules.
  const problem =
    tokenProblem(opts.token) ?? allowHosts.map(hostNameProblem).find((p) => p !== null) ?? null;
  if (problem) throw new Error(problem);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let port = 0;
  const studio = opts.studio;

  const tokenOk = (candidate: string | null | undefined): boolean => {
    if (!candidate) return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(opts.token);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  const namesThisServer = hostMatcher(bindHost, allowHosts, () => port);
  const hostOk = (req: IncomingMessage): boolean => namesThisServer(req.headers.host);

  const originOk = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    return origin === `http://${req.headers.host ?? ''}`;
  };

  const authorized = (req: IncomingMessage, url: URL): boolean => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    return (
      tokenOk(url.searchParams.get('token')) ||
      tokenOk(bearer) ||
      tokenOk(cookie(req, TOKEN_COOKIE))
    );
  };

  const server = createServer((req, res) => {
    void route(req, res).catch((err: unknown) => {
      log(`serve: ${req.method ?? '?'} ${req.url ?? ''} failed: ${errorText(err)}`);
      if (res.headersSent) res.destroy();
      else send(res, 500, 'text/plain', 'internal error (the server log has the detail)');
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostOk(req)) return send(res, 403, 'text/plain', 'unexpected Host header');
    const url = requestUrl(req);
    if (!url) return send(res, 400, 'text/plain', 'malformed address (a bad %-escape?)');
    if (!authorized(req, url)) {
      return send(
        res,
        401,
        'text/plain',
        'This Patchwork server needs its token: open the address `patchwork serve` printed.',
      );
    }
    if (url.pathname === '/api') return api(req, res);
    const resource = parseResourceUrl(url);
    if (resource) {
      if ('error' in resource) return send(res, 400, 'text/plain', resource.error);
      if (resource.route === 'files') return file(res, resource.path);
      if (resource.route === 'thumbs') return thumb(res, resource.path, resource.size);
      return tile(res, resource.path, resource.level, resource.x, resource.y);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', '');
    if (url.searchParams.has('token')) {
      // First visit with the token: a cookie carries it from here on, and the address bar
      // loses it (it would otherwise end up in history and screenshots).
      res.setHeader(
        'Set-Cookie',
        `${TOKEN_COOKIE}=${opts.token}; HttpOnly; SameSite=Strict; Path=/`,
      );
      res.writeHead(303, { Location: url.pathname });
      res.end();
      return;
    }
    return asset(res, url.pathname);
  }

  async function api(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return send(res, 405, 'text/plain', 'POST only');
    if (!originOk(req)) return send(res, 403, 'text/plain', 'cross-origin request refused');
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
      return send(res, 415, 'text/plain', 'send application/json');
    }
    let body: string;
    try {
      body = await readBody(req);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      res.setHeader('Connection', 'close');
      return send(res, 413, 'text/plain', `request body over ${MAX_BODY / 1024 / 1024} MiB`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch (err) {
      const reply: Reply<never> = {
        ok: false,
        error: { code: 'invalid-message', message: `not JSON: ${(err as Error).message}` },
      };
      return send(res, 400, 'application/json', JSON.stringify(reply));
    }
    const reply = await studio.handle(raw);
    const status = reply.ok ? 200 : STATUS[reply.error.code];
    send(res, status, 'application/json', JSON.stringify(reply));
  }

  async function file(res: ServerResponse, p: string): Promise<void> {
    const real = await studio.readableFile(p);
    if (!real) return send(res, 404, 'text/plain', 'no such file here');
    res.writeHead(200, {
      'Content-Type': contentTypeOf(path.extname(real)),
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    createReadStream(real).pipe(res);
  }

  async function thumb(res: ServerResponse, p: string, size: number): Promise<void> {
    const made = await studio.thumbnail(p, size);
    if (!made) return send(res, 404, 'text/plain', 'no preview of that file here');
    res.writeHead(200, {
      'Content-Type': 'image/webp',
      'Cache-Control': 'private, max-age=60',
      'X-Content-Type-Options': 'nosniff',
    });
    createReadStream(made).pipe(res);
  }

  async function tile(
    res: ServerResponse,
    p: string,
    level: number,
    x: number,
    y: number,
  ): Promise<void> {
    const made = await studio.tile(p, level, x, y);
    if ('status' in made) return send(res, made.status, 'text/plain', made.message);
    res.writeHead(200, {
      'Content-Type': 'image/webp',
      'Cache-Control': 'private, max-age=60',
      'X-Content-Type-Options': 'nosniff',
    });
    createReadStream(made.file).pipe(res);
  }

  async function asset(res: ServerResponse, pathname: string): Promise<void> {
    const dir = opts.rendererDir;
    if (!dir) {
      return send(
        res,
        503,
        'text/plain',
        'The interface is not built: run `npm run build:renderer`, then reload.',
      );
    }
    const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname.slice(1));
    const target = path.resolve(dir, rel);
    if (!target.startsWith(path.resolve(dir) + path.sep)) return send(res, 404, 'text/plain', '');
    const body = await fs.readFile(target).catch(() => null);
    if (!body) return send(res, 404, 'text/plain', 'not found');
    const type = contentTypeOf(path.extname(target));
    if (type.startsWith('text/html')) res.setHeader('Content-Security-Policy', csp(port));
    res.writeHead(200, {
      'Content-Type': type,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    });
    res.end(body);
  }

  // Events: one WebSocket per tab, the same token and origin rules.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = requestUrl(req);
    const ok = url?.pathname === '/events' && hostOk(req) && originOk(req) && authorized(req, url);
    if (!ok) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws));
  });

  function attach(ws: WebSocket): void {
    const off = studio.subscribe((event) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(event));
    });
    ws.on('close', off);
    ws.on('error', off);
    // The socket is for events only; anything sent to it is ignored.
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, bindHost, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  return {
    port,
    url: `http://${shownHost}:${port}/?token=${opts.token}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The page's policy: nothing inline, nothing evaluated, nothing from elsewhere. */
export function csp(port: number): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(body);
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

/**
 * The request's address, or null when it cannot be one: no URL parses from it, or a
 * %-escape in its path or query decodes to no text (URLSearchParams would quietly turn it
 * into U+FFFD, and the route would then look for a file nobody named).
 */
function requestUrl(req: IncomingMessage): URL | null {
  const target = req.url ?? '/';
  if (!URL.canParse(target, 'http://localhost')) return null;
  try {
    decodeURIComponent(target);
  } catch {
    return null;
  }
  return new URL(target, 'http://localhost');
}

function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        // Stop collecting; the 413 is sent and the connection closed after it.
        req.removeAllListeners('data');
        reject(new BodyTooLarge());
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
