/**
 * The paths a request names, checked against the transport's PathPolicy (../path-policy.ts)
 * before anything touches them: full paths only, inside the allowed folders, and there as
 * the kind of thing the request needs (a folder, an image file). Each refusal names the
 * request's field, so the form can mark it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { CacheRoot } from '../cache-folder';
import { isBelow, type PathPolicy } from '../path-policy';
import { RequestError } from './request-error';
import { FIELD_LABELS, fieldLabel } from '../../../shared/plain-issues';

/** What the interface shows: pictures, by their extension. */
const IMAGE_FILE = /\.(png|jpe?g|webp|avif|tiff?|gif)$/i;

export class StudioPaths {
  constructor(
    readonly policy: PathPolicy,
    /** The studio's caches (heatmap pictures among them), readable wherever the roots are. */
    private readonly cache: CacheRoot,
  ) {}

  /**
   * What a job spec carries so the engine's scans leave out links leading outside the allowed
   * folders (nothing when every folder is allowed: the desktop app).
   */
  scanLimit(): { allowedRoots?: string[] } {
    return this.policy.roots ? { allowedRoots: [...this.policy.roots] } : {};
  }

  /**
   * A file the interface may show (a preview, a thumbnail, an output): its path, or null. A
   * path in the cache is the studio's own file, outside any folder the user chose: it is
   * served only as a plain file whose real path is in the cache (a link planted there is
   * refused, wherever it points); any other path must be inside the allowed folders.
   */
  async readableFile(p: string): Promise<string | null> {
    if (!path.isAbsolute(p) || !IMAGE_FILE.test(p)) return null;
    if (isBelow(path.resolve(p), this.cache.dir)) return this.cache.servable(p);
    const abs = await this.policy.resolve(p);
    if (!abs) return null;
    const stat = await fs.stat(abs).catch(() => null);
    if (!stat?.isFile()) return null;
    // The real path, checked once more as such: what is opened then follows no link that could
    // have been re-pointed since the first check.
    const real = await fs.realpath(abs).catch(() => null);
    return real && (await this.policy.resolve(real)) ? real : null;
  }

  /** A full path inside the allowed folders (it need not exist yet: an output). */
  async allowed(p: string, field: string): Promise<string> {
    if (!path.isAbsolute(p)) {
      throw new RequestError('invalid-input', `${said(field)}give a full path (${p} is relative)`, [
        { path: field, message: 'must be a full path' },
      ]);
    }
    const abs = await this.policy.resolve(p);
    if (!abs) {
      throw new RequestError(
        'forbidden-path',
        `${said(field)}${p} is outside the folders this studio may use`,
        [{ path: field, message: 'outside the allowed folders' }],
      );
    }
    return abs;
  }

  folder(p: string, field: string): Promise<string> {
    return this.existing(p, field, 'folder');
  }

  imageFile(p: string, field: string): Promise<string> {
    return this.existing(p, field, 'image');
  }

  /** An allowed path that is there and is a folder, or a file (one image, for SinCUT). */
  private async existing(p: string, field: string, kind: 'folder' | 'image'): Promise<string> {
    const abs = await this.allowed(p, field);
    const stat = await fs.stat(abs).catch(() => null);
    if (!(kind === 'folder' ? stat?.isDirectory() : stat?.isFile())) {
      const what = !stat
        ? 'does not exist'
        : kind === 'folder'
          ? 'is not a folder'
          : 'is a folder; SinCUT takes one image';
      throw new RequestError('rejected', `${said(field)}${abs} ${what}`, [
        { path: field, message: what },
      ]);
    }
    return abs;
  }
}

/** A message's lead: the field's label as the forms show it ("Images you have: "), if any. */
function said(field: string): string {
  return field in FIELD_LABELS ? `${fieldLabel(field)}: ` : '';
}
