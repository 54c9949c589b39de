/**
 * The Heatmaps view over a scripted api: opening sends the style and image, a click on the
 * output asks for that point in the full image's pixels, the map replaces the input with its
 * best match marked, and only the latest click's answer is shown.
 */
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { HeatmapView } from '../../../shared/ipc';
import type { BrowseListing } from '../../../shared/ipc-files';
import { fakeApi } from '../fake-api';
import { byText, cleanup, readyStyle, render, type, update } from './mount';

afterEach(cleanup);

const opened: HeatmapView = {
  input: '/tmp/h/in.png',
  output: '/tmp/h/out.png',
  width: 2000,
  height: 1000,
  workingWidth: 1024,
  workingHeight: 512,
  taps: ['input', 'down1', 'down2', 'res1'],
  mode: 'projected',
};

const answer = (x: number, y: number, tap = 'res1'): HeatmapView => ({
  ...opened,
  map: {
    tap,
    file: `/tmp/h/map-${x}-${y}.png`,
    min: -0.2,
    max: 0.9,
    query: { x, y },
    best: { x: 500, y: 250, similarity: 0.9 },
  },
});

async function openHeatmaps(fake: ReturnType<typeof fakeApi>) {
  const studio = await render(fake);
  byText('nav button', 'Heatmaps')!.click();
  flushSync();
  const select = document.getElementById('heatmap-style') as HTMLSelectElement;
  select.value = 'sepia';
  select.dispatchEvent(new Event('change', { bubbles: true }));
  type(document.getElementById('heatmap-image') as HTMLInputElement, '/lib/photo.jpg');
  flushSync();
  byText('button', 'Open')!.click();
  await update();
  return studio;
}

/**
 * The Heatmaps view open on a ready style, each query held (and recorded in the fake's
 * requests) until its `answer` is called.
 */
async function openHeld() {
  const pending: { input: { x: number; y: number }; answer: () => void }[] = [];
  const fake = fakeApi({
    'styles:list': () => ({ styles: [readyStyle()] }),
    'heatmap:open': () => opened,
  });
  const studio = await openHeatmaps(fake);
  const request = fake.api.request;
  fake.api.request = (async (channel: string, input: { x: number; y: number }) => {
    if (channel !== 'heatmap:query') return request(channel as 'app:info', {});
    fake.requests.push({ channel, input });
    await new Promise<void>((answer) => pending.push({ input, answer }));
    return answer(input.x, input.y);
  }) as typeof fake.api.request;
  return { fake, studio, pending };
}

