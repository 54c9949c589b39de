/**
 * Errors in an artist's words, where they happen, and the details around a job (issue 20,
 * items 4 and 5), in Chromium over a real `patchwork serve`: New style marks an empty name,
 * −5 steps and an empty target folder under their fields and starts nothing, each problem
 * clears once its field is fixed; Convert refuses no style, an empty folder and output =
 * input the same way; Enter in a field never starts a (second) job; focus goes to the job
 * after Start and to the card's next action after Pause, Resume and Stop; Stop asks first
 * and the badge then says what the text says; a skip link leads past the navigation.
 * Screenshots of each view in both themes are attached to the report.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { callApi, REPO, startServe, type ServeProcess } from './serve-process';

const SAMPLES = path.join(REPO, 'resources', 'samples');
let serve: ServeProcess;
let work: string;

test.beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'pw-forms-'));
  await mkdir(path.join(work, 'empty'));
  serve = await startServe(['--library', path.join(work, 'library'), '--allow', work]);
});

test.afterAll(async () => {
  await serve?.stop();
  await rm(work, { recursive: true, force: true });
});

async function jobCount(): Promise<number> {
  const { jobs } = (await callApi(serve, 'jobs:list', {})) as { jobs: unknown[] };
  return jobs.length;
}

/** The page in both themes, attached to the report under `name`. */
async function shoot(page: Page, info: TestInfo, name: string) {
  for (const theme of ['dark', 'light'] as const) {
    await page.locator('html').evaluate((root, t) => root.setAttribute('data-theme', t), theme);
    const body = await page.screenshot({ fullPage: true });
    await info.attach(`${name} (${theme})`, { body, contentType: 'image/png' });
  }
  await page.locator('html').evaluate((root) => root.setAttribute('data-theme', 'dark'));
}

/** No developer wording anywhere on the page. */
async function expectPlainWords(page: Page) {
  const text = await page.locator('body').innerText();
  expect(text).not.toMatch(/Too small|Too big|Invalid input|expected number|train:start|options\./);
}

test('New style marks each wrong field in plain words, starts nothing, and clears when fixed', async ({
  page,
}, info) => {
  await page.goto(serve.url);
  await page.getByLabel('Name', { exact: true }).fill('');
  await page.getByLabel('Training steps').fill('-5');
  await page.locator('#source').fill(path.join(SAMPLES, 'source'));
  await page.locator('#target').fill(path.join(work, 'empty'));
  await page.getByRole('button', { name: 'Start training' }).click();

  await expect(page.locator('#style-name-hint')).toHaveText('Needs to be filled in');
  await expect(page.locator('#iterations-hint')).toHaveText('Must be more than 0');
  await expect(page.locator('#target-hint')).toHaveText(/^Has no images Patchwork can read/);
  await expect(page.locator('#source')).not.toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByRole('alert')).toHaveText(
    'Not started: check Name, Training steps, The look you want.',
  );
  // Focus goes to the first field to fix.
  await expect(page.locator('#style-name')).toBeFocused();
  await expect(page.getByText('Nothing is training.')).toBeVisible();
  expect(await jobCount()).toBe(0);
  await expectPlainWords(page);
  await shoot(page, info, 'New style with field errors');

  // Each problem goes as its field is fixed; the folder once the services looked again.
  await page.getByLabel('Name', { exact: true }).fill('Fixed');
  await expect(page.locator('#style-name-hint')).toHaveCount(0);
  await page.getByLabel('Training steps').fill('3');
  await expect(page.locator('#iterations')).not.toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#iterations-hint')).not.toHaveText(/Must/);
  await expect(page.locator('#target')).toHaveAttribute('aria-invalid', 'true');
  await page.locator('#target').fill(path.join(SAMPLES, 'target'));
  await page.locator('#target').blur();
  await expect(page.locator('#target')).not.toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#target-hint')).not.toHaveText(/no images/);
});

