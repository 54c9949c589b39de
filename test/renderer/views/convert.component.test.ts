/**
 * The Convert view's watch switch and before/after viewer over a scripted api: what the
 * switch sends, how a watch's files appear from its events, and the viewer's split and zoom.
 */
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConvertFileInfo } from '../../../shared/ipc-jobs';
import type { WatchInfo } from '../../../shared/ipc-watch';
import { CompareState } from '../../../renderer/src/lib/state/compare.svelte';
import { fakeApi, jobSnapshot } from '../fake-api';
import { byText, cleanup, readyStyle, render, type, update } from './mount';

afterEach(cleanup);

const watch = (over: Partial<WatchInfo> = {}): WatchInfo => ({
  id: 'w1',
  styleId: 'sepia',
  styleName: 'Sepia',
  input: '/lib/drop',
  output: '/lib/out',
  recursive: false,
  format: 'same',
  state: 'watching',
  error: null,
  warnings: [],
  files: [],
  progress: null,
  since: '2026-01-01T00:00:00Z',
  ...over,
});

async function openConvert(fake: ReturnType<typeof fakeApi>) {
  const studio = await render(fake);
  byText('nav button', 'Convert')!.click();
  flushSync();
  return studio;
}

/** Types the watched and output folders, starts the watch, and returns what was sent. */
async function startWatching(fake: ReturnType<typeof fakeApi>) {
  type(document.getElementById('convert-input') as HTMLInputElement, '/lib/drop');
  type(document.getElementById('convert-output') as HTMLInputElement, '/lib/out');
  byText('button', 'Start watching')!.click();
  await update();
  return fake.requests.find((r) => r.channel === 'watch:start')?.input;
}

describe('watching a folder', () => {
  it('sends watch:start when the switch is on, and shows the watch from its events', async () => {
    const fake = fakeApi({
      'styles:list': () => ({ styles: [readyStyle()] }),
      'watch:start': () => ({ watch: watch({ state: 'starting' }) }),
      'watch:stop': () => ({ watch: watch({ state: 'stopped' }) }),
    });
    await openConvert(fake);
    const select = document.getElementById('convert-style') as HTMLSelectElement;
    select.value = 'sepia';
    select.dispatchEvent(new Event('change', { bubbles: true }));
    const sw = document.getElementById('convert-watch') as HTMLInputElement;
    expect(sw.getAttribute('role')).toBe('switch');
    sw.click();
    flushSync();
    expect(byText('label', 'Folder to watch')).toBeDefined();
    expect(await startWatching(fake)).toEqual({
      styleId: 'sepia',
      input: '/lib/drop',
      output: '/lib/out',
      recursive: false,
      format: 'same',
    });
    expect(fake.requests.some((r) => r.channel === 'convert:start')).toBe(false);

    fake.push({ type: 'watch', watch: watch({ state: 'watching' }) });
    fake.push({
      type: 'watch-file',
      watchId: 'w1',
      file: {
        input: '/lib/drop/a.png',
        output: '/lib/out/a.png',
        relative: 'a.png',
        status: 'done',
      },
    });
    fake.push({
      type: 'watch-file',
      watchId: 'w1',
      file: {
        input: '/lib/drop/bad.jpg',
        output: '/lib/out/bad.jpg',
        relative: 'bad.jpg',
        status: 'failed',
        failure: { reason: 'corrupt', message: 'the image data is corrupt or truncated' },
      },
    });
    flushSync();
    const card = document.querySelector('article[aria-label="Watching /lib/drop"]')!;
    expect(card.querySelector('[data-testid="watch-state"]')?.textContent).toBe('watching');
    const rows = [...card.querySelectorAll('tr[data-file-status]')].map((r) =>
      r.getAttribute('data-file-status'),
    );
    expect(rows).toEqual(['failed', 'done']); // newest first
    // A converted file shows the services' small preview of its output.
    expect(card.querySelector('tr[data-file-status="done"] img')?.getAttribute('src')).toBe(
      'thumbs?size=128&path=%2Flib%2Fout%2Fa.png',
    );
    expect(card.querySelector('tr[data-file-status="failed"] img')).toBeNull();
    expect(card.textContent).toMatch('the image data is corrupt or truncated');

    const toggle = card.querySelector<HTMLInputElement>('input[role="switch"]')!;
    expect(toggle.checked).toBe(true);
    toggle.click();
    await update();
    expect(fake.requests.find((r) => r.channel === 'watch:stop')?.input).toEqual({
      watchId: 'w1',
    });
  });

  it('lists the watches the services remember, and flips a stopped one back on', async () => {
    const fake = fakeApi({
      'watch:list': () => ({ watches: [watch({ state: 'stopped' })] }),
      'watch:start': () => ({ watch: watch({ state: 'starting' }) }),
    });
    await openConvert(fake);
    const toggle = document.querySelector<HTMLInputElement>(
      'article[aria-label="Watching /lib/drop"] input[role="switch"]',
    )!;
    expect(toggle.checked).toBe(false);
    toggle.click();
    await update();
    expect(fake.requests.find((r) => r.channel === 'watch:start')?.input).toMatchObject({
      styleId: 'sepia',
      input: '/lib/drop',
      output: '/lib/out',
    });
  });
});

