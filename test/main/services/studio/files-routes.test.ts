/**
 * The studio's own folder browser and upload inbox (issue 20, item 1), through Studio.handle
 * as `patchwork serve` calls it: a listing never shows what lies beyond the allowed folders
 * (a link out is marked, a path out refused), and a dropped image arrives whole, checked,
 * under a name of its own in the library's inbox, never over another file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { BrowseListing, UploadStarted } from '../../../../shared/ipc-files';
import { UPLOAD_CHUNK_BYTES } from '../../../../shared/ipc-files';
import type { Studio } from '../../../../main/services/studio/studio';
import { ask, openStudio, value } from '../../../support/studio';
import { useTempDir } from '../../../support/temp-dir';

const tmp = useTempDir('pw-files-routes-', { each: true });
const posix = process.platform !== 'win32';
const idleEngine = { pid: null, dispose: () => undefined };

async function png(file: string, width = 8): Promise<Buffer> {
  await mkdir(path.dirname(file), { recursive: true });
  const bytes = await sharp({
    create: { width, height: 8, channels: 3, background: '#204080' },
  })
    .png()
    .toBuffer();
  await writeFile(file, bytes);
  return bytes;
}

async function studioOver(): Promise<Studio> {
  await mkdir(tmp.path('library'), { recursive: true });
  return openStudio(tmp.path('library'), idleEngine, { allowedRoots: [tmp.path('allowed')] });
}

/** Sends `bytes` as the page does: begin, chunks in order, finish. */
async function upload(studio: Studio, name: string, bytes: Buffer, folder?: string) {
  const started = await value<UploadStarted>(studio, 'inbox:begin', {
    name,
    size: bytes.length,
    ...(folder ? { folder } : {}),
  });
  for (let at = 0; at < bytes.length; at += UPLOAD_CHUNK_BYTES) {
    const data = bytes.subarray(at, at + UPLOAD_CHUNK_BYTES).toString('base64');
    await value(studio, 'inbox:chunk', { uploadId: started.uploadId, offset: at, data });
  }
  const done = await value<{ path: string }>(studio, 'inbox:finish', {
    uploadId: started.uploadId,
  });
  return { ...started, path: done.path };
}

describe('folder:browse', () => {
  it('lists folders first, then files, hidden ones left out, with crumbs and parent', async () => {
    const studio = await studioOver();
    await mkdir(tmp.path('allowed', 'shoot', 'b-folder'), { recursive: true });
    await png(tmp.path('allowed', 'shoot', 'photo 10.png'));
    await png(tmp.path('allowed', 'shoot', 'photo 9.png'));
    await writeFile(tmp.path('allowed', 'shoot', 'notes.txt'), 'x');
    await writeFile(tmp.path('allowed', 'shoot', '.hidden.png'), 'x');
    const listing = await value<BrowseListing>(studio, 'folder:browse', {
      path: tmp.path('allowed', 'shoot'),
    });
    expect(listing.entries.map((e) => [e.name, e.kind])).toEqual([
      ['b-folder', 'folder'],
      ['notes.txt', 'file'],
      ['photo 9.png', 'image'],
      ['photo 10.png', 'image'],
    ]);
    expect(listing.crumbs.map((c) => c.path)).toEqual([
      tmp.path('allowed'),
      tmp.path('allowed', 'shoot'),
    ]);
    expect(listing.parent).toBe(tmp.path('allowed'));
    // The top of an allowed folder has no parent to go to: the one above is not allowed.
    const top = await value<BrowseListing>(studio, 'folder:browse', { path: tmp.path('allowed') });
    expect(top.parent).toBeNull();
    expect(top.places.map((p) => p.label)).toEqual(['allowed', 'Library', 'Uploads']);
    await studio.dispose();
  });

  it('refuses a folder outside the allowed ones, and one reached by `..`', async () => {
    const studio = await studioOver();
    await mkdir(tmp.path('allowed'), { recursive: true });
    await mkdir(tmp.path('private'));
    for (const p of [tmp.path('private'), path.join(tmp.path('allowed'), '..', 'private'), '/']) {
      const reply = await ask(studio, 'folder:browse', { path: p });
      expect(reply.ok).toBe(false);
      if (!reply.ok) expect(reply.error.code).toBe('forbidden-path');
    }
    const relative = await ask(studio, 'folder:browse', { path: 'allowed' });
    expect(relative.ok).toBe(false);
    await studio.dispose();
  });

  it.runIf(posix)('marks a link leading outside and never lists through it', async () => {
    const studio = await studioOver();
    await mkdir(tmp.path('allowed'), { recursive: true });
    await png(tmp.path('private', 'secret.png'));
    await symlink(tmp.path('private'), tmp.path('allowed', 'escape'));
    await png(tmp.path('allowed', 'inner', 'a.png'));
    await symlink(tmp.path('allowed', 'inner'), tmp.path('allowed', 'shortcut'));
    const listing = await value<BrowseListing>(studio, 'folder:browse', {
      path: tmp.path('allowed'),
    });
    const kinds = Object.fromEntries(listing.entries.map((e) => [e.name, e.kind]));
    expect(kinds).toEqual({ escape: 'outside', inner: 'folder', shortcut: 'folder' });
    const through = await ask(studio, 'folder:browse', { path: tmp.path('allowed', 'escape') });
    expect(through.ok).toBe(false);
    await studio.dispose();
  });

  it('opens a file’s or a missing path’s nearest folder, saying what was asked', async () => {
    const studio = await studioOver();
    await png(tmp.path('allowed', 'a', 'pic.png'));
    const file = await value<BrowseListing>(studio, 'folder:browse', {
      path: tmp.path('allowed', 'a', 'pic.png'),
    });
    expect(file.path).toBe(tmp.path('allowed', 'a'));
    expect(file.asked).toBe(tmp.path('allowed', 'a', 'pic.png'));
    const missing = await value<BrowseListing>(studio, 'folder:browse', {
      path: tmp.path('allowed', 'a', 'not', 'there'),
    });
    expect(missing.path).toBe(tmp.path('allowed', 'a'));
    const places = await value<BrowseListing>(studio, 'folder:browse', {});
    expect(places.path).toBeNull();
    expect(places.places.length).toBeGreaterThan(0);
    await studio.dispose();
  });
});

