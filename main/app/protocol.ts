/**
 * The app's own scheme, patchwork://app/: the built renderer, /files?path=… for
 * previews, thumbnails and outputs the studio allows (/thumbs small ones, /tiles the tiles of
 * the before/after viewer's zoom; addresses read by shared/resource-urls.ts) (never file://,
 * never webSecurity off).
 * Written against the web's Request and Response, so tests call it without Electron.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { contentTypeOf } from '../../shared/content-types';
import { parseResourceUrl } from '../../shared/resource-urls';
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
    const resource = parseResourceUrl(url);
    if (resource && 'error' in resource) return new Response(resource.error, { status: 400 });
    if (resource?.route === 'files') {
      const real = await files.readableFile(resource.path);
      if (!real) return new Response('not found', { status: 404 });
      return respond(real, await fs.readFile(real));
    }
    if (resource?.route === 'thumbs') {
      const made = await files.thumbnail(resource.path, resource.size);
      if (!made) return new Response('not found', { status: 404 });
      return respond(made, await fs.readFile(made));
    }
    if (resource?.route === 'tiles') {
      const { path: p, level, x, y } = resource;
      const made = await files.tile(p, level, x, y);
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
