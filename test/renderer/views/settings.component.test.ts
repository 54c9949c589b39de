/**
 * The Settings view over a scripted api: the saved settings fill the form and the theme is
 * applied to the page at once; Save sends every field; a refusal is shown at its field. What
 * the engine detected is shown next to the backend choice, with a GPU picker when there are
 * several GPUs, and ONNX Runtime's providers next to the inference engine choice.
 */
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { StudioError } from '../../../shared/ipc';
import type { InboxUsage } from '../../../shared/ipc-files';
import type { SettingsView } from '../../../shared/ipc-settings';
import { DETECTED, fakeApi, SETTINGS } from '../fake-api';
import { byText, cleanup, render, type, update } from './mount';

afterEach(() => {
  cleanup();
  delete document.documentElement.dataset.theme;
});

function pick(select: HTMLSelectElement, value: string) {
  select.value = value;
  select.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
}

async function openSettings(fake: ReturnType<typeof fakeApi>) {
  const studio = await render(fake);
  byText('nav button', 'Settings')!.click();
  flushSync();
  return studio;
}

describe('settings', () => {
  it('fills the form from the saved settings, applies the theme, and saves every field', async () => {
    const saved: SettingsView = {
      ...SETTINGS,
      libraryFixed: false,
      settings: { ...SETTINGS.settings, theme: 'light', defaultFormat: 'webp' },
    };
    const fake = fakeApi({
      'settings:get': () => saved,
      'settings:set': (input) => ({
        ...saved,
        restartNeeded: true,
        settings: { ...saved.settings, ...input },
      }),
    });
    const studio = await openSettings(fake);
    expect(document.documentElement.dataset.theme).toBe('light');
    expect(studio.convert.format).toBe('webp');
    const light = document.querySelector<HTMLInputElement>('input[name="theme"][value="light"]')!;
    expect(light.checked).toBe(true);

    document.querySelector<HTMLInputElement>('input[name="theme"][value="dark"]')!.click();
    type(document.getElementById('settings-memory') as HTMLInputElement, '2048');
    pick(document.getElementById('settings-engine') as HTMLSelectElement, 'tfjs');
    type(document.getElementById('settings-library') as HTMLInputElement, '/big/disk/Patchwork');
    flushSync();
    byText('button', 'Save settings')!.click();
    await update();
    expect(fake.requests.find((r) => r.channel === 'settings:set')?.input).toEqual({
      theme: 'dark',
      backend: 'auto',
      engine: 'tfjs',
      memoryBudgetMB: 2048,
      defaultFormat: 'webp',
      libraryDir: '/big/disk/Patchwork',
      gpuAdapter: null,
      threads: 'auto',
    });
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(document.querySelector('[role="status"]')?.textContent).toMatch(
      /Saved\. The new library folder is used from the next start\./,
    );
  });

  it('shows a refusal at its field; a library given on the command line cannot be edited', async () => {
    const fake = fakeApi({
      'settings:set': () =>
        new StudioError({
          code: 'invalid-input',
          message: 'settings:set: memoryBudgetMB: at least 256 MiB',
          issues: [{ path: 'memoryBudgetMB', message: 'at least 256 MiB' }],
        }),
    });
    await openSettings(fake);
    expect((document.getElementById('settings-library') as HTMLInputElement).disabled).toBe(true);
    expect(document.getElementById('settings-library-hint')?.textContent).toMatch(/--library/);
    type(document.getElementById('settings-memory') as HTMLInputElement, '10');
    byText('button', 'Save settings')!.click();
    await update();
    expect(document.getElementById('settings-memory-hint')?.textContent).toBe('at least 256 MiB');
    expect(document.getElementById('settings-memory')?.getAttribute('aria-invalid')).toBe('true');
    expect(fake.requests.find((r) => r.channel === 'settings:set')?.input).not.toHaveProperty(
      'libraryDir',
    );
  });

  it('shows what the engine detected next to the backend, and asks again on request', async () => {
    const fake = fakeApi();
    await openSettings(fake);
    await update();
    expect(fake.requests.filter((r) => r.channel === 'settings:detect')).toHaveLength(1);
    expect(document.querySelector('[data-testid="auto-choice"]')?.textContent).toMatch(
      /Here, auto uses wasm\s+\(wasm \(SIMD, 1 thread\)\)/,
    );
    const items = [...document.querySelectorAll('.detected .backends li')].map((li) =>
      li.textContent?.replace(/\s+/g, ' ').trim(),
    );
    expect(items).toEqual([
      'tensorflow not available: not installed',
      'webgpu not available: no GPU device',
      'wasm available',
      'cpu available',
    ]);
    // The inference engine: ONNX Runtime's version, auto's provider, every provider and why.
    expect(document.querySelector('[data-testid="onnx-choice"]')?.textContent).toMatch(
      /ONNX Runtime 1\.31\.1 loads here; auto uses it on\s+cpu \(8 threads\)/,
    );
    const providers = [...document.querySelectorAll('.detected .providers li')].map((li) =>
      li.textContent?.replace(/\s+/g, ' ').trim(),
    );
    expect(providers).toEqual([
      'cuda not available: the CUDA provider is not installed',
      'cpu available: 8 threads',
    ]);
    // One GPU or none: nothing to pick.
    expect(document.getElementById('settings-gpu')).toBeNull();
    byText('button', 'Look again')!.click();
    await update();
    expect(fake.requests.filter((r) => r.channel === 'settings:detect').at(-1)?.input).toEqual({
      refresh: true,
    });
  });

  it('offers a GPU picker when several GPUs exist, and saves the choice', async () => {
    const gpu = (name: string, vendor: string, software = false) => ({
      name,
      api: 'vulkan',
      vendor,
      architecture: 'arch',
      description: `${name} description`,
      software,
      preferredFor: [],
    });
    const fake = fakeApi({
      'settings:detect': () => ({
        ...DETECTED,
        adapters: [
          gpu('Big GPU', 'nvidia'),
          gpu('Small GPU', 'intel'),
          gpu('SwiftShader', 'google', true),
        ],
      }),
      'settings:set': (input) => ({ ...SETTINGS, settings: { ...SETTINGS.settings, ...input } }),
    });
    const studio = await openSettings(fake);
    await update();
    const picker = document.getElementById('settings-gpu') as HTMLSelectElement;
    expect([...picker.options].map((o) => o.textContent?.trim())).toEqual([
      "The system's choice (high performance)",
      'Big GPU description (nvidia)',
      'Small GPU description (intel)',
      'SwiftShader description (google, software)',
    ]);
    expect(byText('.detected li', 'SwiftShader')?.textContent).toMatch(/software, used only/);
    picker.value = 'Small GPU';
    picker.dispatchEvent(new Event('change', { bubbles: true }));
    flushSync();
    expect(studio.settings.gpuAdapter).toBe('Small GPU');
    byText('button', 'Save settings')!.click();
    await update();
    expect(fake.requests.find((r) => r.channel === 'settings:set')?.input).toMatchObject({
      gpuAdapter: 'Small GPU',
    });
  });

  it('says so when the engine cannot be asked, and the rest of the form still works', async () => {
    const fake = fakeApi({
      'settings:detect': () =>
        new StudioError({ code: 'internal', message: 'the engine process stopped unexpectedly' }),
    });
    await openSettings(fake);
    await update();
    expect(document.querySelector('.detected [role="alert"]')?.textContent).toMatch(
      /Could not find out what this machine has: the engine process stopped unexpectedly/,
    );
    expect(fake.requests.filter((r) => r.channel === 'settings:detect')).toHaveLength(1);
    expect((document.getElementById('settings-backend') as HTMLSelectElement).disabled).toBe(false);
  });
});