test('Convert refuses no style, an empty folder and output = input, each under its field', async ({
  page,
}, info) => {
  await page.goto(serve.url);
  await page.getByRole('button', { name: 'Convert', exact: true }).click();
  const empty = path.join(work, 'empty');
  await page.locator('#convert-input').fill(empty);
  await page.locator('#convert-output').fill(`${empty}/`);
  await page.getByRole('button', { name: 'Convert images' }).click();
  await expect(page.getByText('Choose a style (train one first')).toBeVisible();
  await expect(page.locator('#convert-input-hint')).toHaveText(/^No images in this folder/);
  await expect(page.locator('#convert-output-hint')).toHaveText(/^Must differ from the input/);
  await expect(page.getByRole('alert')).toHaveText(
    'Not started: check Style, Images to convert, Output folder.',
  );
  expect(await jobCount()).toBe(0);
  await expectPlainWords(page);
  await shoot(page, info, 'Convert with field errors');
  await page.locator('#convert-output').fill(path.join(work, 'out'));
  await expect(page.locator('#convert-output')).not.toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#convert-input')).toHaveAttribute('aria-invalid', 'true');
  await page.locator('#convert-input').fill(path.join(SAMPLES, 'held-out'));
  await expect(page.locator('#convert-input')).not.toHaveAttribute('aria-invalid', 'true');
});

test('Enter starts nothing; focus follows Start, Pause, Resume and Stop; Stop asks first', async ({
  page,
}, info) => {
  test.setTimeout(300_000);
  await page.goto(serve.url);
  await page.getByRole('button', { name: 'Try it with the sample images' }).click();
  await page.getByLabel('Training steps').fill('5000');
  await page.getByText('Advanced options').click();
  await page.getByLabel('Network width (ngf)').fill('4');
  await page.getByLabel('Residual blocks').fill('2');
  await page.getByLabel('Load size').fill('36');
  await page.getByLabel('Crop size').fill('32');
  await page.getByLabel('Compute backend').selectOption('wasm');

  // Enter in an advanced field commits the value, never the form.
  await page.getByLabel('Residual blocks').press('Enter');
  await page.waitForTimeout(1000);
  expect(await jobCount()).toBe(0);
  await expect(page.getByText('Nothing is training.')).toBeVisible();

  await page.getByRole('button', { name: 'Start training' }).click();
  const card = page.getByRole('article', { name: 'Training Sepia samples' });
  await expect(card).toBeVisible();
  await expect(page.locator('#training-title')).toBeFocused();
  await page.getByLabel('Residual blocks').press('Enter');
  await page.waitForTimeout(1500);
  expect(await jobCount()).toBe(1);
  await expect(page.locator('article.job')).toHaveCount(1);

  await expect(card.getByTestId('iteration')).not.toHaveText('0', { timeout: 120_000 });
  await card.getByRole('button', { name: 'Pause' }).click();
  await expect(card.getByTestId('job-status')).toHaveText('paused', { timeout: 60_000 });
  await expect(card.getByRole('button', { name: 'Resume' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(card.getByTestId('job-status')).toHaveText('running', { timeout: 60_000 });
  await expect(card.getByRole('button', { name: 'Pause' })).toBeFocused();

  await card.getByRole('button', { name: 'Stop', exact: true }).click();
  const ask = card.getByRole('group', { name: 'Stop the training?' });
  await expect(ask).toBeVisible();
  await expect(ask.getByRole('button', { name: 'Keep training' })).toBeFocused();
  await expect(card.getByTestId('job-status')).toHaveText('running');
  await shoot(page, info, 'Training card asking before Stop');
  await ask.getByRole('button', { name: 'Stop training' }).click();
  await expect(card.getByTestId('job-status')).toHaveText('stopped', { timeout: 60_000 });
  await expect(card.getByTestId('job-state')).toContainText('Stopped at step');
  await expect(card.getByRole('button', { name: 'Continue training' })).toBeFocused();
  await expectPlainWords(page);
});

test('a skip link leads past the navigation to the view', async ({ page }) => {
  await page.goto(serve.url);
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to the view' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press('Enter');
  await expect(page.locator('main#content')).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.locator('nav button').first()).not.toBeFocused();
});

test('each view in both themes', async ({ page }, info) => {
  await page.goto(serve.url);
  for (const view of ['New style', 'Styles', 'Convert', 'Heatmaps', 'Settings']) {
    await page.getByRole('button', { name: view, exact: true }).click();
    await expect(page.getByRole('heading', { level: 2 }).first()).toBeVisible();
    await shoot(page, info, view);
  }
});