const choose = (select: HTMLSelectElement, value: string) => {
  select.value = value;
  select.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
};

const folderLook = (path: string, images: number) => ({
  path,
  images,
  others: 0,
  bytes: 1,
  samples: [],
  warnings: [],
});

describe('the form’s problems, before anything starts', () => {
  it('refuses no style, an empty folder and output = input, each under its field', async () => {
    const fake = fakeApi({
      'styles:list': () => ({ styles: [readyStyle()] }),
      'folder:inspect': ({ path }) => folderLook(path, path.endsWith('empty') ? 0 : 3),
    });
    await openConvert(fake);
    const field = (id: string) => document.getElementById(id) as HTMLInputElement;
    const hint = (id: string) => document.getElementById(`${id}-hint`)?.textContent;
    type(field('convert-input'), '/lib/photos');
    type(field('convert-output'), '/lib/photos/');
    byText('button', 'Convert images')!.click();
    await update();
    expect(document.querySelector('[role="alert"]')?.textContent).toBe(
      'Not started: check Style, Output folder.',
    );
    expect(document.body.textContent).toMatch(/Choose a style/);
    expect(hint('convert-output')).toMatch(/^Must differ from the input/);
    expect(field('convert-output').getAttribute('aria-invalid')).toBe('true');
    // Fixed, the output says nothing more; the empty input is found by asking the services.
    choose(document.getElementById('convert-style') as HTMLSelectElement, 'sepia');
    type(field('convert-output'), '/lib/out');
    type(field('convert-input'), '/lib/empty');
    await update();
    expect(field('convert-output').getAttribute('aria-invalid')).toBeNull();
    byText('button', 'Convert images')!.click();
    await update();
    expect(hint('convert-input')).toMatch(/^No images in this folder/);
    expect(fake.requests.some((r) => r.channel === 'convert:start')).toBe(false);
    type(field('convert-input'), '/lib/photos');
    await update();
    expect(field('convert-input').getAttribute('aria-invalid')).toBeNull();
  });
});

