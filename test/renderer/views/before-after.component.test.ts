/**
 * The before/after viewer over full-resolution tiles, with a scripted tile loader: at fit
 * only the previews are drawn; zoomed in, the tiles in view are asked for (at most four at a
 * time, each side only where it is seen), drawn over the previews where they belong, and a
 * request whose tile has left the view is cancelled.
 */
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import BeforeAfter from '../../../renderer/src/components/BeforeAfter.svelte';
import { CompareState, TILES_IN_FLIGHT } from '../../../renderer/src/lib/state/compare.svelte';
import { StudioError } from '../../../shared/ipc';
import { fakeApi, settle } from '../fake-api';

/** A 40-Mpx pair: 16×11 tiles of 512 at level 0. */
const info = { width: 7744, height: 5184, tileSize: 512, levels: 5 };

let app: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (app) unmount(app);
  app = null;
  document.body.innerHTML = '';
});

function viewer() {
  const loads: {
    url: string;
    signal: AbortSignal;
    done: (src: string) => void;
    fail: () => void;
    answered: boolean;
  }[] = [];
  const released: string[] = [];
  const view = new CompareState(
    (url, signal) =>
      new Promise<string>((resolve, reject) => {
        const load = {
          url,
          signal,
          answered: false,
          done: (src: string) => {
            load.answered = true;
            resolve(src);
          },
          fail: () => {
            load.answered = true;
            reject(new Error('404 no tile'));
          },
        };
        loads.push(load);
        signal.addEventListener('abort', () => reject(new Error('aborted')));
      }),
    (src) => released.push(src),
  );
  app = mount(BeforeAfter, { target: document.body, props: { view } });
  view.open({ title: 'photo.jpg', before: 'thumbs/in', after: 'thumbs/out' });
  flushSync();
  // happy-dom lays nothing out: the stage's size as a browser would measure it.
  view.width = 968;
  view.height = 648;
  flushSync();
  const pending = () => loads.filter((l) => !l.signal.aborted && !l.answered);
  const tileOf = (url: string) => {
    const q = new URL(url, 'http://x/').searchParams;
    return `${q.get('path')} ${q.get('level')}/${q.get('x')}/${q.get('y')}`;
  };
  return { view, loads, released, pending, tileOf };
}