describe('the upload inbox', () => {
  it('writes a dropped image whole into a folder of the inbox, never over another', async () => {
    const studio = await studioOver();
    // Larger than one chunk, so it arrives in pieces.
    const big = await sharp(randomBytes(600 * 600 * 3), {
      raw: { width: 600, height: 600, channels: 3 },
    })
      .png({ compressionLevel: 0 })
      .toBuffer();
    expect(big.length).toBeGreaterThan(UPLOAD_CHUNK_BYTES);
    const first = await upload(studio, 'photo.PNG', big);
    expect(path.dirname(first.folder)).toBe(tmp.path('library', 'inbox'));
    expect(first.path).toBe(path.join(first.folder, 'photo.png'));
    expect((await readFile(first.path)).equals(big)).toBe(true);
    // The same name in the same drop gets a name of its own.
    const small = await png(tmp.path('small.png'));
    const second = await upload(studio, 'photo.png', small, first.folder);
    expect(second.path).toBe(path.join(first.folder, 'photo (2).png'));
    expect((await readFile(first.path)).equals(big)).toBe(true);
    // A name cannot climb out of the inbox or hide.
    const sneaky = await upload(studio, '../../.evil.png', small, first.folder);
    expect(sneaky.path).toBe(path.join(first.folder, 'evil.png'));
    // Nothing else is left in the folder: no temporaries.
    expect((await readdir(first.folder)).sort()).toEqual([
      'evil.png',
      'photo (2).png',
      'photo.png',
    ]);
    // A second drop gets a folder of its own.
    const other = await upload(studio, 'photo.png', small);
    expect(other.folder).not.toBe(first.folder);
    await studio.dispose();
  });

  it('refuses what is not an image, too large, out of order or outside the inbox', async () => {
    const studio = await studioOver();
    const notImage = await ask(studio, 'inbox:begin', { name: 'notes.txt', size: 10 });
    expect(notImage.ok).toBe(false);
    if (!notImage.ok) expect(notImage.error.message).toMatch(/not an image/);
    const huge = await ask(studio, 'inbox:begin', { name: 'a.png', size: 2 ** 40 });
    expect(huge.ok).toBe(false);
    if (!huge.ok) expect(huge.error.code).toBe('invalid-input');
    const elsewhere = await ask(studio, 'inbox:begin', {
      name: 'a.png',
      size: 10,
      folder: tmp.path('library'),
    });
    expect(elsewhere.ok).toBe(false);

    // Named like an image, but not one: refused at the end, and nothing is left behind.
    const fake = Buffer.from('this is plain text, not a PNG');
    const started = await value<UploadStarted>(studio, 'inbox:begin', {
      name: 'fake.png',
      size: fake.length,
    });
    const skipped = await ask(studio, 'inbox:chunk', {
      uploadId: started.uploadId,
      offset: 5,
      data: fake.toString('base64'),
    });
    expect(skipped.ok).toBe(false);
    if (!skipped.ok) expect(skipped.error.message).toMatch(/in order/);
    await value(studio, 'inbox:chunk', {
      uploadId: started.uploadId,
      offset: 0,
      data: fake.toString('base64'),
    });
    const finished = await ask(studio, 'inbox:finish', { uploadId: started.uploadId });
    expect(finished.ok).toBe(false);
    if (!finished.ok) expect(finished.error.message).toMatch(/not an image file/);
    expect(await readdir(started.folder)).toEqual([]);

    // More bytes than announced: refused and given up.
    const short = await value<UploadStarted>(studio, 'inbox:begin', { name: 'b.png', size: 4 });
    const over = await ask(studio, 'inbox:chunk', {
      uploadId: short.uploadId,
      offset: 0,
      data: Buffer.alloc(8).toString('base64'),
    });
    expect(over.ok).toBe(false);
    const gone = await ask(studio, 'inbox:finish', { uploadId: short.uploadId });
    expect(gone.ok).toBe(false);
    if (!gone.ok) expect(gone.error.code).toBe('not-found');
    expect(await readdir(short.folder)).toEqual([]);
    await studio.dispose();
  });
});
