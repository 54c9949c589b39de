/**
 * The Styles view's management actions over a scripted api: what is sent, and that a delete
 * needs a second, explicit click on the card (the contract also insists: confirm: true).
 */
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { StudioError, type StyleInfo } from '../../../shared/ipc';
import { emptyTrainView } from '../../../shared/ipc-jobs';
import { fakeApi } from '../fake-api';
import { byText, cleanup, readyStyle, render, type, update } from './mount';

afterEach(cleanup);

function library(initial: StyleInfo[]) {
  let styles = initial;
  const fake = fakeApi({
    'styles:list': () => ({ styles }),
    'style:rename': ({ styleId, name }) => {
      styles = styles.map((s) => (s.id === styleId ? { ...s, name } : s));
      return { style: styles.find((s) => s.id === styleId)! };
    },
    'style:delete': ({ styleId }) => {
      styles = styles.filter((s) => s.id !== styleId);
      return { styleId };
    },
    'style:duplicate': ({ styleId }) => {
      const copy = readyStyle({ id: `${styleId}-copy`, name: 'Sepia copy' });
      styles = [...styles, copy];
      return { style: copy };
    },
    'style:reveal': () => ({ path: '/lib/styles/sepia/style', revealed: false }),
  });
  return fake;
}

async function openStyles(fake: ReturnType<typeof fakeApi>) {
  await render(fake);
  byText('nav button', 'Styles')!.click();
  flushSync();
}

const card = (id: string) => document.querySelector<HTMLElement>(`[data-style-id="${id}"]`);