describe('converting with the CLI’s encoding options', () => {
  it('sends today’s defaults (8-bit, sRGB, stripped) unless changed, then what was chosen', async () => {
    const fake = fakeApi({
      'styles:list': () => ({ styles: [readyStyle()] }),
      'folder:inspect': ({ path }) => folderLook(path, 2),
      'convert:start': () => ({
        job: {
          id: 'j1',
          kind: 'convert',
          title: 'Convert with Sepia',
          status: 'queued',
          createdAt: '2026-01-01T00:00:00Z',
          startedAt: null,
          finishedAt: null,
          error: null,
          train: null,
          convert: null,
        },
      }),
    });
    const studio = await openConvert(fake);
    choose(document.getElementById('convert-style') as HTMLSelectElement, 'sepia');
    type(document.getElementById('convert-input') as HTMLInputElement, '/lib/in');
    type(document.getElementById('convert-output') as HTMLInputElement, '/lib/out');
    byText('button', 'Convert images')!.click();
    await update();
    const sent = () => fake.requests.filter((r) => r.channel === 'convert:start').at(-1)?.input;
    expect(sent()).toEqual({
      styleId: 'sepia',
      input: '/lib/in',
      output: '/lib/out',
      recursive: false,
      format: 'same',
    });

    const depth = () => document.getElementById('convert-bit-depth') as HTMLSelectElement;
    const sixteen = () => [...depth().options].find((o) => o.textContent?.startsWith('16'))!;
    expect(sixteen().disabled).toBe(true); // 'same' may be a JPEG
    // Set on the form: the test DOM reports no change from a select whose first value was
    // already chosen (the style select starts on an empty choice, so it does).
    studio.convert.format = 'png';
    flushSync();
    expect(sixteen().disabled).toBe(false);
    studio.convert.bitDepth = 16;
    studio.convert.icc = 'none';
    flushSync();
    expect([
      depth().value,
      (document.getElementById('convert-icc') as HTMLSelectElement).value,
    ]).toEqual(['16', 'none']);
    (document.getElementById('convert-metadata') as HTMLInputElement).click();
    type(document.getElementById('convert-tile') as HTMLInputElement, '256');
    flushSync();
    byText('button', 'Convert images')!.click();
    await update();
    expect(sent()).toMatchObject({
      format: 'png',
      bitDepth: 16,
      icc: 'none',
      metadata: 'copy',
      tile: 256,
    });
  });

  it('offers them for a watch too, and sends what differs from the defaults', async () => {
    const fake = fakeApi({
      'styles:list': () => ({ styles: [readyStyle()] }),
      'watch:start': () => ({ watch: watch({ state: 'starting' }) }),
    });
    const studio = await openConvert(fake);
    (document.getElementById('convert-watch') as HTMLInputElement).click();
    flushSync();
    expect(document.getElementById('convert-bit-depth')).not.toBeNull();
    studio.convert.styleId = 'sepia';
    studio.convert.icc = 'source';
    flushSync();
    (document.getElementById('convert-metadata') as HTMLInputElement).click();
    expect(await startWatching(fake)).toEqual({
      styleId: 'sepia',
      input: '/lib/drop',
      output: '/lib/out',
      recursive: false,
      format: 'same',
      icc: 'source',
      metadata: 'copy',
    });
  });
});

