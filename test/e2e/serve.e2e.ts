/**
 * The studio in Chromium against `patchwork serve` with the real services (no mocked
 * backend): train a tiny style from the bundled samples and watch it progress and finish,
 * find it in the library, convert the held-out samples with it, and see a job fail with its
 * reason; then manage styles (rename, duplicate, delete), switch a folder's watch on and drop
 * an image in, compare before and after (zoomed into a larger result's full-resolution
 * tiles), see a corrupt image reported in a batch, hover and click a heatmap, see what the
 * engine detected in Settings, and keep a setting across a reload. The page must run under its CSP without a
 * single violation. Screenshots of each view are kept in test-results/e2e/screenshots.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeTexturePng } from '../support/texture-png';
import { expect, test, type Page } from '@playwright/test';
import sharp from 'sharp';
import { callApi, REPO, startServe, watchConsole, type ServeProcess } from './serve-process';

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
  const problems = watchConsole(page, { failedResponses: true });
  await page.goto(serve.url);
  // The token moved into this tab's storage, not a cookie; the address no longer shows it.
  await expect(page).toHaveURL(`${serve.origin}/`);
  expect(await page.context().cookies()).toEqual([]);
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
  // A curve needs two points: on a busy machine the first check can come before the second.
  await expect(card.getByTestId('job-status')).toHaveText('completed', { timeout: 120_000 });
  await expect(card.locator('.chart polyline').first()).toBeVisible();
  await expect(card.locator('.previews img').first()).toBeVisible();
  await page.screenshot({ path: path.join(SHOTS, 'training.png'), fullPage: true });

  await page.getByRole('button', { name: 'Styles', exact: true }).click();
  const style = page.locator('[data-style-id="e2e-sepia"]');
  await expect(style.getByText('ready')).toBeVisible();
  const thumb = style.locator('img');
  await expect(thumb).toBeVisible();
  // The card shows a thumbnail the server makes on first request: it may arrive a little later.
  await expect
    .poll(() => thumb.evaluate((img) => (img as { naturalWidth: number }).naturalWidth))
    .toBeGreaterThan(0);
  await page.screenshot({ path: path.join(SHOTS, 'styles.png'), fullPage: true });

  await style.getByRole('button', { name: 'Convert with it' }).click();
  await expect(page.getByLabel('Style', { exact: true })).toHaveValue('e2e-sepia');
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
  await expect(page.getByRole('alert')).toHaveText(
    'Not started: check Images you have, The look you want.',
  );
  await expect(page.locator('#source-hint')).toHaveText(
    '/etc is outside the folders this studio may use',
  );

  // An empty folder: asked of the services before starting, refused under its field.
  await page.getByRole('button', { name: 'Try it with the sample images' }).click();
  await page.getByLabel('Images you have (folder A)').fill(path.join(work, 'empty'));
  await page.getByLabel('Name').fill('Nothing in it');
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.locator('#source-hint')).toHaveText(/^Has no images Patchwork can read/);
  await expect(page.getByRole('article', { name: 'Training Nothing in it' })).toHaveCount(0);
  await page.screenshot({ path: path.join(SHOTS, 'error.png'), fullPage: true });
});

test('SinCUT from an image pair: measured duration, pause, resume, stop, a ready style', async ({
  page,
}) => {
  const problems = watchConsole(page, { failedResponses: true });
  const pairDir = path.join(work, 'pair');
  await mkdir(pairDir, { recursive: true });
  const texture = (name: string, w: number, h: number, seed: number) =>
    writeTexturePng(path.join(pairDir, name), w, h, seed);
  const source = await texture('source.png', 48, 40, 1);
  const target = await texture('target.png', 40, 48, 2);
  await page.goto(serve.url);
  await page.getByRole('radio', { name: /SinCUT/ }).check();
  await page.getByLabel('Name').fill('E2E pair');
  await page.getByLabel('The image you have').fill(source);
  await page.getByLabel('The image you have').blur();
  await expect(page.getByTestId('source-image-facts')).toContainText('48×40 px');
  await page.getByLabel('The image with the look').fill(target);
  await page.getByLabel('The image with the look').blur();
  await expect(page.getByTestId('target-image-facts')).toContainText('40×48 px');
  // Both are smaller than the reference's 64-px crop: the engine says so.
  await expect(page.locator('.pair-notes')).toContainText('smaller than the 64-px training crop');
  await page.getByLabel('Training steps').fill('400');
  await page.getByText('Advanced options').click();
  await page.getByLabel('Crops per step').fill('2');
  await page.getByLabel('Network width (ngf)').fill('2');
  await page.getByLabel('Crop size').fill('16');
  await page.getByLabel('Compute backend').selectOption('wasm');
  await page.getByLabel('Compute backend').blur();
  await page.getByRole('button', { name: 'Measure on this machine' }).click();
  await expect(page.getByTestId('estimate')).toContainText('on this machine (measured', {
    timeout: 120_000,
  });
  await page.screenshot({ path: path.join(SHOTS, 'sincut-form.png'), fullPage: true });
  await page.getByRole('button', { name: 'Start training' }).click();

  const card = page.getByRole('article', { name: 'Training E2E pair' });
  await expect(card.getByTestId('iteration')).not.toHaveText('0', { timeout: 120_000 });
  await card.getByRole('button', { name: 'Pause' }).click();
  await expect(card.getByTestId('job-status')).toHaveText('paused', { timeout: 60_000 });
  await expect(card.getByTestId('job-state')).toContainText('The engine is free for other jobs');
  await page.screenshot({ path: path.join(SHOTS, 'training-paused.png'), fullPage: true });
  await card.getByRole('button', { name: 'Resume' }).click();
  await expect(card.getByTestId('job-status')).toHaveText('running', { timeout: 60_000 });
  await card.getByRole('button', { name: 'Stop', exact: true }).click();
  await card.getByRole('button', { name: 'Stop training' }).click();
  await expect(card.getByTestId('job-status')).toHaveText('stopped', { timeout: 60_000 });
  await expect(card.getByTestId('job-state')).toContainText(
    'the style made from it is in the library',
  );

  await page.getByRole('button', { name: 'Styles', exact: true }).click();
  const style = page.locator('[data-style-id="e2e-pair"]');
  await expect(style.getByText('ready')).toBeVisible();
  await expect(style.getByText(/sincut/)).toBeVisible();
  await expect(style.getByRole('button', { name: 'Convert with it' })).toBeVisible();
  expect(problems).toEqual([]);
});

// ─── later features, on a style trained through the api ─────────────────────────────────────

test.describe.serial('managing, watching, looking inside, settings', () => {
  const SAMPLES = path.join(REPO, 'resources', 'samples');

  /** The contract over HTTP with the token, as the page's client sends it. */
  const api = (channel: string, input: unknown) => callApi(serve, channel, input);

  test.beforeAll(async () => {
    const { job } = (await api('train:start', {
      name: 'Feature style',
      source: path.join(SAMPLES, 'source'),
      target: path.join(SAMPLES, 'target'),
      preset: 'fastcut',
      options: { ngf: 4, ndf: 4, nBlocks: 2, loadSize: 36, cropSize: 32, numPatches: 32 },
      iterations: 2,
      backend: 'wasm',
      previewEvery: 0,
    })) as { job: { id: string } };
    for (let i = 0; i < 600; i++) {
      const { jobs } = (await api('jobs:list', {})) as { jobs: { id: string; status: string }[] };
      const status = jobs.find((j) => j.id === job.id)?.status;
      if (status === 'completed') return;
      if (status === 'failed' || status === 'cancelled') throw new Error(`training ${status}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the feature style did not finish training');
  });

  test('rename, duplicate and delete a style (after confirming)', async ({ page }) => {
    const problems = watchConsole(page, { failedResponses: true });
    await page.goto(serve.url);
    await page.getByRole('button', { name: 'Styles', exact: true }).click();
    const card = page.locator('[data-style-id="feature-style"]');
    await expect(card.getByText('ready')).toBeVisible();

    await card.getByRole('button', { name: 'Duplicate' }).click();
    const copy = page.locator('[data-style-id="feature-style-copy"]');
    await expect(copy.getByRole('heading', { name: 'Feature style copy' })).toBeVisible();

    await copy.getByRole('button', { name: 'Rename' }).click();
    await copy.getByLabel('New name').fill('Throwaway');
    await copy.getByRole('button', { name: 'Save' }).click();
    await expect(copy.getByRole('heading', { name: 'Throwaway' })).toBeVisible();

    await copy.getByRole('button', { name: 'Show folder' }).click();
    // A browser cannot open a folder: the page offers its path to copy instead.
    await expect(copy.getByRole('status')).toContainText('copy its path');
    await expect(copy.getByLabel(/^Folder of /)).toHaveValue(/styles\/feature-style-copy\/style/);

    await copy.getByRole('button', { name: 'Delete…' }).click();
    const confirm = copy.getByRole('alertdialog');
    await expect(confirm).toContainText('cannot be undone');
    await page.screenshot({ path: path.join(SHOTS, 'styles-delete.png'), fullPage: true });
    await confirm.getByRole('button', { name: 'Delete for good' }).click();
    await expect(copy).toHaveCount(0);
    await expect(card).toBeVisible();
    expect(problems).toEqual([]);
  });

  test('watch a folder: a dropped image is converted, then compared before/after', async ({
    page,
  }) => {
    const problems = watchConsole(page, { failedResponses: true });
    const drop = path.join(work, 'drop');
    const out = path.join(work, 'drop-out');
    await mkdir(drop, { recursive: true });
    await page.goto(serve.url);
    await page.getByRole('button', { name: 'Convert', exact: true }).click();
    await page.getByLabel('Style', { exact: true }).selectOption('feature-style');
    await page.getByRole('switch', { name: /Watch this folder/ }).check();
    await page.getByLabel('Folder to watch').fill(drop);
    await page.getByLabel('Output folder').fill(out);
    await page.getByRole('button', { name: 'Start watching' }).click();
    const watch = page.getByRole('article', { name: `Watching ${drop}` });
    await expect(watch.getByTestId('watch-state')).toHaveText('watching', { timeout: 60_000 });

    await copyFile(path.join(SAMPLES, 'held-out', 'twowings.jpg'), path.join(drop, 'arrived.jpg'));
    await expect(watch.locator('tr[data-file-status="done"]')).toHaveCount(1, { timeout: 60_000 });
    await page.screenshot({ path: path.join(SHOTS, 'watch.png'), fullPage: true });

    await watch.getByRole('button', { name: /Before\/after of/ }).click();
    const viewer = page.getByRole('region', { name: /Before and after/ });
    await expect(viewer).toBeVisible();
    for (const alt of ['Before', 'After']) {
      const img = viewer.getByAltText(alt);
      await expect(img).toBeVisible();
      await expect
        .poll(() => img.evaluate((i) => (i as { naturalWidth: number }).naturalWidth))
        .toBeGreaterThan(0);
    }
    const slider = viewer.getByRole('slider');
    await slider.focus();
    await page.keyboard.press('ArrowLeft');
    await expect(slider).toHaveAttribute('aria-valuenow', '48');
    // The zoom reads in the image's own pixels (or of the fitted picture until those are known).
    const zoomed = async () =>
      Number(/^(\d+) %/.exec(await viewer.getByTestId('zoom').innerText())?.[1]);
    const before = await zoomed();
    await viewer.getByRole('button', { name: 'Zoom in' }).click();
    await expect.poll(async () => (await zoomed()) / before).toBeCloseTo(1.25, 1);
    // The full-resolution tiles behind the zoom, fetched as the page does: no cookie, the
    // grant the page signed for the image (taken from the Before picture's address), its CSP.
    const beforeSrc = await viewer.getByAltText('Before').getAttribute('src');
    const grant = new URL(beforeSrc ?? '', `${serve.origin}/`).searchParams;
    const tileUrl =
      `tiles?path=${encodeURIComponent(grant.get('path') ?? '')}&level=0&x=0&y=0` +
      `&exp=${grant.get('exp')}&sig=${grant.get('sig')}`;
    const tile = await page.evaluate(async (url) => {
      const res = await fetch(url, { credentials: 'omit' });
      return [res.status, res.headers.get('content-type')];
    }, tileUrl);
    expect(tile).toEqual([200, 'image/webp']);
    await page.screenshot({ path: path.join(SHOTS, 'before-after.png'), fullPage: true });
    await viewer.getByRole('button', { name: 'Close' }).click();

    await watch.getByRole('switch').uncheck();
    await expect(watch.getByTestId('watch-state')).toHaveText('stopped', { timeout: 60_000 });
    expect(problems).toEqual([]);
  });

  test('zoom the before/after of a large result down to its full-resolution tiles', async ({
    page,
  }) => {
    const problems = watchConsole(page, { failedResponses: true });
    const large = path.join(work, 'large');
    await mkdir(large, { recursive: true });
    // 3.8 Mpx: its 2048-px previews hold 73 % of its pixels; zoomed in, the tiles take over.
    await sharp(path.join(SAMPLES, 'held-out', 'twowings.jpg'))
      .resize(2400, 1600, { fit: 'fill' })
      .jpeg({ quality: 90 })
      .toFile(path.join(large, 'large.jpg'));
    await page.goto(serve.url);
    await page.getByRole('button', { name: 'Convert', exact: true }).click();
    await page.getByLabel('Style', { exact: true }).selectOption('feature-style');
    await page.getByLabel('Images to convert (a file or a folder)').fill(large);
    await page.getByLabel('Output folder').fill(path.join(work, 'large-out'));
    await page.getByRole('button', { name: 'Convert images' }).click();
    const job = page
      .getByRole('article', { name: 'Convert with Feature style' })
      .filter({ hasText: 'large.jpg' });
    await expect(job.locator('tr[data-file-status="done"]')).toHaveCount(1, { timeout: 180_000 });

    await job.getByRole('button', { name: /Before\/after of/ }).click();
    const viewer = page.getByRole('region', { name: /Before and after/ });
    const after = viewer.getByAltText('After');
    await expect
      .poll(() => after.evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth))
      .toBeGreaterThan(0);
    await expect(viewer.locator('.tiles img')).toHaveCount(0); // at fit: the previews
    for (let i = 0; i < 8; i++) await viewer.getByRole('button', { name: 'Zoom in' }).click();
    const zoomed = Date.now();
    const tile = viewer.locator('[data-side="after"] img[data-tile^="0/"]').first();
    await expect
      .poll(() => tile.evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth), {
        timeout: 30_000,
      })
      .toBeGreaterThan(0);
    console.log(
      `before/after: first full-resolution tile drawn ${Date.now() - zoomed} ms after zooming to 596 %`,
    );
    expect(
      await tile.evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth),
    ).toBeLessThanOrEqual(512);
    await page.screenshot({ path: path.join(SHOTS, 'before-after-tiles.png'), fullPage: true });
    await viewer.getByRole('button', { name: 'Close' }).click();
    expect(problems).toEqual([]);
  });

  test('a corrupt image in a batch is reported with its reason; the rest converts', async ({
    page,
  }) => {
    const problems = watchConsole(page, { failedResponses: true });
    const batch = path.join(work, 'batch');
    await mkdir(batch, { recursive: true });
    await copyFile(
      path.join(SAMPLES, 'held-out', 'yellowflower.jpg'),
      path.join(batch, 'good.jpg'),
    );
    await writeFile(path.join(batch, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1]));
    await page.goto(serve.url);
    await page.getByRole('button', { name: 'Convert', exact: true }).click();
    await page.getByLabel('Style', { exact: true }).selectOption('feature-style');
    await page.getByLabel('Images to convert (a file or a folder)').fill(batch);
    await page.getByLabel('Output folder').fill(path.join(work, 'batch-out'));
    await page.getByRole('button', { name: 'Convert images' }).click();
    const job = page.getByRole('article', { name: 'Convert with Feature style' }).first();
    await expect(job.getByTestId('job-status')).toHaveText('completed', { timeout: 120_000 });
    await expect(job.locator('tr[data-file-status="done"]')).toHaveCount(1);
    const failed = job.locator('tr[data-file-status="failed"]');
    await expect(failed).toHaveCount(1);
    await expect(failed).toContainText('corrupt');
    await page.screenshot({ path: path.join(SHOTS, 'convert-corrupt.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  test('hover over the output, pin a point, and see its heatmap over the input', async ({
    page,
  }) => {
    const problems = watchConsole(page, { failedResponses: true });
    await page.goto(serve.url);
    await page.getByRole('button', { name: 'Heatmaps', exact: true }).click();
    await page.getByLabel('Style', { exact: true }).selectOption('feature-style');
    await page
      .getByLabel('Image', { exact: true })
      .fill(path.join(SAMPLES, 'held-out', 'twowings.jpg'));
    await page.getByRole('button', { name: 'Open' }).click();
    const output = page.getByRole('button', { name: /^Output: hover or click a point/ });
    await expect(output.getByAltText('Output')).toBeVisible({ timeout: 120_000 });
    // Hovering asks for the map under the pointer; a click pins its point.
    await output.hover({ position: { x: 60, y: 40 } });
    await expect(page.getByTestId('heatmap-status')).toContainText('best match', {
      timeout: 60_000,
    });
    await output.click({ position: { x: 40, y: 30 } });
    await expect(page.getByTestId('heatmap-status')).toContainText('pinned', {
      timeout: 60_000,
    });
    await expect(page.getByAltText(/^Heatmap over the input for /)).toBeVisible();
    await page.screenshot({ path: path.join(SHOTS, 'heatmap.png'), fullPage: true });
    await page.getByRole('button', { name: 'Grid of 4×4 points' }).click();
    await expect(page.getByAltText(/^Grid of 4×4 heatmaps for /)).toBeVisible({ timeout: 60_000 });
    await page.screenshot({ path: path.join(SHOTS, 'heatmap-grid.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  test('settings are saved and still there after a reload', async ({ page }) => {
    const problems = watchConsole(page, { failedResponses: true });
    await page.goto(serve.url);
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    await expect(page.getByLabel('Library folder')).toBeDisabled();
    // What the engine found here, next to the backend choice (no GPU on the test machines).
    await expect(page.getByTestId('auto-choice')).toContainText('Here, auto uses', {
      timeout: 60_000,
    });
    await expect(page.locator('.detected .backends li')).toHaveCount(4);
    await page.getByLabel('Light').check();
    await page.getByLabel('Memory budget (MiB)').fill('1024');
    await page.getByRole('button', { name: 'Save settings' }).click();
    // (The page's notifications are a status region too.)
    await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
    await page.screenshot({ path: path.join(SHOTS, 'settings.png'), fullPage: true });

    await page.reload();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    await expect(page.getByLabel('Light')).toBeChecked();
    await expect(page.getByLabel('Memory budget (MiB)')).toHaveValue('1024');
    expect(problems).toEqual([]);
  });
});