describe('heatmaps', () => {
  it('opens, then answers a click on the output with the map over the input', async () => {
    const fake = fakeApi({
      'styles:list': () => ({ styles: [readyStyle()] }),
      'heatmap:open': () => opened,
      'heatmap:query': ({ x, y, tap }) => answer(x, y, tap),
    });
    await openHeatmaps(fake);
    expect(fake.requests.find((r) => r.channel === 'heatmap:open')?.input).toEqual({
      styleId: 'sepia',
      image: '/lib/photo.jpg',
    });
    const output = document.querySelector<HTMLButtonElement>('button.pick')!;
    const img = output.querySelector('img')!;
    img.getBoundingClientRect = () => ({ left: 10, top: 20, width: 400, height: 200 }) as DOMRect;
    output.dispatchEvent(new MouseEvent('click', { clientX: 110, clientY: 70, bubbles: true }));
    await update();
    expect(fake.requests.find((r) => r.channel === 'heatmap:query')?.input).toEqual({
      styleId: 'sepia',
      image: '/lib/photo.jpg',
      x: 500,
      y: 250,
      tap: 'res1',
      opacity: 0.65,
    });
    const input = document.querySelector('img[alt="Heatmap over the input for res1"]');
    expect(input?.getAttribute('src')).toBe('files?path=%2Ftmp%2Fh%2Fmap-500-250.png');
    expect(document.querySelector('.marker.best')).not.toBeNull();
    expect(document.querySelector('.legend')?.textContent?.replace(/\s+/g, ' ').trim()).toBe(
      '-0.20 0.90',
    );
    expect(document.querySelector('[data-testid="heatmap-status"]')?.textContent).toMatch(
      /best match 500, 250 \(similarity 0\.900\)/,
    );

    // A deeper or shallower tap asks about the same point again.
    const tapSelect = byText('label', 'Tap')!.querySelector('select')!;
    tapSelect.value = 'down1';
    tapSelect.dispatchEvent(new Event('change', { bubbles: true }));
    await update();
    expect(fake.requests.at(-1)?.input).toMatchObject({ x: 500, y: 250, tap: 'down1' });

    // Grid mode: one picture of N×N maps.
    fake.api.request = ((orig) =>
      async function (channel: string, input: unknown) {
        if (channel === 'heatmap:grid') {
          return { ...opened, grid: { n: 4, tap: 'down1', file: '/tmp/h/grid.png' } };
        }
        return orig(channel as 'heatmap:query', input as never);
      })(fake.api.request) as typeof fake.api.request;
    byText('button', 'Grid of 4×4 points')!.click();
    await update();
    expect(
      document.querySelector('img[alt="Grid of 4×4 heatmaps for down1"]')?.getAttribute('src'),
    ).toBe('files?path=%2Ftmp%2Fh%2Fgrid.png');
    expect(document.querySelector('.marker.query')).toBeNull();

    // The keyboard moves the point (from the middle, after a grid).
    output.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    await update();
    expect(fake.requests.at(-1)?.input).toMatchObject({ x: 1040, y: 500 });
  });

  it('keeps only the latest click’s answer', async () => {
    const { studio, pending } = await openHeld();
    const first = studio.heatmap.query(100, 100);
    const second = studio.heatmap.query(200, 200);
    pending[1].answer();
    await second;
    pending[0].answer();
    await first;
    expect(studio.heatmap.view?.map?.query).toEqual({ x: 200, y: 200 });
  });
});

describe('heatmaps on hover', () => {
  /** The output's image at 400×200 on the page, for a 2000×1000 image: 5 image px per px. */
  async function hoverable() {
    const { fake, studio, pending } = await openHeld();
    const output = document.querySelector<HTMLButtonElement>('button.pick')!;
    output.querySelector('img')!.getBoundingClientRect = () =>
      ({ left: 0, top: 0, width: 400, height: 200 }) as DOMRect;
    const queries = () => fake.requests.filter((r) => r.channel === 'heatmap:query');
    const move = (x: number, y: number) =>
      output.dispatchEvent(
        new PointerEvent('pointermove', { clientX: x, clientY: y, bubbles: true }),
      );
    const mapShown = () =>
      document.querySelector('img[alt^="Heatmap over the input"]')?.getAttribute('src');
    return { studio, pending, output, queries, move, mapShown };
  }

  it('asks as the pointer moves, one request in flight, always for the latest point', async () => {
    const { pending, queries, move, mapShown } = await hoverable();
    move(20, 20);
    move(40, 40); // while the first is in flight: remembered…
    move(60, 40); // …and replaced by the latest
    await update();
    expect(queries().map((q) => q.input)).toMatchObject([{ x: 100, y: 100 }]);

    pending[0].answer();
    await update();
    // The first answer is shown (nothing newer was shown), then only the latest point is asked.
    expect(mapShown()).toBe('files?path=%2Ftmp%2Fh%2Fmap-100-100.png');
    expect(queries().map((q) => q.input)).toMatchObject([
      { x: 100, y: 100 },
      { x: 300, y: 200 },
    ]);
    pending[1].answer();
    await update();
    expect(mapShown()).toBe('files?path=%2Ftmp%2Fh%2Fmap-300-200.png');
    expect(document.querySelector('.marker.query')).not.toBeNull();
    expect(queries()).toHaveLength(2);
  });

  it('drops a hover answer asked before a click; a pinned point ignores hover', async () => {
    const { pending, output, queries, move, mapShown } = await hoverable();
    move(20, 20);
    await update();
    output.dispatchEvent(new MouseEvent('click', { clientX: 200, clientY: 100, bubbles: true }));
    await update();
    expect(queries().map((q) => q.input)).toMatchObject([
      { x: 100, y: 100 },
      { x: 1000, y: 500 },
    ]);
    pending[0].answer(); // the hover asked before the click: stale, dropped
    await update();
    expect(mapShown()).toBeUndefined();
    pending[1].answer();
    await update();
    expect(mapShown()).toBe('files?path=%2Ftmp%2Fh%2Fmap-1000-500.png');
    expect(document.querySelector('.marker.query.pinned')).not.toBeNull();

    move(300, 150); // pinned: hover asks nothing
    await update();
    expect(queries()).toHaveLength(2);

    // Escape releases the pin; hover follows the pointer again.
    output.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    await update();
    expect(document.querySelector('.marker.query.pinned')).toBeNull();
    move(300, 150);
    await update();
    expect(queries().at(-1)?.input).toMatchObject({ x: 1500, y: 750 });
    pending[2].answer();
    await update();
    expect(mapShown()).toBe('files?path=%2Ftmp%2Fh%2Fmap-1500-750.png');

    // The keyboard still moves the point (and pins it there).
    output.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft', bubbles: true }));
    await update();
    expect(queries().at(-1)?.input).toMatchObject({ x: 1460, y: 750 });
    expect(document.querySelector('.marker.query.pinned')).not.toBeNull();
  });
});