describe('the inbox in settings', () => {
  const words = (el: Element | null) => el?.textContent?.replace(/\s+/g, ' ').trim();
  const usage = (over: Partial<InboxUsage> = {}): InboxUsage => ({
    path: '/lib/inbox',
    total: { files: 5, bytes: 3 * 1024 * 1024 },
    uploads: { files: 2, bytes: 1024 * 1024 },
    busy: null,
    keepDays: 14,
    ...over,
  });

  it('shows its size, and empties it only after a confirmation', async () => {
    let now = usage();
    const fake = fakeApi({
      'inbox:usage': () => now,
      'inbox:empty': () => {
        now = usage({ total: { files: 0, bytes: 0 }, uploads: { files: 0, bytes: 0 } });
        return { removed: { files: 5, bytes: 3 * 1024 * 1024 }, usage: now };
      },
    });
    await openSettings(fake);
    await update();
    const card = document.querySelector('[data-testid="inbox"]')!;
    expect(words(card.querySelector('[data-testid="inbox-size"]'))).toBe(
      '3.0 MB in 5 files: uploads 1.0 MB (2), results and other files 2.0 MB (3).',
    );
    byText('button', 'Empty inbox…', card)!.click();
    flushSync();
    // Asked first: nothing is removed by the first press.
    expect(fake.requests.some((r) => r.channel === 'inbox:empty')).toBe(false);
    const confirm = card.querySelector('[role="alertdialog"]')!;
    expect(words(confirm)).toMatch(/5 files, 3\.0 MB/);
    byText('button', 'Keep it', confirm)!.click();
    flushSync();
    expect(card.querySelector('[role="alertdialog"]')).toBeNull();
    byText('button', 'Empty inbox…', card)!.click();
    flushSync();
    byText('button', 'Empty it for good', card)!.click();
    await update();
    expect(fake.requests.filter((r) => r.channel === 'inbox:empty').map((r) => r.input)).toEqual([
      { confirm: true },
    ]);
    expect(card.querySelector('[data-testid="inbox-note"]')?.textContent).toMatch(
      /Emptied: 5 files, 3\.0 MB/,
    );
    expect(card.querySelector('[data-testid="inbox-size"]')?.textContent).toMatch(
      /The inbox is empty/,
    );
    expect((byText('button', 'Empty inbox…', card) as HTMLButtonElement).disabled).toBe(true);
  });

  it('says why it cannot be emptied while a job uses it, and shows a refusal', async () => {
    const fake = fakeApi({ 'inbox:usage': () => usage({ busy: '“Convert with Ink” uses it' }) });
    await openSettings(fake);
    await update();
    const card = document.querySelector('[data-testid="inbox"]')!;
    expect(card.textContent).toMatch(/It cannot be emptied now: “Convert with Ink” uses it\./);
    expect((byText('button', 'Empty inbox…', card) as HTMLButtonElement).disabled).toBe(true);

    // Free when looked at, busy by the time it is asked: the services' refusal is shown.
    const raced = fakeApi({
      'inbox:usage': () => usage(),
      'inbox:empty': () =>
        new StudioError({
          code: 'rejected',
          message: 'The inbox cannot be emptied now: images are being uploaded into it.',
        }),
    });
    cleanup();
    await openSettings(raced);
    await update();
    const again = document.querySelector('[data-testid="inbox"]')!;
    byText('button', 'Empty inbox…', again)!.click();
    flushSync();
    byText('button', 'Empty it for good', again)!.click();
    await update();
    expect(again.querySelector('[data-testid="inbox-note"]')?.textContent).toMatch(
      /images are being uploaded into it/,
    );
  });
});
