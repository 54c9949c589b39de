/** Mounting the whole studio over a scripted api, and finding things the way a user would. */
import { flushSync, mount, unmount } from 'svelte';
import { StudioState } from '../../../renderer/src/lib/state/studio.svelte';
import App from '../../../renderer/src/App.svelte';
import type { StyleInfo } from '../../../shared/ipc';
import { fakeApi, settle } from '../fake-api';

let app: ReturnType<typeof mount> | null = null;

export async function render(fake: ReturnType<typeof fakeApi>): Promise<StudioState> {
  const studio = new StudioState(fake.api);
  app = mount(App, { target: document.body, props: { studio } });
  await studio.start();
  flushSync();
  return studio;
}

export function cleanup(): void {
  if (app) unmount(app);
  app = null;
  document.body.innerHTML = '';
}

/** Lets the api's answers arrive, then renders. */
export async function update(): Promise<void> {
  await settle();
  await settle();
  flushSync();
}

export const byText = (selector: string, text: string, root: ParentNode = document) =>
  [...root.querySelectorAll<HTMLElement>(selector)].find((e) => e.textContent?.includes(text));

export function type(el: HTMLInputElement, value: string): void {
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

export const readyStyle = (over: Partial<StyleInfo> = {}): StyleInfo => ({
  id: 'sepia',
  name: 'Sepia',
  status: 'ready',
  dir: '/lib/styles/sepia/style',
  preset: 'fastcut',
  thumbnail: '/lib/styles/sepia/style/thumbnail.png',
  previews: [],
  created: '2026-01-01T00:00:00Z',
  iterations: 500,
  jobId: null,
  ...over,
});
