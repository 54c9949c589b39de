/**
 * The app's own scheme, patchwork://app/: the built renderer, /files?path=… for
 * previews, thumbnails and outputs the studio allows (/thumbs small ones, /tiles the tiles of
 * the before/after viewer's zoom) (never file://, never webSecurity off).
 * Written against the web's Request and Response, so tests call it without Electron.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { contentTypeOf } from '../../shared/content-types';
import { tileQuery } from '../services/tiles';
import { APP_CSP } from './security';

export interface FileGate {
  /** The path if the page may see it, else null. */
  readableFile(p: string): Promise<string | null>;
  /** A cached small WebP of an allowed image, or null. */
  thumbnail(p: string, size: number): Promise<string | null>;
  /** A cached full-resolution tile of an allowed image, or the status and reason. */
  tile(
    p: string,
    level: number,
    x: number,
    y: number,
  ): Promise<{ file: string } | { status: 400 | 404; message: string }>;
}

/** The largest thumbnail the page may ask for (main/services/thumbnails.ts's biggest step). */
const MAX_THUMB = 2048;

export function appProtocolHandler(
  rendererDir: string,
  files: FileGate,
): (request: Request) => Promise<Response> {
  const root = path.resolve(rendererDir);
  return async (request) => {
    const url = new URL(request.url);
    if (url.host !== 'app' || request.method !== 'GET') {
      return new Response('not found', { status: 404 });
    }
    if (url.pathname === '/files') {
      const real = await files.readableFile(url.searchParams.get('path') ?? '');
      if (!real) return new Response('not found', { status: 404 });
      return respond(real, await fs.readFile(real));
    }
    if (url.pathname === '/thumbs') {
      const size = Number(url.searchParams.get('size') ?? '256');
      if (!Number.isInteger(size) || size < 16 || size > MAX_THUMB) {
        return new Response('bad size', { status: 400 });
      }
      const made = await files.thumbnail(url.searchParams.get('path') ?? '', size);
      if (!made) return new Response('not found', { status: 404 });
      return respond(made, await fs.readFile(made));
    }
    if (url.pathname === '/tiles') {
      const q = tileQuery(url.searchParams);
      if ('error' in q) return new Response(q.error, { status: 400 });
      const made = await files.tile(q.path, q.level, q.x, q.y);
      if ('status' in made) return new Response(made.message, { status: made.status });
      return respond(made.file, await fs.readFile(made.file));
    }
    const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname.slice(1));
    const target = path.resolve(root, rel);
    if (!target.startsWith(root + path.sep)) return new Response('not found', { status: 404 });
    const body = await fs.readFile(target).catch(() => null);
    if (!body) return new Response('not found', { status: 404 });
    return respond(target, body);
  };
}

function respond(file: string, body: Buffer): Response {
  const type = contentTypeOf(path.extname(file));
  const headers: Record<string, string> = {
    'Content-Type': type,
    'X-Content-Type-Options': 'nosniff',
  };
  if (type.startsWith('text/html')) headers['Content-Security-Policy'] = APP_CSP;
  return new Response(new Uint8Array(body), { status: 200, headers });
}
