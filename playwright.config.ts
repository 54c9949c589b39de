// End-to-end tests: the built renderer in Chromium against a real `patchwork serve`, and the
// desktop app through Playwright's Electron driver where Electron's binary is installed.
// Browsers are never downloaded: Debian's chromium (or PATCHWORK_CHROMIUM) is used.
import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';

const chromium = process.env.PATCHWORK_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'test/e2e',
  testMatch: '**/*.e2e.ts',
  outputDir: 'test-results/e2e',
  timeout: 240_000,
  expect: { timeout: 15_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: { screenshot: 'only-on-failure', trace: 'retain-on-failure' },
  projects: [
    {
      // The studio in Chromium over `patchwork serve`: the walk through it, and its contrast.
      name: 'serve',
      testMatch: ['serve.e2e.ts', 'contrast.e2e.ts', 'studio-ux.e2e.ts', 'forms.e2e.ts'],
      use: {
        browserName: 'chromium',
        launchOptions: {
          ...(existsSync(chromium) ? { executablePath: chromium } : {}),
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        },
      },
    },
    { name: 'electron', testMatch: 'electron.e2e.ts' },
  ],
});
