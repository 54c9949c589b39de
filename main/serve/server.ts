/**
 * `patchwork serve`'s transport: the studio's contract (shared/ipc.ts) over HTTP and a
 * WebSocket, serving the built renderer to a browser. POST /api carries the same
 * { channel, input } envelope the preload sends over Electron's IPC and answers with the
 * same Reply; /events pushes the same events; /files serves previews and outputs the studio
 * allows, /thumbs small WebPs of them and /tiles their full-resolution tiles (addresses read
 * by shared/resource-urls.ts). Bound to loopback unless asked otherwise. The page itself
 * (index.html, its scripts and styles) is public: it holds nothing but the built interface.
 * Everything else needs the token, and never from a cookie, which browsers would send to
 * every other server on this host (shared/serve-auth.ts): /api and /events take it as an
 * Authorization: Bearer header (/events also as a subprotocol, since browsers cannot set
 * headers on a WebSocket), and /files, /thumbs and /tiles also take a grant signed for that
 * one image (shared/resource-grants.ts). The Host and Origin headers must name this server,
 * which keeps other sites and DNS rebinding out. What a request did wrong is answered in a
 * 4xx; a failure of the server's own is logged under an id and answered with a generic 500
 * naming only that id, since its text (paths, stacks) is not the caller's business.
 */
import { contentTypeOf } from '../../shared/content-types';
import { createReadStream, promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ErrorCode, Reply } from '../../shared/ipc';
import {
  grantKey,
  grantMessage,
  grantOf,
  grantTimeProblem,
  type Grant,
} from '../../shared/resource-grants';
import { parseResourceUrl } from '../../shared/resource-urls';
import { tokenOfProtocols, WS_PROTOCOL } from '../../shared/serve-auth';
import { errorId } from '../services/studio/request-error';
import type { Studio } from '../services/studio/studio';
import { hostMatcher, hostNameProblem } from './host-names';
import { PublicErrors } from './public-errors';
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
  /** The clock grants are judged by (ms since the epoch); tests move it. */
  now?: () => number;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

/** A request body past MAX_BODY: answered 413, not read further. */
class BodyTooLarge extends Error {}
/** A client that stopped sending before the body it announced was complete: its doing. */
class BodyCutShort extends Error {}

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
  const now = opts.now ?? Date.now;
  const key = Buffer.from(grantKey(opts.token));
  const publicErrors = new PublicErrors(log);
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

  /** The token of an Authorization: Bearer header; a cookie or a ?token= never counts. */
  const bearerOk = (req: IncomingMessage): boolean =>
    tokenOk(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]);

  /** Whether `grant` was signed for `p` with this server's key. */
  const grantOk = (grant: Grant, p: string): boolean => {
    const expected = createHmac('sha256', key).update(grantMessage(p, grant.exp)).digest();
    const given = Buffer.from(grant.sig, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const server = createServer((req, res) => {
    void route(req, res).catch((err: unknown) => {
      const id = errorId();
      log(`serve: error ${id}: ${req.method ?? '?'} ${req.url ?? ''} failed: ${errorText(err)}`);
      if (res.headersSent) res.destroy();
      else send(res, 500, 'text/plain', `internal error ${id} (the server log has the detail)`);
    });
  });

  const NEEDS_TOKEN =
    'This Patchwork server needs its token: open the address `patchwork serve` printed.';

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostOk(req)) return send(res, 403, 'text/plain', 'unexpected Host header');
    const url = requestUrl(req);
    if (!url) return send(res, 400, 'text/plain', 'malformed address (a bad %-escape?)');
    if (url.pathname === '/api') {
      if (!bearerOk(req)) return send(res, 401, 'text/plain', NEEDS_TOKEN);
      return api(req, res);
    }
    const resource = parseResourceUrl(url);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', '');
    if (resource) {
      if ('error' in resource) return send(res, 400, 'text/plain', resource.error);
      if (!bearerOk(req)) {
        const grant = grantOf(url.searchParams);
        if (grant === null) return send(res, 401, 'text/plain', NEEDS_TOKEN);
        if ('error' in grant) return send(res, 400, 'text/plain', grant.error);
        const late = grantTimeProblem(grant, now());
        if (late) return send(res, 403, 'text/plain', late);
        if (!grantOk(grant, resource.path)) {
          return send(res, 403, 'text/plain', 'this image address is not signed for that file');
        }
      }
      if (resource.route === 'files') return file(res, resource.path);
      if (resource.route === 'thumbs') return thumb(res, resource.path, resource.size);
      return tile(res, resource.path, resource.level, resource.x, resource.y);
    }
    // The page: public, whatever its query (an old ?token= link is read by the page itself).
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
      if (err instanceof BodyCutShort) {
        // Nobody is left to read an answer, most likely; if someone is, it is a 400.
        if (!res.writable) return;
        return send(res, 400, 'text/plain', 'the request body was cut short');
      }
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
    send(res, status, 'application/json', publicErrors.stringify(reply));
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

  // CONNECT (a proxy's method) would otherwise be dropped without a word.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  // Events: one WebSocket per tab, the same token and origin rules.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    // The page offers the plain protocol beside the one carrying its token; only the plain
    // one is answered, so the token is not echoed.
    handleProtocols: (offered) => (offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
  });
  server.on('upgrade', (req, socket, head) => {
    const url = requestUrl(req);
    const ok =
      url?.pathname === '/events' &&
      hostOk(req) &&
      originOk(req) &&
      (bearerOk(req) || tokenOk(tokenOfProtocols(req.headers['sec-websocket-protocol'])));
    if (!ok) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws));
  });

  function attach(ws: WebSocket): void {
    const off = studio.subscribe((event) => {
      if (ws.readyState === ws.OPEN) ws.send(publicErrors.stringify(event));
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
    // In the fragment: the browser never sends it, and the page moves it into sessionStorage.
    url: `http://${shownHost}:${port}/#token=${encodeURIComponent(opts.token)}`,
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
    // 'aborted' (the connection closed mid-body) is the only error a request stream emits.
    req.on('error', () => reject(new BodyCutShort()));
    req.on('close', () => {
      if (!req.complete) reject(new BodyCutShort());
    });
  });
}