describe('the image field’s Browse… in a browser tab', () => {
  // The heatmap services take one image file: the folder browser must not answer a folder.
  it('opens folders and chooses only an image, never a folder or another file', async () => {
    const listing = (path: string): BrowseListing => ({
      path,
      parent: null,
      crumbs: [{ name: path.split('/').pop() ?? path, path }],
      entries: [
        { name: 'shoot', path: `${path}/shoot`, kind: 'folder', size: null },
        { name: 'a.png', path: `${path}/a.png`, kind: 'image', size: 10 },
        { name: 'notes.txt', path: `${path}/notes.txt`, kind: 'file', size: 3 },
      ],
      truncated: false,
      places: [{ label: 'Library', path: '/lib' }],
      asked: null,
    });
    const fake = fakeApi({
      'styles:list': () => ({ styles: [readyStyle()] }),
      'folder:browse': (input) => listing(input.path ?? '/lib'),
    });
    await render(fake);
    byText('nav button', 'Heatmaps')!.click();
    flushSync();
    const field = document.getElementById('heatmap-image') as HTMLInputElement;
    const zone = field.closest('.path-field')!;
    expect(zone.getAttribute('aria-label')).toBe('Drop an image file here');
    byText('button', 'Browse…', zone)!.click();
    await update();
    const dialog = document.querySelector('dialog.browser')!;
    expect(dialog.querySelector('#browser-title')?.textContent).toBe('Choose: Image');
    // A folder field would offer the folder shown; this one does not.
    expect(byText('button', 'Use this folder', dialog)).toBeUndefined();
    const option = (name: string) => byText('[role="option"]', name, dialog)!;
    expect(option('notes.txt').getAttribute('aria-disabled')).toBe('true');
    expect(option('shoot').getAttribute('aria-disabled')).toBe('false');
    // Entering a folder opens it (the field stays empty) …
    option('shoot').dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
    await update();
    expect(fake.requests.filter((r) => r.channel === 'folder:browse').at(-1)?.input).toEqual({
      path: '/lib/shoot',
    });
    expect(field.value).toBe('');
    // … another file is not taken, and an image is.
    option('notes.txt').dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
    await update();
    expect(field.value).toBe('');
    option('a.png').click();
    flushSync();
    expect(byText('button', 'Choose notes.txt', dialog)).toBeUndefined();
    byText('button', 'Choose a.png', dialog)!.click();
    flushSync();
    expect(field.value).toBe('/lib/shoot/a.png');
  });
});
