/**
 * All text is readable in both themes (issue 20, item 3): every view of the studio, served by
 * `patchwork serve` in Chromium, is run through axe-core's color-contrast rule (WCAG AA, 4.5:1
 * for normal text) in the dark and the light theme. The views hold what an artist sees after a
 * little work — a finished and a failed training card with the loss legend, a ready style with
 * its Delete… confirmation open, a finished conversion — because those carry the coloured text
 * (badges, legend, danger buttons) that an empty page would not. A screenshot of each view in
 * each theme is attached to the report.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { callApi, REPO, settle as settleJob, startServe, type ServeProcess } from './serve-process';

const SAMPLES = path.join(REPO, 'resources', 'samples');
const THEMES = ['dark', 'light'] as const;
type Theme = (typeof THEMES)[number];

let serve: ServeProcess;
let work: string;

/** The contract over HTTP with the token, as the page's client sends it. */
const api = (channel: string, input: unknown) => callApi(serve, channel, input);
const settle = (jobId: string) => settleJob(serve, jobId);

test.beforeAll(async () => {
  test.setTimeout(300_000);
  work = await mkdtemp(path.join(os.tmpdir(), 'pw-contrast-'));
  await mkdir(path.join(work, 'empty'));
  serve = await startServe(['--library', path.join(work, 'library'), '--allow', work]);
  // A tiny style with a loss curve and previews: the training card's legend is coloured text.
  const trained = (await api('train:start', {
    name: 'Contrast style',
    source: path.join(SAMPLES, 'source'),
    target: path.join(SAMPLES, 'target'),
    preset: 'fastcut',
    options: { ngf: 4, ndf: 4, nBlocks: 2, loadSize: 36, cropSize: 32, numPatches: 32 },
    iterations: 2,
    backend: 'wasm',
    previewEvery: 1,
  })) as { job: { id: string } };
  expect(await settle(trained.job.id)).toBe('completed');
  // A failed card: its badge and its reason are shown in the danger colour.
  const failed = (await api('train:start', {
    name: 'Nothing in it',
    source: path.join(work, 'empty'),
    target: path.join(SAMPLES, 'target'),
    preset: 'fastcut',
    options: { ngf: 4, ndf: 4, nBlocks: 2, loadSize: 36, cropSize: 32, numPatches: 32 },
    iterations: 2,
    backend: 'wasm',
    previewEvery: 0,
  })) as { job: { id: string } };
  expect(await settle(failed.job.id)).toBe('failed');
  const converted = (await api('convert:start', {
    styleId: 'contrast-style',
    input: path.join(SAMPLES, 'held-out'),
    output: path.join(work, 'converted'),
    backend: 'wasm',
  })) as { job: { id: string } };
  expect(await settle(converted.job.id)).toBe('completed');
});

test.afterAll(async () => {
  await serve?.stop();
  await rm(work, { recursive: true, force: true });
});

/** The theme as Settings applies it: the attribute app.css reads on <html>. */
async function useTheme(page: Page, theme: Theme) {
  const html = page.locator('html');
  await html.evaluate((root, t) => root.setAttribute('data-theme', t), theme);
  await expect(html).toHaveAttribute('data-theme', theme);
}

/** Each view, opened and filled with what it shows after the work done in beforeAll. */
const VIEWS: { name: string; open: (page: Page) => Promise<void> }[] = [
  {
    name: 'New style and Training',
    open: async (page) => {
      await page.getByRole('button', { name: 'New style', exact: true }).click();
      const card = page.getByRole('article', { name: 'Training Contrast style' });
      await expect(card.locator('.chart figcaption .key').first()).toBeVisible();
      await expect(page.getByRole('article', { name: 'Training Nothing in it' })).toBeVisible();
    },
  },
  {
    name: 'Styles',
    open: async (page) => {
      await page.getByRole('button', { name: 'Styles', exact: true }).click();
      const card = page.locator('[data-style-id="contrast-style"]');
      await expect(card.getByText('ready')).toBeVisible();
      await card.getByRole('button', { name: 'Delete…' }).click();
      await expect(card.getByRole('alertdialog')).toBeVisible();
    },
  },
  {
    name: 'Convert',
    open: async (page) => {
      await page.getByRole('button', { name: 'Convert', exact: true }).click();
      const job = page.getByRole('article', { name: 'Convert with Contrast style' });
      await expect(job.locator('tr[data-file-status="done"]').first()).toBeVisible();
    },
  },
  {
    name: 'Heatmaps',
    open: async (page) => {
      await page.getByRole('button', { name: 'Heatmaps', exact: true }).click();
      await expect(page.getByRole('heading', { name: 'Heatmaps' })).toBeVisible();
    },
  },
  {
    name: 'Settings',
    open: async (page) => {
      await page.getByRole('button', { name: 'Settings', exact: true }).click();
      await expect(page.getByTestId('auto-choice')).toContainText('Here, auto uses', {
        timeout: 60_000,
      });
    },
  },
];

/** One line per element that fails: the view, its text, and what axe measured. */
async function contrastProblems(page: Page, view: string): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).withRules(['color-contrast']).analyze();
  return violations.flatMap((v) =>
    v.nodes.map((n) => {
      const data = n.any[0]?.data as
        | {
            fgColor?: string;
            bgColor?: string;
            contrastRatio?: number;
            expectedContrastRatio?: string;
          }
        | undefined;
      const measured = data
        ? `${data.fgColor} on ${data.bgColor}: ${data.contrastRatio}:1, needs ${data.expectedContrastRatio}`
        : n.failureSummary;
      const text = n.html.replace(/\s+/g, ' ').slice(0, 120);
      return `${view}: ${n.target.join(' ')} — ${measured} — ${text}`;
    }),
  );
}

async function shoot(page: Page, testInfo: TestInfo, name: string) {
  const file = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

for (const theme of THEMES) {
  test(`all text reaches 4.5:1 in the ${theme} theme`, async ({ page }, testInfo) => {
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.goto(serve.url);
    await expect(page.getByRole('heading', { name: 'New style' })).toBeVisible();
    const problems: string[] = [];
    for (const view of VIEWS) {
      await view.open(page);
      // Set after opening: the theme is re-applied whenever the settings load.
      await useTheme(page, theme);
      problems.push(...(await contrastProblems(page, view.name)));
      await shoot(page, testInfo, `${theme}-${view.name.toLowerCase().replace(/\W+/g, '-')}`);
    }
    expect(problems, `text below 4.5:1 in the ${theme} theme`).toEqual([]);
  });
}
