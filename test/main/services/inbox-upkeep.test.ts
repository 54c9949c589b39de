/**
 * The upload inbox's upkeep (issue 20: the inbox was never pruned), through Studio.handle as
 * `patchwork serve` calls it and under plain Node: what a start removes by itself (partial
 * uploads, abandoned drop folders, converted uploads past their days — never a result, never
 * an upload whose conversion did not finish, never through a link), what Settings is told, and
 * "Empty inbox": asked with confirmation, refused while a job or an upload uses the inbox,
 * removing links as themselves, and refusing an inbox that is a link.
 */
import { randomUUID } from 'node:crypto';
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StudioEvent } from '../../../shared/ipc';
import type { InboxUsage, UploadStarted } from '../../../shared/ipc-files';
import type { JobSnapshot } from '../../../shared/ipc-jobs';
import { INBOX_LEDGER_FILE } from '../../../main/services/inbox-upkeep';
import type { Studio } from '../../../main/services/studio/studio';
import { ask, HeldJobsHost, openStudio, value } from '../../support/studio';
import { useTempDir } from '../../support/temp-dir';

const tmp = useTempDir('pw-inbox-upkeep-', { each: true });
const posix = process.platform !== 'win32';
const DAY = 24 * 3600_000;
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8]);

/**
 * Runs each conversion as far as reporting every image in its input folder converted (an
 * output of the same name in its output folder), then holds it until `end`.
 */
const convertingHost = () =>
  new HeldJobsHost(async (work, onEvent) => {
    if (work.type !== 'convert') return;
    const { input, output } = work.spec;
    for (const name of await readdir(input)) {
      const file = {
        input: path.join(input, name),
        output: path.join(output, name),
        relative: name,
        status: 'done' as const,
      };
      await writeFile(file.output, PNG);
      onEvent({ kind: 'convert-file', file });
    }
  });

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));
const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

async function aged(file: string, days: number): Promise<void> {
  const t = new Date(Date.now() - days * DAY);
  await utimes(file, t, t);
}

async function studioOver(host: object = convertingHost()): Promise<Studio> {
  const library = tmp.path('library');
  await mkdir(path.join(library, 'styles', 'ink', 'style'), { recursive: true });
  await writeFile(
    path.join(library, 'styles', 'ink', 'style', 'style.json'),
    JSON.stringify({ name: 'Ink' }),
  );
  return openStudio(library, host, { allowedRoots: [tmp.path('allowed')] });
}

/** One image uploaded as the page sends it: its path in the inbox. */
async function upload(studio: Studio, name: string, folder?: string) {
  const started = await value<UploadStarted>(studio, 'inbox:begin', {
    name,
    size: PNG.length,
    ...(folder ? { folder } : {}),
  });
  await value(studio, 'inbox:chunk', {
    uploadId: started.uploadId,
    offset: 0,
    data: PNG.toString('base64'),
  });
  const { path: file } = await value<{ path: string }>(studio, 'inbox:finish', {
    uploadId: started.uploadId,
  });
  return { folder: started.folder, file };
}

describe('the inbox by itself', () => {
  it('removes converted uploads past 14 days at start, and nothing the artist still needs', async () => {
    const host = convertingHost();
    let studio = await studioOver(host);
    const events: StudioEvent[] = [];
    studio.subscribe((e) => events.push(e));
    // A drop converted into the folder beside it, as the page does it.
    const old = await upload(studio, 'old.png');
    const fresh = await upload(studio, 'fresh.png', old.folder);
    const results = `${old.folder} converted`;
    await mkdir(results);
    // Aged before the conversion: the ledger keeps each upload's time as converted.
    await aged(old.file, 20);
    const { job } = await value<{ job: JobSnapshot }>(studio, 'convert:start', {
      styleId: 'ink',
      input: old.folder,
      output: results,
    });
    await settle();
    host.end();
    await settle();
    expect(
      events.some((e) => e.type === 'job' && e.job.id === job.id && e.job.status === 'completed'),
    ).toBe(true);
    // A second drop never converted, and as old.
    const unconverted = await upload(studio, 'never.png');
    await aged(unconverted.file, 30);
    // Results in the inbox are the artist's, however old.
    for (const f of await readdir(results)) await aged(path.join(results, f), 40);
    await studio.dispose();
    expect(
      JSON.parse(await readFile(tmp.path('library', INBOX_LEDGER_FILE), 'utf8')),
    ).toMatchObject({ converted: { [path.join(path.basename(old.folder), 'old.png')]: {} } });

    studio = await studioOver(host);
    expect(await exists(old.file)).toBe(false);
    // Converted but young; old but not converted; every result: all kept.
    expect(await exists(fresh.file)).toBe(true);
    expect(await exists(unconverted.file)).toBe(true);
    expect((await readdir(results)).sort()).toEqual(['fresh.png', 'old.png']);
    await studio.dispose();
  });

  it('removes what unfinished uploads left at start: old temporaries, empty drop folders', async () => {
    const inbox = tmp.path('library', 'inbox');
    const drop = path.join(inbox, '2026-01-02 03-04-05');
    const abandoned = path.join(inbox, '2026-01-02 03-04-05 (2)');
    const young = path.join(inbox, '2026-01-02 03-04-06');
    const mine = path.join(inbox, 'my folder');
    for (const d of [drop, abandoned, young, mine]) await mkdir(d, { recursive: true });
    const partial = path.join(drop, `.big.png.${randomUUID()}.tmp`);
    const writing = path.join(drop, `.next.png.${randomUUID()}.tmp`);
    const kept = path.join(drop, 'kept.png');
    for (const f of [partial, writing, kept]) await writeFile(f, PNG);
    await aged(partial, 1);
    await aged(kept, 1);
    for (const d of [abandoned, mine]) await aged(d, 1);
    const studio = await studioOver();
    expect(await exists(partial)).toBe(false);
    // Younger than an upload may sit idle: perhaps another studio's upload under way.
    expect(await exists(writing)).toBe(true);
    expect(await exists(kept)).toBe(true);
    expect(await exists(abandoned)).toBe(false);
    // A drop folder just made may be about to get its first file; the artist's own stays.
    expect(await exists(young)).toBe(true);
    expect(await exists(mine)).toBe(true);
    await studio.dispose();
  });

  it.runIf(posix)('never follows a link out of the inbox, nor removes one by itself', async () => {
    const outside = tmp.path('allowed', 'secret.png');
    await mkdir(path.dirname(outside), { recursive: true });
    await writeFile(outside, PNG);
    await aged(outside, 30);
    const drop = tmp.path('library', 'inbox', '2026-01-02 03-04-05');
    await mkdir(drop, { recursive: true });
    await symlink(outside, path.join(drop, 'link.png'));
    // A ledger that names the link, as if it had been converted.
    const s = await stat(outside);
    await writeFile(
      tmp.path('library', INBOX_LEDGER_FILE),
      JSON.stringify({
        format: 'patchwork-inbox-1',
        converted: {
          '2026-01-02 03-04-05/link.png': { at: 'x', size: s.size, mtimeMs: s.mtimeMs },
          '../allowed/secret.png': { at: 'x', size: s.size, mtimeMs: s.mtimeMs },
        },
        results: [],
      }),
    );
    const studio = await studioOver();
    expect(await exists(path.join(drop, 'link.png'))).toBe(true);
    expect(await exists(outside)).toBe(true);
    await studio.dispose();
  });
});

