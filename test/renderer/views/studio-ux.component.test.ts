/**
 * The rules behind what the page tells the artist about jobs (issue 20, item 2) and the
 * folder browser's state (item 1), without a browser: a job that ends is told once (toast,
 * title), a system notification only for a long job or a hidden page and never in the
 * desktop app; the navigation's count and fraction; the gallery's next/previous wrapping
 * round; the browser falling back to the places when a typed path is refused, and
 * remembering the folder a choice was made in.
 */
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { StudioError } from '../../../shared/ipc';
import type { BrowseListing } from '../../../shared/ipc-files';
import type { ConvertFileInfo, JobSnapshot } from '../../../shared/ipc-jobs';
import { kindProgress, progressWords } from '../../../renderer/src/lib/job-progress';
import { FolderBrowserState } from '../../../renderer/src/lib/state/browser.svelte';
import { GalleryState } from '../../../renderer/src/lib/state/gallery.svelte';
import { Notices, type NoticeHost } from '../../../renderer/src/lib/state/notices.svelte';
import { fakeApi, jobSnapshot } from '../fake-api';
import { byText, cleanup, readyStyle, render } from './mount';

function job(over: Partial<JobSnapshot>): JobSnapshot {
  return jobSnapshot({
    kind: 'convert',
    title: 'Convert with Ink',
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  });
}

function host(hidden = false) {
  const shown: string[] = [];
  const h: NoticeHost = {
    hidden: () => hidden,
    notificationPermission: () => 'granted',
    requestNotifications: () => Promise.resolve('granted'),
    notify: (title) => shown.push(title),
  };
  return { h, shown };
}

describe('Notices', () => {
  it('tells a job’s end once: a toast and the title; a system notification when long', () => {
    const { h, shown } = host();
    const notices = new Notices(h, () => true);
    const running = job({});
    const short = job({ status: 'completed', finishedAt: '2026-01-01T00:00:05.000Z' });
    notices.jobChanged(running, short);
    expect(notices.toasts.map((t) => [t.text, t.tone])).toEqual([
      ['Convert with Ink: finished', 'ok'],
    ]);
    expect(notices.titleNote).toBe('✓ Convert with Ink finished');
    expect(shown).toEqual([]); // five seconds, page in view: no system notification
    notices.jobChanged(short, short); // already finished: nothing new
    expect(notices.toasts).toHaveLength(1);
    const long = job({
      status: 'failed',
      finishedAt: '2026-01-01T00:01:00.000Z',
      error: { message: 'no images in the folder' },
    });
    notices.jobChanged(running, long);
    expect(shown).toEqual(['Patchwork: Convert with Ink failed']);
    expect(notices.toasts[1]).toMatchObject({
      text: 'Convert with Ink: failed — no images in the folder',
      tone: 'error',
    });
    notices.seen();
    expect(notices.titleNote).toBeNull();
  });

  it('notifies a short job only when the page is hidden, and never in the desktop app', () => {
    const hidden = host(true);
    const done = job({ status: 'completed', finishedAt: '2026-01-01T00:00:01.000Z' });
    new Notices(hidden.h, () => true).jobChanged(job({}), done);
    expect(hidden.shown).toHaveLength(1);
    const desktop = host(true);
    new Notices(desktop.h, () => false).jobChanged(job({}), done);
    expect(desktop.shown).toEqual([]);
    // Taken off the queue before it started: no news.
    const quiet = new Notices(host().h, () => true);
    quiet.jobChanged(job({ status: 'queued', startedAt: null }), job({ status: 'cancelled' }));
    expect(quiet.toasts).toEqual([]);
  });
});

describe('kindProgress', () => {
  it('counts running and waiting jobs of a kind and averages how far the running ones are', () => {
    const progress = (done: number, total: number) => ({
      total,
      queued: 0,
      converting: 0,
      done,
      skipped: 0,
      failed: 0,
      etaSeconds: null,
    });
    const convert = (id: string, status: JobSnapshot['status'], done: number) =>
      job({
        id,
        status,
        convert: {
          styleId: 's',
          input: '/i',
          output: '/o',
          files: [],
          progress: progress(done, 4),
        },
      });
    const jobs = [
      convert('a', 'running', 1),
      convert('b', 'running', 3),
      convert('c', 'queued', 0),
      convert('d', 'completed', 4),
    ];
    const p = kindProgress(jobs, 'convert');
    expect(p).toEqual({ running: 2, queued: 1, fraction: 0.5 });
    expect(progressWords(p)).toBe('2 running · 50 % · 1 waiting');
    expect(progressWords(kindProgress(jobs, 'train'))).toBe('');
  });
});

