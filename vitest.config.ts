import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // TF.js keeps one global engine per process: separate processes keep backends and
    // registered kernels from leaking between test files.
    pool: 'forks',
    // Test files already run side by side, one per core: each engine computes on one thread
    // (the thread tests ask for more themselves), so the cores are not oversubscribed.
    env: { PATCHWORK_THREADS: '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.component.test.ts'],
        },
      },
      {
        // Svelte components, compiled for the browser and mounted in happy-dom.
        extends: true,
        plugins: [svelte()],
        resolve: { conditions: ['browser'] },
        test: {
          name: 'components',
          include: ['test/renderer/**/*.component.test.ts'],
          environment: 'happy-dom',
        },
      },
    ],
  },
});
