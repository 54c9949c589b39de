/**
 * The views mounted in happy-dom over a scripted api: what the artist sees and what the
 * page sends. The real services behind them are exercised in test/e2e/serve.e2e.ts.
 */
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { StudioError } from '../../../shared/ipc';
import { emptyTrainView, type JobSnapshot } from '../../../shared/ipc-jobs';
import { StudioState } from '../../../renderer/src/lib/state/studio.svelte';
import App from '../../../renderer/src/App.svelte';
import { fakeApi, jobSnapshot, settle } from '../fake-api';

let app: ReturnType<typeof mount> | null = null;

afterEach(() => {
  if (app) unmount(app);
  app = null;
  document.body.innerHTML = '';
});

async function render(fake: ReturnType<typeof fakeApi>) {
  const studio = new StudioState(fake.api);
  app = mount(App, { target: document.body, props: { studio } });
  await studio.start();
  flushSync();
  return studio;
}

const byText = (selector: string, text: string) =>
  [...document.querySelectorAll<HTMLElement>(selector)].find((e) => e.textContent?.includes(text));

const input = (id: string) => document.getElementById(id) as HTMLInputElement;

function type(id: string, value: string) {
  const el = input(id);
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

const trainJob = (over: Partial<JobSnapshot> = {}): JobSnapshot =>
  jobSnapshot({ title: 'Sepia', train: emptyTrainView('sepia', '/lib/styles/sepia'), ...over });

describe('new style', () => {
  it('fills the sample folders and sends the form as a train:start request', async () => {
    const fake = fakeApi({
      'train:start': () => ({ job: trainJob() }),
      'folder:inspect': ({ path }) => ({
        path,
        images: 3,
        others: 1,
        bytes: 100,
        samples: [`${path}/a.jpg`],
        warnings: ['Only 3 images: a style learns best from a few dozen or more.'],
      }),
    });
    await render(fake);
    byText('button', 'Try it with the sample images')!.click();
    await settle();
    flushSync();
    const infos = [...document.querySelectorAll('.folder-info')].map((e) =>
      e.textContent?.replace(/\s+/g, ' ').trim(),
    );
    expect(infos).toEqual([
      '3 images · 1 other files Only 3 images: a style learns best from a few dozen or more.',
      '3 images · 1 other files Only 3 images: a style learns best from a few dozen or more.',
    ]);
    expect(document.querySelector('.thumbs img')?.getAttribute('src')).toBe(
      'files?path=%2Fs%2Fsource%2Fa.jpg',
    );
    expect(input('source').value).toBe('/s/source');
    expect(input('target').value).toBe('/s/target');
    type('iterations', '12');
    type('ngf', '8');
    byText('button', 'Start training')!.click();
    await settle();
    const sent = fake.requests.find((r) => r.channel === 'train:start');
    expect(sent?.input).toMatchObject({
      name: 'Sepia samples',
      source: '/s/source',
      target: '/s/target',
      preset: 'fastcut',
      iterations: 12,
      // The samples come with a network that trains in minutes; the field typed wins.
      options: {
        ngf: 8,
        ndf: 16,
        nBlocks: 4,
        cropSize: 64,
        loadSize: 160,
        epochs: 30,
        decayEpochs: 30,
      },
      previewEvery: 50,
    });
  });

  it('takes folders dropped from a file manager, and says when a drop names none', async () => {
    const fake = fakeApi({
      'folder:inspect': ({ path }) => ({
        path,
        images: 12,
        others: 0,
        bytes: 100,
        samples: [],
        warnings: [],
      }),
    });
    await render(fake);
    const drop = (id: string, text: string, files: object[] = []) => {
      const event = new Event('drop', { bubbles: true, cancelable: true });
      Object.defineProperty(event, 'dataTransfer', {
        value: { files, getData: (kind: string) => (kind === 'text/uri-list' ? text : '') },
      });
      input(id).closest('.path-field')!.dispatchEvent(event);
    };
    drop('source', 'file:///home/me/My%20photos\r\n');
    drop('target', '', [{ fakePath: '/home/me/paintings' }]); // the desktop app's way
    await settle();
    flushSync();
    expect(input('source').value).toBe('/home/me/My photos');
    expect(input('target').value).toBe('/home/me/paintings');
    expect(fake.requests.filter((r) => r.channel === 'folder:inspect').map((r) => r.input)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '/home/me/My photos' }),
        expect.objectContaining({ path: '/home/me/paintings' }),
      ]),
    );
    drop('source', 'https://example.com/cat.jpg');
    flushSync();
    expect(input('source').value).toBe('/home/me/My photos');
    expect(document.getElementById('source-hint')?.textContent).toMatch(/did not say where/);
  });

  it('shows a refusal where it happened, until that field changes', async () => {
    const refusal = new StudioError({
      code: 'forbidden-path',
      message: 'Images you have: /etc is outside the folders this studio may use',
      issues: [{ path: 'source', message: 'outside the allowed folders' }],
    });
    const look = (path: string) => ({
      path,
      images: 4,
      others: 0,
      bytes: 1,
      samples: [],
      warnings: [],
    });
    await render(
      fakeApi({ 'train:start': () => refusal, 'folder:inspect': ({ path }) => look(path) }),
    );
    type('source', '/etc');
    type('target', '/lib/b');
    byText('button', 'Start training')!.click();
    await settle();
    flushSync();
    expect(document.querySelector('[role="alert"]')?.textContent).toMatch(/outside the folders/);
    expect(document.getElementById('source-hint')?.textContent).toBe('Outside the allowed folders');
    expect(input('source').getAttribute('aria-invalid')).toBe('true');
    // Another field's edit leaves it; an edit of the field itself clears it.
    type('target', '/lib/c');
    flushSync();
    expect(input('source').getAttribute('aria-invalid')).toBe('true');
    type('source', '/lib/a');
    flushSync();
    expect(input('source').getAttribute('aria-invalid')).toBeNull();
    expect(document.getElementById('source-hint')?.textContent).not.toMatch(/allowed folders/);
  });

  it('marks each field the schema refuses, in plain words, and starts nothing', async () => {
    const fake = fakeApi({
      'folder:inspect': ({ path }) => ({
        path,
        images: path.endsWith('empty') ? 0 : 5,
        others: 0,
        bytes: 1,
        samples: [],
        warnings: [],
      }),
    });
    await render(fake);
    type('style-name', '  ');
    type('iterations', '-5');
    type('source', '/lib/a');
    type('target', '/lib/empty');
    byText('button', 'Start training')!.click();
    await settle();
    flushSync();
    const hint = (id: string) => document.getElementById(`${id}-hint`)?.textContent;
    expect(hint('style-name')).toBe('Needs to be filled in');
    expect(hint('iterations')).toBe('Must be more than 0');
    expect(hint('target')).toMatch(/^Has no images Patchwork can read/);
    expect(input('source').getAttribute('aria-invalid')).toBeNull();
    expect(document.querySelector('[role="alert"]')?.textContent).toBe(
      'Not started: check Name, Training steps, The look you want.',
    );
    expect(fake.requests.some((r) => r.channel === 'train:start')).toBe(false);
    // Fixed, each says nothing more (the folder once the services have looked again).
    type('style-name', 'Ink');
    type('iterations', '20');
    flushSync();
    expect(hint('style-name')).toBeUndefined();
    expect(hint('iterations')).not.toMatch(/Must/);
    expect(input('iterations').getAttribute('aria-invalid')).toBeNull();
  });

  it('shows a job from its events: progress, losses, previews, then the finish', async () => {
    const fake = fakeApi({ 'job:cancel': () => ({ job: trainJob() }) });
    await render(fake);
    fake.push({ type: 'job', job: trainJob() });
    for (const iteration of [1, 2, 3]) {
      fake.push({
        type: 'train',
        jobId: 'j1',
        event: {
          type: 'progress',
          iteration,
          epoch: 1,
          totalIterations: 10,
          losses: {
            D: 0.5,
            D_real: 0.2,
            D_fake: 0.3,
            G: 1,
            G_GAN: 1 / iteration,
            NCE: 4,
            NCE_Y: null,
          },
          itPerSec: 2,
          etaSeconds: 3.5,
          lr: 2e-4,
        },
      });
    }
    fake.push({
      type: 'train',
      jobId: 'j1',
      event: { type: 'preview', iteration: 3, paths: ['/p/a.png'] },
    });
    flushSync();
    const card = document.querySelector('article[aria-label="Training Sepia"]')!;
    expect(card.querySelector('[data-testid="iteration"]')?.textContent).toBe('3');
    expect(card.textContent?.replace(/\s+/g, ' ')).toMatch(/of 10 · 2\.0 it\/s · time left 4 s/);
    expect(card.querySelectorAll('polyline')).toHaveLength(3);
    expect(card.querySelector('.previews img')?.getAttribute('src')).toBe(
      'files?path=%2Fp%2Fa.png',
    );
    expect((card.querySelector('progress') as HTMLProgressElement).value).toBe(3);

    byText('button', 'Stop')!.click();
    await settle();
    // Stop asks first; only the confirmation stops the training.
    expect(fake.requests.some((r) => r.channel === 'job:cancel')).toBe(false);
    byText('button', 'Stop training')!.click();
    await settle();
    expect(fake.requests.at(-1)).toEqual({ channel: 'job:cancel', input: { jobId: 'j1' } });

    fake.push({
      type: 'job',
      job: trainJob({ status: 'failed', error: { message: 'Out of memory.', detail: 'trace' } }),
    });
    flushSync();
    expect(card.querySelector('[data-testid="job-status"]')?.textContent).toBe('failed');
    expect(card.querySelector('[role="alert"]')?.textContent).toMatch(/Out of memory\.\s*Details/);
    expect(byText('button', 'Stop')).toBeUndefined();
  });
});