describe('style management', () => {
  it('shows the thumbnail the services made, not the full file', async () => {
    await openStyles(library([readyStyle()]));
    expect(card('sepia')!.querySelector('img')?.getAttribute('src')).toBe(
      'thumbs?size=320&path=%2Flib%2Fstyles%2Fsepia%2Fstyle%2Fthumbnail.png',
    );
  });

  it('renames inline and shows the new name', async () => {
    const fake = library([readyStyle()]);
    await openStyles(fake);
    byText('button', 'Rename', card('sepia')!)!.click();
    flushSync();
    const field = document.getElementById('rename-sepia') as HTMLInputElement;
    expect(field.value).toBe('Sepia');
    expect(document.activeElement).toBe(field);
    type(field, 'Warm sepia');
    byText('button', 'Save', card('sepia')!)!.click();
    await update();
    expect(fake.requests.find((r) => r.channel === 'style:rename')?.input).toEqual({
      styleId: 'sepia',
      name: 'Warm sepia',
    });
    expect(card('sepia')!.querySelector('h3')?.textContent).toBe('Warm sepia');
    expect(card('sepia')!.querySelector('[role="status"]')?.textContent).toMatch(/Renamed/);
  });

  it('shows a new name everywhere: the training card and Convert’s list too', async () => {
    const fake = library([readyStyle()]);
    const answer = fake.api.request;
    fake.api.request = (async (channel: string, input: unknown) => {
      if (channel !== 'jobs:list') return answer(channel as never, input as never);
      const job = {
        id: 'j1',
        kind: 'train',
        title: 'Sepia',
        status: 'completed',
        createdAt: '',
        startedAt: '',
        finishedAt: '',
        error: null,
        train: emptyTrainView('sepia', '/lib/jobs/j1'),
        convert: null,
      };
      return { jobs: [job] };
    }) as typeof fake.api.request;
    await openStyles(fake);
    byText('button', 'Rename', card('sepia')!)!.click();
    flushSync();
    type(document.getElementById('rename-sepia') as HTMLInputElement, 'Warm sepia');
    byText('button', 'Save', card('sepia')!)!.click();
    await update();
    byText('nav button', 'New style')!.click();
    flushSync();
    expect(
      document.querySelector('article[aria-label="Training Warm sepia"] h3')?.textContent,
    ).toBe('Warm sepia');
    byText('nav button', 'Convert')!.click();
    flushSync();
    expect(document.querySelector('#convert-style option[value="sepia"]')?.textContent).toBe(
      'Warm sepia',
    );
  });

  it('keeps a failed job’s own title (its style has no name in the library)', async () => {
    const fake = library([readyStyle({ id: 'nothing', name: 'nothing', status: 'failed' })]);
    const answer = fake.api.request;
    fake.api.request = (async (channel: string, input: unknown) => {
      if (channel !== 'jobs:list') return answer(channel as never, input as never);
      const job = {
        id: 'j2',
        kind: 'train',
        title: 'Nothing in it',
        status: 'failed',
        createdAt: '',
        startedAt: '',
        finishedAt: '',
        error: { message: 'No images.' },
        train: emptyTrainView('nothing', '/lib/jobs/j2'),
        convert: null,
      };
      return { jobs: [job] };
    }) as typeof fake.api.request;
    await render(fake);
    expect(document.querySelector('article[aria-label="Training Nothing in it"]')).not.toBeNull();
  });

  it('deletes only after the second, explicit click; “Keep it” sends nothing', async () => {
    const fake = library([readyStyle()]);
    await openStyles(fake);
    byText('button', 'Delete…', card('sepia')!)!.click();
    flushSync();
    expect(card('sepia')!.querySelector('[role="alertdialog"]')?.textContent).toMatch(
      /cannot be undone/,
    );
    byText('button', 'Keep it')!.click();
    flushSync();
    expect(fake.requests.some((r) => r.channel === 'style:delete')).toBe(false);
    expect(card('sepia')!.querySelector('[role="alertdialog"]')).toBeNull();

    byText('button', 'Delete…', card('sepia')!)!.click();
    flushSync();
    byText('button', 'Delete for good')!.click();
    await update();
    expect(fake.requests.find((r) => r.channel === 'style:delete')?.input).toEqual({
      styleId: 'sepia',
      confirm: true,
    });
    expect(card('sepia')).toBeNull();
    // Its card is gone: focus lands on the list's heading (no other style left).
    expect(document.activeElement?.id).toBe('styles-title');
  });

  it('duplicates, and shows the folder’s path where no file manager can open', async () => {
    const fake = library([readyStyle()]);
    await openStyles(fake);
    byText('button', 'Duplicate', card('sepia')!)!.click();
    await update();
    expect(card('sepia-copy')).not.toBeNull();
    byText('button', 'Show folder', card('sepia')!)!.click();
    await update();
    expect(card('sepia')!.querySelector('[role="status"]')?.textContent).toMatch(
      'A browser cannot open folders',
    );
    // The path is offered in a field to select and a button to copy.
    const path = document.getElementById('folder-sepia') as HTMLInputElement;
    expect(path.value).toBe('/lib/styles/sepia/style');
    expect(path.readOnly).toBe(true);
    expect(byText('button', 'Copy path', card('sepia')!)).toBeDefined();
  });

  it('tells apart two styles of the same name, on the cards and in Convert’s list', async () => {
    const fake = library([
      readyStyle(),
      readyStyle({ id: 'sepia-2', name: 'Sepia' }),
      readyStyle({ id: 'ink', name: 'Ink' }),
    ]);
    await openStyles(fake);
    expect(card('sepia')!.querySelector('h3')?.textContent).toBe('Sepia (sepia)');
    expect(card('sepia-2')!.querySelector('h3')?.textContent).toBe('Sepia (sepia-2)');
    expect(card('ink')!.querySelector('h3')?.textContent).toBe('Ink');
    byText('nav button', 'Convert')!.click();
    flushSync();
    const options = [...document.querySelectorAll('#convert-style option')].map(
      (o) => o.textContent,
    );
    expect(options).toEqual(['Choose a trained style', 'Sepia (sepia)', 'Sepia (sepia-2)', 'Ink']);
  });

  it('shows a refusal on the card it concerns; a training style has no actions', async () => {
    const fake = library([
      readyStyle(),
      readyStyle({ id: 'busy', name: 'Busy', status: 'training' }),
    ]);
    fake.api.request = ((orig) =>
      async function (this: unknown, channel, input) {
        if (channel === 'style:duplicate') {
          throw new StudioError({ code: 'rejected', message: 'the disk is full' });
        }
        return orig(channel, input);
      } as typeof fake.api.request)(fake.api.request);
    await openStyles(fake);
    byText('button', 'Duplicate', card('sepia')!)!.click();
    await update();
    const note = card('sepia')!.querySelector('[role="status"]');
    expect(note?.textContent).toMatch('the disk is full');
    expect(note?.classList.contains('error')).toBe(true);
    expect(card('busy')!.querySelectorAll('button')).toHaveLength(0);
  });
});