describe('GalleryState', () => {
  it('steps through the converted files only, round and round, following new ones', () => {
    const files: ConvertFileInfo[] = [
      { input: '/a.png', output: '/o/a.png', relative: 'a.png', status: 'done' },
      { input: '/b.png', output: '/o/b.png', relative: 'b.png', status: 'failed' },
      { input: '/c.png', output: '/o/c.png', relative: 'c.png', status: 'done' },
    ];
    const g = new GalleryState();
    g.open({ title: 'Convert', files: () => files }, '/c.png');
    expect(g.current?.relative).toBe('c.png');
    g.step(1);
    expect(g.current?.relative).toBe('a.png');
    g.step(-1);
    expect(g.current?.relative).toBe('c.png');
    files.push({ input: '/d.png', output: '/o/d.png', relative: 'd.png', status: 'done' });
    g.go('last');
    expect(g.current?.relative).toBe('d.png');
    g.close();
    expect(g.isOpen).toBe(false);
  });
});

describe('FolderBrowserState', () => {
  const listing = (path: string | null): BrowseListing => ({
    path,
    parent: null,
    crumbs: [],
    entries: path
      ? [
          { name: 'sub', path: `${path}/sub`, kind: 'folder', size: null },
          { name: 'a.png', path: `${path}/a.png`, kind: 'image', size: 10 },
          { name: 'notes.txt', path: `${path}/notes.txt`, kind: 'file', size: 3 },
        ]
      : [],
    truncated: false,
    places: [{ label: 'Library', path: '/lib' }],
    asked: null,
  });

  it('opens at the field’s path, or at the places when it is refused; remembers a choice', async () => {
    const { api, requests } = fakeApi({
      'folder:browse': (input) =>
        input.path === '/etc'
          ? new StudioError({ code: 'forbidden-path', message: 'outside' })
          : listing(input.path ?? null),
    });
    const saved = new Map<string, string>();
    const storage = {
      getItem: (k: string) => saved.get(k) ?? null,
      setItem: saved.set.bind(saved),
    };
    const browser = new FolderBrowserState(api, storage);
    const chosen: string[] = [];
    await browser.open({
      title: 'A',
      accept: 'image',
      start: '/etc',
      choose: (p) => chosen.push(p),
    });
    expect(requests.map((r) => r.input)).toEqual([{ path: '/etc' }, {}]);
    expect(browser.listing?.path).toBeNull();
    await browser.go('/lib/shoot');
    const [sub, image, text] = browser.listing!.entries;
    // An image field takes an image, not another file; a folder is opened, not chosen.
    expect([browser.canChoose(image), browser.canChoose(text)]).toEqual([true, false]);
    await browser.enter(text);
    expect(chosen).toEqual([]);
    await browser.enter(sub);
    expect(browser.listing?.path).toBe('/lib/shoot/sub');
    browser.move(1);
    await browser.enter(browser.listing!.entries[browser.active]);
    expect(chosen).toEqual(['/lib/shoot/sub/a.png']);
    expect(browser.isOpen).toBe(false);
    // Next time (even in a new page), the folder is among the recent places.
    expect(new FolderBrowserState(api, storage).recent).toEqual(['/lib/shoot/sub']);
  });
});

describe('drops on the page', () => {
  afterEach(cleanup);

  /** A drop event as a file manager's: no File the page can read, a file:// address. */
  function fileManagerDrop(uri: string, files: unknown[] = []): Event {
    const e = new Event('drop', { bubbles: true, cancelable: true });
    Object.defineProperty(e, 'dataTransfer', {
      value: {
        files,
        types: ['Files'],
        getData: (k: string) => (k === 'text/uri-list' ? uri : ''),
      },
    });
    return e;
  }

  it('a folder dropped on Convert outside a field becomes the input; elsewhere it is kept', async () => {
    const fake = fakeApi({ 'styles:list': () => ({ styles: [readyStyle()] }) });
    await render(fake);
    byText('nav button', 'Convert')!.click();
    flushSync();
    const hint = document.querySelector('.drop-hint')!;
    const taken = hint.dispatchEvent(fileManagerDrop('file:///lib/photos%202'));
    flushSync();
    expect(taken).toBe(false);
    expect((document.getElementById('convert-input') as HTMLInputElement).value).toBe(
      '/lib/photos 2',
    );
    // On another view nothing takes it: the page keeps it (no navigation) and says where to drop.
    byText('nav button', 'Styles')!.click();
    flushSync();
    const kept = document
      .querySelector('main')!
      .dispatchEvent(fileManagerDrop('file:///lib/x.png', [{ name: 'x.png' }]));
    flushSync();
    expect(kept).toBe(false);
    expect(document.querySelector('[data-testid="toast"]')?.textContent).toContain(
      'Drop images on the Convert page',
    );
  });
});