describe('styles and convert', () => {
  it('lists styles and opens Convert with the chosen one; failed files say why', async () => {
    const style = {
      id: 'sepia',
      name: 'Sepia',
      status: 'ready' as const,
      dir: '/lib/styles/sepia/style',
      preset: 'fastcut',
      thumbnail: '/lib/styles/sepia/style/thumbnail.png',
      previews: [],
      created: '2026-01-01T00:00:00Z',
      iterations: 500,
      jobId: null,
    };
    const fake = fakeApi({ 'styles:list': () => ({ styles: [style] }) });
    const studio = await render(fake);
    byText('nav button', 'Styles')!.click();
    flushSync();
    const card = document.querySelector('[data-style-id="sepia"]')!;
    expect(card.textContent).toMatch(/Sepia\s*ready/);
    expect(card.querySelector('img')?.getAttribute('alt')).toBe('Thumbnail of Sepia');
    byText('button', 'Convert with it')!.click();
    flushSync();
    expect(studio.view).toBe('convert');
    expect((document.getElementById('convert-style') as HTMLSelectElement).value).toBe('sepia');

    fake.push({
      type: 'job',
      job: {
        ...trainJob({ id: 'c1', kind: 'convert', title: 'Convert with Sepia', train: null }),
        convert: {
          styleId: 'sepia',
          input: '/in',
          output: '/out',
          files: [
            {
              input: '/in/a.jpg',
              output: '/out/a.jpg',
              relative: 'a.jpg',
              status: 'done',
              seconds: 1.25,
            },
            {
              input: '/in/b.jpg',
              output: '/out/b.jpg',
              relative: 'b.jpg',
              status: 'failed',
              failure: { reason: 'corrupt', message: 'the image data is corrupt or truncated' },
            },
          ],
          progress: null,
        },
      },
    });
    flushSync();
    const rows = [...document.querySelectorAll('tr[data-file-status]')].map((r) => r.textContent);
    expect(rows).toEqual([
      'a.jpgdone1.3 sBefore/after',
      '✕b.jpgfailedthe image data is corrupt or truncated',
    ]);
  });
});
