/**
 * The /files, /thumbs and /tiles addresses: what the preload and the serve client build is
 * what `patchwork serve` and the app's scheme read back, byte for byte as before the builder
 * existed (the renderer's <img> tags and the e2e tests hold those strings).
 */
import { describe, expect, it } from 'vitest';
import {
  parseResourceUrl,
  resourceUrl,
  tileQuery,
  tileUrlOf,
  type Resource,
} from '../../shared/resource-urls';

describe('building addresses', () => {
  it('writes each route as the transports always have', () => {
    const p = '/a b/ü&c.png';
    const e = encodeURIComponent(p);
    expect(resourceUrl('patchwork://app/', { route: 'files', path: p })).toBe(
      `patchwork://app/files?path=${e}`,
    );
    expect(resourceUrl('http://h:1/', { route: 'thumbs', path: p, size: 255.6 })).toBe(
      `http://h:1/thumbs?size=256&path=${e}`,
    );
    expect(resourceUrl('', { route: 'tiles', path: p, level: 2, x: 3, y: 4 })).toBe(
      `tiles?path=${e}&level=2&x=3&y=4`,
    );
  });

  it('derives a tile’s address from its file’s, keeping the base', () => {
    const file = resourceUrl('http://h:1/sub/', { route: 'files', path: '/x/y.png' });
    expect(tileUrlOf(file, 1, 0, 2)).toBe('http://h:1/sub/tiles?path=%2Fx%2Fy.png&level=1&x=0&y=2');
    expect(tileUrlOf('files?path=%2Fq.png', 0, 1, 1)).toBe('tiles?path=%2Fq.png&level=0&x=1&y=1');
  });
});

describe('reading addresses', () => {
  const parse = (u: string) => parseResourceUrl(new URL(u));

  it('reads back what was built, and passes over other paths', () => {
    const resources: Resource[] = [
      { route: 'files', path: '/a b/c.png' },
      { route: 'thumbs', path: '/a b/c.png', size: 512 },
      { route: 'tiles', path: '/a b/c.png', level: 1, x: 2, y: 3 },
    ];
    for (const r of resources) expect(parse(resourceUrl('patchwork://app/', r))).toEqual(r);
    expect(parse('http://localhost/index.html')).toBeNull();
    expect(parse('http://localhost/thumbs?path=%2Fa.png')).toEqual({
      route: 'thumbs',
      path: '/a.png',
      size: 256,
    });
  });

  it('refuses thumbnail sizes outside 16 to 2048', () => {
    for (const size of ['0', '4096', 'abc', '12.5', '99999']) {
      expect(parse(`http://localhost/thumbs?size=${size}&path=%2Fa.png`)).toEqual({
        error: 'size must be a whole number from 16 to 2048',
      });
    }
  });

  it('reads a /tiles query, refusing anything but whole numbers', () => {
    const q = (s: string) => tileQuery(new URLSearchParams(s));
    expect(q('path=%2Fa.png&level=1&x=2&y=0')).toEqual({ path: '/a.png', level: 1, x: 2, y: 0 });
    expect(q('level=1&x=2&y=0')).toEqual({ error: 'path is required' });
    for (const bad of ['level=-1&x=0&y=0', 'level=1.5&x=0&y=0', 'level=1&x=a&y=0', 'level=1&x=0']) {
      expect(q(`path=%2Fa.png&${bad}`)).toHaveProperty('error');
    }
  });
});
