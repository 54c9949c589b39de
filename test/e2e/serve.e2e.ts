/**
 * The studio in Chromium against `patchwork serve` with the real services (no mocked
 * backend): train a tiny style from the bundled samples and watch it progress and finish,
 * find it in the library, convert the held-out samples with it, and see a job fail with its
 * reason. The page must run under its CSP without a single violation. Screenshots of each
 * view are kept in test-results/e2e/screenshots.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { REPO, startServe, type ServeProcess } from './serve-process';

const SHOTS = path.join(REPO, 'test-results', 'e2e', 'screenshots');
let serve: ServeProcess;
let work: string;

test.beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'pw-e2e-'));
  await mkdir(path.join(work, 'empty'));
  await mkdir(SHOTS, { recursive: true });
  serve = await startServe(['--library', path.join(work, 'library'), '--allow', work]);
});

test.afterAll(async () => {
  await serve?.stop();
  await rm(work, { recursive: true, force: true });
});

function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });
  return problems;
}

async function fillTiny(page: Page, name: string, steps: number) {
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Training steps').fill(String(steps));
  await page.getByText('Advanced options').click();
  await page.getByLabel('Network width (ngf)').fill('4');
  await page.getByLabel('Residual blocks').fill('2');
  await page.getByLabel('Load size').fill('36');
  await page.getByLabel('Crop size').fill('32');
  await page.getByLabel('Preview every … steps').fill('2');
  // Leave the field before clicking: in headless Chromium the focus change on mousedown
  // scrolled the page here, so the mouseup landed beside the button and nothing submitted.
  await page.getByLabel('Preview every … steps').blur();
}

test('train a style from the samples, see it listed, convert with it', async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto(serve.url);
  // The token moved into a cookie; the address no longer shows it.
  await expect(page).toHaveURL(`${serve.origin}/`);
  await expect(page.getByRole('heading', { name: 'New style' })).toBeVisible();

  await page.getByRole('button', { name: 'Try it with the sample images' }).click();
  await expect(page.getByLabel('Images you have (folder A)')).toHaveValue(/samples\/source$/);
  // Each folder is looked into: counts, thumbnails, a warning about so few images.
  await expect(page.locator('.folder-info')).toHaveCount(2);
  await expect(page.locator('.folder-info .thumbs img')).toHaveCount(10);
  await expect(page.getByText('Only 5 images').first()).toBeVisible();
  await fillTiny(page, 'E2E sepia', 6);
  await page.screenshot({ path: path.join(SHOTS, 'train-form.png'), fullPage: true });
  await page.getByRole('button', { name: 'Start training' }).click();

  const card = page.getByRole('article', { name: 'Training E2E sepia' });
  await expect(card).toBeVisible();
  await expect(card.getByTestId('iteration')).not.toHaveText('0', { timeout: 120_000 });
  await expect(card.locator('.chart polyline').first()).toBeVisible();
  await expect(card.getByTestId('job-status')).toHaveText('completed', { timeout: 120_000 });
  await expect(card.locator('.previews img').first()).toBeVisible();
  await page.screenshot({ path: path.join(SHOTS, 'training.png'), fullPage: true });

  await page.getByRole('button', { name: 'Styles', exact: true }).click();
  const style = page.locator('[data-style-id="e2e-sepia"]');
  await expect(style.getByText('ready')).toBeVisible();
  const thumb = style.locator('img');
  await expect(thumb).toBeVisible();
  expect(
    await thumb.evaluate((img) => (img as { naturalWidth: number }).naturalWidth),
  ).toBeGreaterThan(0);
  await page.screenshot({ path: path.join(SHOTS, 'styles.png'), fullPage: true });

  await style.getByRole('button', { name: 'Convert with it' }).click();
  await expect(page.getByLabel('Style')).toHaveValue('e2e-sepia');
  await page.getByRole('button', { name: 'Use the held-out sample images' }).click();
  await page.getByLabel('Output folder').fill(path.join(work, 'converted'));
  await page.getByRole('button', { name: 'Convert images' }).click();
  const job = page.getByRole('article', { name: 'Convert with E2E sepia' });
  await expect(job.getByTestId('job-status')).toHaveText('completed', { timeout: 120_000 });
  await expect(job.locator('tr[data-file-status="done"]')).toHaveCount(2);
  await page.screenshot({ path: path.join(SHOTS, 'convert.png'), fullPage: true });

  expect(problems).toEqual([]);
});

test('errors are shown where they happen', async ({ page }) => {
  await page.goto(serve.url);
  // A folder outside the allowed roots: refused before any job exists, next to the field.
  await page.getByLabel('Images you have (folder A)').fill('/etc');
  await page.getByLabel('The look you want (folder B)').fill(path.join(work, 'empty'));
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('alert')).toContainText('outside the folders');
  await expect(page.locator('#source-hint')).toHaveText('outside the allowed folders');

  // An empty folder: the job starts and fails with the reason in words.
  await page.getByRole('button', { name: 'Try it with the sample images' }).click();
  await page.getByLabel('Images you have (folder A)').fill(path.join(work, 'empty'));
  await page.getByLabel('Name').fill('Nothing in it');
  await page.getByRole('button', { name: 'Start training' }).click();
  const card = page.getByRole('article', { name: 'Training Nothing in it' });
  await expect(card.getByTestId('job-status')).toHaveText('failed', { timeout: 60_000 });
  await expect(card.getByRole('alert')).toContainText('Source folder');
  await page.screenshot({ path: path.join(SHOTS, 'error.png'), fullPage: true });
});
