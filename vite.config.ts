// The renderer's build: Svelte 5 into out/renderer, loaded by Electron (patchwork://app/)
// and by `patchwork serve` (http://127.0.0.1:…/). Relative asset URLs work under both.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [svelte()],
  build: {
    outDir: '../out/renderer',
    emptyOutDir: true,
    // No inline scripts or styles: the page's CSP allows neither.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'chrome120',
  },
});