describe('before/after viewer', () => {
  it('opens on a converted file with the services’ previews of input and output', async () => {
    const fake = fakeApi({ 'watch:list': () => ({ watches: [watch()] }) });
    await openConvert(fake);
    fake.push({
      type: 'watch-file',
      watchId: 'w1',
      file: {
        input: '/lib/drop/a.png',
        output: '/lib/out/a.png',
        relative: 'a.png',
        status: 'done',
      },
    });
    flushSync();
    document
      .querySelector<HTMLButtonElement>('button[aria-label="Before/after of a.png"]')!
      .click();
    flushSync();
    const viewer = document.querySelector('section[aria-label="Before and after: a.png"]')!;
    const src = (alt: string) => viewer.querySelector(`img[alt="${alt}"]`)?.getAttribute('src');
    expect(src('Before')).toBe('thumbs?size=2048&path=%2Flib%2Fdrop%2Fa.png');
    expect(src('After')).toBe('thumbs?size=2048&path=%2Flib%2Fout%2Fa.png');
    const slider = viewer.querySelector<HTMLElement>('[role="slider"]')!;
    // It opens where the artist is: focused (and scrolled into view).
    expect(document.activeElement).toBe(slider);
    expect(slider.getAttribute('aria-valuenow')).toBe('50');
    slider.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft', bubbles: true }));
    flushSync();
    expect(slider.getAttribute('aria-valuenow')).toBe('48');
    byText('button', 'Close', viewer as HTMLElement)!.click();
    flushSync();
    expect(document.querySelector('section[aria-label^="Before and after"]')).toBeNull();
  });

  it('reads the zoom in the image’s own pixels, and goes to 1:1 around the centre', () => {
    const view = new CompareState();
    view.width = 400;
    view.height = 200;
    view.dpr = 2;
    expect(view.pixelScale).toBeNull();
    view.sources = {
      before: null,
      after: { info: { width: 3200, height: 1600, tileSize: 256, levels: 5 }, url: () => '' },
    };
    // Fitted: 800 device pixels show 3,200 image pixels.
    expect(view.pixelScale).toBeCloseTo(0.25);
    view.actualPixels();
    expect(view.zoom).toBeCloseTo(4);
    expect(view.pixelScale).toBeCloseTo(1);
    expect([view.panX, view.panY]).toEqual([-600, -300]);
  });

  it('zooms around the pointer and never pans the picture off the stage', () => {
    const view = new CompareState();
    view.width = 400;
    view.height = 200;
    view.zoomBy(2, 100, 50);
    expect([view.zoom, view.panX, view.panY]).toEqual([2, -100, -50]);
    view.panBy(500, 500);
    expect([view.panX, view.panY]).toEqual([0, 0]);
    view.panBy(-5000, -5000);
    expect([view.panX, view.panY]).toEqual([-400, -200]);
    view.zoomBy(100);
    expect(view.zoom).toBe(16);
    view.zoomBy(0.001);
    expect([view.zoom, view.panX, view.panY]).toEqual([1, 0, 0]);
    view.setSplit(140);
    expect(view.split).toBe(100);
  });
});

describe('a conversion’s rows', () => {
  it('show the share of tiles done while a file is translated, and the bar counts it', async () => {
    const progress = { total: 2, queued: 1, converting: 1, done: 0, skipped: 0, failed: 0 };
    const job = jobSnapshot({
      id: 'c1',
      kind: 'convert',
      title: 'Convert with Sepia',
      createdAt: '2026-01-01T00:00:00.000Z',
      startedAt: '2026-01-01T00:00:00.000Z',
      convert: {
        styleId: 'sepia',
        input: '/lib/in',
        output: '/lib/out',
        files: [],
        progress: { ...progress, etaSeconds: null },
      },
    });
    const fake = fakeApi({ 'jobs:list': () => ({ jobs: [job] }) });
    await openConvert(fake);
    const file = (over: Partial<ConvertFileInfo>): ConvertFileInfo => ({
      input: '/lib/in/big.png',
      output: '/lib/out/big.png',
      relative: 'big.png',
      status: 'converting',
      stage: 'translating',
      ...over,
    });
    fake.push({ type: 'convert-file', jobId: 'c1', file: file({}) });
    flushSync();
    const state = () => document.querySelector('[data-testid="file-state"]')?.textContent ?? '';
    expect(state()).toMatch(/^translating( ·|$)/);
    fake.push({ type: 'convert-file', jobId: 'c1', file: file({ fraction: 0.425 }) });
    flushSync();
    expect(state()).toMatch(/^translating 42 %/);
    const bar = document.querySelector<HTMLProgressElement>(
      'progress[aria-label^="Files converted"]',
    )!;
    expect(bar.value).toBeCloseTo(0.425);
    // The stage after it carries no fraction: the row no longer shows one.
    fake.push({ type: 'convert-file', jobId: 'c1', file: file({ stage: 'encoding' }) });
    flushSync();
    expect(state()).toMatch(/^encoding( ·|$)/);
  });
});
