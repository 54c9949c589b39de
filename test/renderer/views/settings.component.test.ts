/**
 * The Settings view over a scripted api: the saved settings fill the form and the theme is
 * applied to the page at once; Save sends every field; a refusal is shown at its field.
 */
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { StudioError } from '../../../shared/ipc';
import type { SettingsView } from '../../../shared/ipc-settings';
import { fakeApi, SETTINGS } from '../fake-api';
import { byText, cleanup, render, type, update } from './mount';

afterEach(() => {
  cleanup();
  delete document.documentElement.dataset.theme;
});

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
    type(document.getElementById('settings-library') as HTMLInputElement, '/big/disk/Patchwork');
    flushSync();
    byText('button', 'Save settings')!.click();
    await update();
    expect(fake.requests.find((r) => r.channel === 'settings:set')?.input).toEqual({
      theme: 'dark',
      backend: 'auto',
      memoryBudgetMB: 2048,
      defaultFormat: 'webp',
      libraryDir: '/big/disk/Patchwork',
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
});
