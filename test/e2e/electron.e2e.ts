/**
 * The desktop app through Playwright's Electron driver: launch, the window's security flags,
 * an IPC round trip through the preload, a forged message refused, and a tiny training job
 * run by the utilityProcess engine. Electron's binary cannot be downloaded everywhere (not
 * in this project's CI); where it is missing these tests skip and say why.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { _electron as electron, expect, test, type ElectronApplication } from '@playwright/test';
import { REPO } from './serve-process';

function electronBinary(): { path: string | null; why: string } {
  try {
    // The package exports the binary's path, and throws when the binary was never fetched.
    const binary = createRequire(import.meta.url)('electron') as string;
    if (!existsSync(binary)) return { path: null, why: `Electron binary missing at ${binary}` };
    if (!existsSync(path.join(REPO, 'out/app/main.js'))) {
      return { path: null, why: 'the app is not built (npm run build)' };
    }
    return { path: binary, why: '' };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      path: null,
      why: `Electron's binary is not installed (${message.split('\n')[0]}); installs with ELECTRON_SKIP_BINARY_DOWNLOAD=1 have none`,
    };
  }
}

const binary = electronBinary();
if (!binary.path) console.log(`[electron e2e] skipped: ${binary.why}`);

test.describe('desktop app', () => {
  test.skip(!binary.path, binary.why);

  let app: ElectronApplication;
  let userData: string;

  test.beforeAll(async () => {
    userData = await mkdtemp(path.join(os.tmpdir(), 'pw-electron-'));
    app = await electron.launch({
      executablePath: binary.path!,
      args: [REPO, `--user-data-dir=${userData}`, '--no-sandbox'],
      cwd: REPO,
    });
  });

  test.afterAll(async () => {
    await app?.close();
    await rm(userData, { recursive: true, force: true });
  });

  test('one window, locked down, talking to the services', async () => {
    const page = await app.firstWindow();
    await expect(page.getByRole('heading', { name: 'New style' })).toBeVisible();
    const shell = await app.evaluate(({ BrowserWindow }) => {
      const w = BrowserWindow.getAllWindows();
      return { count: w.length, url: w[0]?.webContents.getURL() ?? '' };
    });
    expect(shell.count).toBe(1);
    expect(shell.url).toMatch(/^patchwork:\/\/app\//);
    // The flags themselves are unit-tested (test/main/app/security.test.ts); here, their effect.
    // No Node in the page; the bridge is the only way out, and it validates.
    const globals = await page.evaluate(() => {
      const g = globalThis as { require?: unknown; process?: unknown; patchwork?: object };
      return [typeof g.require, typeof g.process, Object.keys(g.patchwork ?? {}).sort()];
    });
    expect(globals).toEqual([
      'undefined',
      'undefined',
      ['fileUrl', 'invoke', 'onEvent', 'pathOfFile', 'thumbUrl'],
    ]);
    const info = await page.evaluate(() =>
      (
        globalThis as unknown as { patchwork: { invoke(e: unknown): Promise<unknown> } }
      ).patchwork.invoke({ channel: 'app:info', input: {} }),
    );
    expect(info).toMatchObject({ ok: true, value: { transport: 'electron' } });
    const forged = await page.evaluate(() =>
      (
        globalThis as unknown as { patchwork: { invoke(e: unknown): Promise<unknown> } }
      ).patchwork.invoke({ channel: 'fs:read', input: { path: '/etc/passwd' } }),
    );
    expect(forged).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    // Navigation away from the app is blocked.
    await page.evaluate(() => {
      (globalThis as unknown as { location: { href: string } }).location.href =
        'https://example.com/';
    });
    await page.waitForTimeout(500);
    expect(page.url()).toMatch(/^patchwork:\/\/app\//);
  });

  test('trains a tiny style in the utility process', async () => {
    const page = await app.firstWindow();
    await page.getByRole('button', { name: 'Try it with the sample images' }).click();
    await page.getByLabel('Name').fill('Desktop sepia');
    await page.getByLabel('Training steps').fill('4');
    await page.getByText('Advanced options').click();
    await page.getByLabel('Network width (ngf)').fill('4');
    await page.getByLabel('Residual blocks').fill('2');
    await page.getByLabel('Load size').fill('36');
    await page.getByLabel('Crop size').fill('32');
    await page.getByRole('button', { name: 'Start training' }).click();
    const card = page.getByRole('article', { name: 'Training Desktop sepia' });
    await expect(card.getByTestId('job-status')).toHaveText('completed', { timeout: 120_000 });
  });
});