describe('inbox:usage and inbox:empty', () => {
  it('tells the size, refuses while a job or an upload uses it, then empties it', async () => {
    const host = convertingHost();
    const studio = await studioOver(host);
    const empty0 = await value<InboxUsage>(studio, 'inbox:usage', {});
    expect(empty0).toMatchObject({ total: { files: 0, bytes: 0 }, busy: null, keepDays: 14 });
    const a = await upload(studio, 'a.png');
    await upload(studio, 'b.png', a.folder);
    const results = `${a.folder} converted`;
    await mkdir(results);
    await value(studio, 'convert:start', { styleId: 'ink', input: a.folder, output: results });
    await settle();
    // Running: the two uploads and their two results are there, and the inbox is in use.
    const running = await value<InboxUsage>(studio, 'inbox:usage', {});
    expect(running.total).toEqual({ files: 4, bytes: 4 * PNG.length });
    expect(running.uploads).toEqual({ files: 2, bytes: 2 * PNG.length });
    expect(running.busy).toBe('“Convert with Ink” uses it');
    const refused = await ask(studio, 'inbox:empty', { confirm: true });
    expect(!refused.ok && refused.error).toMatchObject({
      code: 'rejected',
      message: 'The inbox cannot be emptied now: “Convert with Ink” uses it.',
    });
    expect(await exists(a.file)).toBe(true);
    host.end();
    await settle();

    // Not without the artist's confirmation.
    const unasked = await ask(studio, 'inbox:empty', {});
    expect(!unasked.ok && unasked.error.code).toBe('invalid-input');
    // Not while an upload is under way.
    const open = await value<UploadStarted>(studio, 'inbox:begin', { name: 'c.png', size: 16 });
    const uploading = await ask(studio, 'inbox:empty', { confirm: true });
    expect(!uploading.ok && uploading.error.message).toMatch(/being uploaded/);
    await value(studio, 'inbox:abort', { uploadId: open.uploadId });

    const done = await value<{ removed: { files: number; bytes: number }; usage: InboxUsage }>(
      studio,
      'inbox:empty',
      { confirm: true },
    );
    expect(done.removed).toEqual({ files: 4, bytes: 4 * PNG.length });
    expect(done.usage.total).toEqual({ files: 0, bytes: 0 });
    expect(await readdir(tmp.path('library', 'inbox'))).toEqual([]);
    // The library around it is untouched.
    expect(await exists(tmp.path('library', 'styles', 'ink', 'style', 'style.json'))).toBe(true);
    // Uploads work again afterwards.
    expect((await upload(studio, 'd.png')).file).toMatch(/d\.png$/);
    await studio.dispose();
  });

  it.runIf(posix)('removes a link as itself, and refuses an inbox that is a link', async () => {
    const outside = tmp.path('allowed', 'keep');
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'precious.png'), PNG);
    const inbox = tmp.path('library', 'inbox');
    await mkdir(path.join(inbox, 'x'), { recursive: true });
    await symlink(outside, path.join(inbox, 'x', 'folder-link'));
    let studio = await studioOver();
    const done = await value<{ removed: { files: number } }>(studio, 'inbox:empty', {
      confirm: true,
    });
    expect(done.removed.files).toBe(1); // the link
    expect(await readdir(outside)).toEqual(['precious.png']);
    await studio.dispose();

    await symlink(outside, tmp.path('library', 'inbox-elsewhere'));
    const { rm, rename } = await import('node:fs/promises');
    await rm(inbox, { recursive: true });
    await rename(tmp.path('library', 'inbox-elsewhere'), inbox);
    studio = await studioOver();
    for (const channel of ['inbox:usage', 'inbox:empty']) {
      const reply = await ask(studio, channel, {
        ...(channel === 'inbox:empty' ? { confirm: true } : {}),
      });
      expect(!reply.ok && reply.error.message).toMatch(/is a link/);
    }
    expect(await readdir(outside)).toEqual(['precious.png']);
    await studio.dispose();
  });
});