describe('before/after over full-resolution tiles', () => {
  it('draws the previews at fit, then the tiles in view when zoomed, a few at a time', async () => {
    const { view, loads, released, pending, tileOf } = viewer();
    const fake = fakeApi({ 'image:tiles': () => info });
    await view.useTiles(fake.api, '/w/in.jpg', '/w/out.jpg');
    flushSync();
    expect(fake.requests.map((r) => r.input)).toEqual([
      { path: '/w/in.jpg' },
      { path: '/w/out.jpg' },
    ]);
    expect(loads).toHaveLength(0); // at fit the 2048-px previews have the pixels

    view.zoomBy(8, 0, 0); // 1:1 at the top-left corner
    flushSync();
    // Before: stage x 0–484 (column 0); after: 484–968 (columns 0 and 1); rows 0 and 1.
    expect(loads).toHaveLength(TILES_IN_FLIGHT);
    const asked = loads.map((l) => tileOf(l.url));
    expect(asked.every((t) => /^\/w\/(in|out)\.jpg 0\/[01]\/[01]$/.test(t))).toBe(true);
    expect(asked.filter((t) => t.startsWith('/w/in.jpg')).every((t) => t.includes(' 0/0/'))).toBe(
      true,
    );
    expect(loads[0].url).toMatch(/^tiles\?path=%2Fw%2F(in|out)\.jpg&level=0&x=\d&y=\d$/);

    // One arrives: drawn over its preview, where its pixels are; the next is asked for.
    const first = loads[0];
    const [, key] = tileOf(first.url).split(' ');
    first.done('blob:tile-1');
    await settle();
    flushSync();
    const img = document.querySelector<HTMLImageElement>(`.tiles img[data-tile="${key}"]`)!;
    expect(img.getAttribute('src')).toBe('blob:tile-1');
    const [x, y] = key.split('/').slice(1).map(Number);
    expect(img.style.left).toBe(`${x * 512}px`);
    expect(img.style.top).toBe(`${y * 512}px`);
    expect(img.style.width).toBe('512px');
    expect(pending()).toHaveLength(TILES_IN_FLIGHT);
    expect(loads).toHaveLength(TILES_IN_FLIGHT + 1);

    // Panned far away: what was asked for the corner is cancelled, the new view asked for.
    const before = new Set(pending());
    view.panBy(-3000, -2000);
    flushSync();
    expect([...before].every((l) => l.signal.aborted)).toBe(true);
    expect(pending()).toHaveLength(TILES_IN_FLIGHT);
    expect(pending().every((l) => /0\/([5-7])\/([3-5])$/.test(tileOf(l.url)))).toBe(true);
    expect(document.querySelector(`.tiles img[data-tile="${key}"]`)).toBeNull();

    // A tile that cannot be made is not asked for again (the preview stays under it).
    const broken = pending()[0];
    broken.fail();
    await settle();
    flushSync();
    view.panBy(-1, 0);
    flushSync();
    expect(loads.filter((l) => tileOf(l.url) === tileOf(broken.url))).toHaveLength(1);
    expect(pending()).toHaveLength(TILES_IN_FLIGHT);

    // Closing lets every loaded tile go.
    view.close();
    flushSync();
    expect(released).toEqual(['blob:tile-1']);
    expect(pending()).toHaveLength(0);
  });

  it('zoomed in further, keeps a coarser loaded tile under the finer ones on their way', async () => {
    const { view, pending, tileOf } = viewer();
    await view.useTiles(fakeApi({ 'image:tiles': () => info }).api, '/w/in.jpg', '/w/out.jpg');
    view.zoomBy(3, 0, 0); // 0.375 screen px per image px: level 1
    flushSync();
    expect(pending().every((l) => / 1\/\d\/\d$/.test(tileOf(l.url)))).toBe(true);
    for (let round = 0; round < 4 && pending().length; round++) {
      for (const l of pending()) l.done(`blob:${tileOf(l.url)}`);
      await settle();
      flushSync();
    }
    expect(document.querySelector('[data-side="before"] img[data-tile="1/0/0"]')).not.toBeNull();

    view.zoomBy(8 / 3, 0, 0); // level 0 now; none of its tiles has arrived yet
    flushSync();
    const before = () =>
      [...document.querySelectorAll('[data-side="before"] img')].map((i) =>
        i.getAttribute('data-tile'),
      );
    expect(before()).toEqual(['1/0/0']);
    const coarse = document.querySelector<HTMLImageElement>('[data-side="before"] img')!;
    expect([coarse.style.left, coarse.style.width]).toEqual(['0px', '1024px']);
    const fine = pending().find((l) => tileOf(l.url) === '/w/in.jpg 0/0/0')!;
    fine.done('blob:fine');
    await settle();
    flushSync();
    // The finer tile is drawn over the coarse one.
    expect(before()).toEqual(['1/0/0', '0/0/0']);
  });

  it('keeps to the previews, saying why, when the tiles cannot be had', async () => {
    const { view, loads } = viewer();
    const fake = fakeApi({
      'image:tiles': () =>
        new StudioError({ code: 'not-found', message: 'path: /w/in.jpg is not an image' }),
    });
    await view.useTiles(fake.api, '/w/in.jpg', '/w/out.jpg');
    view.zoomBy(8);
    flushSync();
    expect(loads).toHaveLength(0);
    expect(document.querySelector('.compare [role="status"]')?.textContent).toMatch(
      /Full resolution is not available: .*not an image/,
    );
    expect(document.querySelector('img[alt="After"]')?.getAttribute('src')).toBe('thumbs/out');
  });
});
