/**
 * The studio as an artist finds it in a browser (issue 20, items 1 and 2), in Chromium over a
 * real `patchwork serve`: the studio's own folder browser behind a path field's Browse…
 * (places, a link out of the allowed folders shown and refused, the keyboard all the way
 * round), images dropped on Convert (a synthetic drop holding real PNG bytes) uploaded into the
 * library's inbox and converted, a drop elsewhere kept on the page, running jobs in the
 * navigation and the title, the page title, a toast and a web notification when a job ends,
 * the results gallery with next/previous by keyboard, the inbox's size and Empty inbox in
 * Settings, Heatmaps' image field choosing only an image, and finished jobs cleared (one, then
 * all, still gone after a reload). Each new view is checked with axe's contrast rule and
 * photographed in both themes, the pictures attached to the test report.
 */
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import sharp from 'sharp';
import {
  callApi,
  REPO,
  settle as settleJob,
  startServe,
  watchConsole,
  type ServeProcess,
} from './serve-process';

const SAMPLES = path.join(REPO, 'resources', 'samples');
const THEMES = ['dark', 'light'] as const;

let serve: ServeProcess;
let work: string;
const api = (channel: string, input: unknown) => callApi(serve, channel, input);
const settle = (jobId: string) => settleJob(serve, jobId);

const TINY = { ngf: 4, ndf: 4, nBlocks: 2, loadSize: 36, cropSize: 32, numPatches: 32 };

test.beforeAll(async () => {
  test.setTimeout(300_000);
  work = await mkdtemp(path.join(os.tmpdir(), 'pw-ux-'));
  await mkdir(path.join(work, 'shoot', 'day one'), { recursive: true });
  await mkdir(path.join(work, 'empty'));
  await sharp({ create: { width: 48, height: 32, channels: 3, background: '#3070a0' } })
    .png()
    .toFile(path.join(work, 'shoot', 'day one', 'frame.png'));
  // A link inside the allowed folder that leads out of it: shown, never followed.
  await symlink('/etc', path.join(work, 'shoot', 'escape'));
  serve = await startServe(['--library', path.join(work, 'library'), '--allow', work]);
  const trained = (await api('train:start', {
    name: 'Drop style',
    source: path.join(SAMPLES, 'source'),
    target: path.join(SAMPLES, 'target'),
    preset: 'fastcut',
    options: TINY,
    iterations: 2,
    backend: 'wasm',
    previewEvery: 0,
  })) as { job: { id: string } };
  expect(await settle(trained.job.id)).toBe('completed');
});

test.afterAll(async () => {
  await serve?.stop();
  await rm(work, { recursive: true, force: true });
});

/** Axe's contrast rule on the page as it is, then a full-page picture, in both themes. */
async function checkAndShoot(page: Page, testInfo: TestInfo, name: string): Promise<string[]> {
  const problems: string[] = [];
  const html = page.locator('html');
  const before = await html.getAttribute('data-theme');
  for (const theme of THEMES) {
    await html.evaluate((root, t) => root.setAttribute('data-theme', t), theme);
    const { violations } = await new AxeBuilder({ page }).withRules(['color-contrast']).analyze();
    for (const v of violations) {
      for (const n of v.nodes) problems.push(`${name} (${theme}): ${n.target.join(' ')}`);
    }
    const file = testInfo.outputPath(`${name}-${theme}.png`);
    await page.screenshot({ path: file, fullPage: true });
    await testInfo.attach(`${name} (${theme})`, { path: file, contentType: 'image/png' });
  }
  await html.evaluate((root, t) => root.setAttribute('data-theme', t ?? 'dark'), before);
  return problems;
}

/** Drops files on an element as a browser would: a DataTransfer holding real File objects. */
async function dropFiles(
  page: Page,
  selector: string,
  files: { name: string; type: string; base64: string }[],
): Promise<boolean> {
  // Runs in the page (the test's own types carry no DOM).
  const script = `(() => {
    const { selector, files } = ${JSON.stringify({ selector, files })};
    const dt = new DataTransfer();
    for (const f of files) {
      const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], f.name, { type: f.type }));
    }
    const target = document.querySelector(selector);
    const init = { dataTransfer: dt, bubbles: true, cancelable: true };
    target.dispatchEvent(new DragEvent('dragenter', init));
    target.dispatchEvent(new DragEvent('dragover', init));
    // false: a handler took the drop (preventDefault), so the browser would not open it.
    return target.dispatchEvent(new DragEvent('drop', init));
  })()`;
  return page.evaluate(script) as Promise<boolean>;
}

async function pngBase64(width: number, height: number, colour: string): Promise<string> {
  const bytes = await sharp({ create: { width, height, channels: 3, background: colour } })
    .png()
    .toBuffer();
  return bytes.toString('base64');
}

test('the folder browser: places, a link out refused, all by keyboard', async ({
  page,
}, testInfo) => {
  const problems = watchConsole(page);
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.goto(serve.url);
  const field = page.getByLabel('Images you have (folder A)');
  await expect(field).toBeVisible();

  // Keyboard only: focus Browse…, open it, walk the listing, choose.
  const browse = page
    .locator('.path-field', { has: field })
    .getByRole('button', { name: 'Browse…' });
  await browse.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: /Choose: Images you have/ });
  await expect(dialog).toBeVisible();
  // Nothing typed yet: the places. The allowed folder, the library, the uploads, the samples.
  const places = dialog.getByRole('navigation', { name: 'Places' });
  await expect(places.getByRole('button', { name: 'Samples' })).toBeVisible();
  await expect(places.getByRole('button', { name: 'Library' })).toBeVisible();
  await places.getByRole('button', { name: path.basename(work) }).click();
  const list = dialog.getByRole('listbox');
  await expect(list.getByRole('option', { name: /shoot/ })).toBeVisible();
  await list.focus();
  await page.keyboard.press('Enter'); // the first entry: "empty" (folders by name)
  await expect(dialog.getByRole('navigation', { name: 'Breadcrumbs' })).toContainText('empty');
  await page.keyboard.press('Backspace'); // back up
  await expect(list.getByRole('option', { name: /shoot/ })).toBeVisible();
  await page.keyboard.press('End'); // "shoot" is the last folder
  await page.keyboard.press('Enter');
  await expect(dialog.getByRole('navigation', { name: 'Breadcrumbs' })).toContainText('shoot');
  // The link leading out is listed as such and leads nowhere.
  const escape = list.getByRole('option', { name: /escape/ });
  await expect(escape).toHaveAttribute('data-kind', 'outside');
  await expect(escape).toContainText('link outside');
  await page.keyboard.press('End');
  await expect(escape).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Enter');
  await expect(dialog.getByRole('navigation', { name: 'Breadcrumbs' })).not.toContainText('escape');
  await page.keyboard.press('Home'); // "day one"
  await page.keyboard.press('ArrowRight');
  const frame = list.getByRole('option', { name: /frame\.png/ });
  await expect(frame).toBeVisible();
  // The image is shown as a thumbnail the server made.
  await expect
    .poll(() =>
      frame.locator('img').evaluate((img) => (img as { naturalWidth: number }).naturalWidth),
    )
    .toBeGreaterThan(0);
  problems.push(...(await checkAndShoot(page, testInfo, 'folder-browser')));
  // Choose the folder shown: Tab reaches "Use this folder".
  await dialog.getByRole('button', { name: 'Use this folder' }).focus();
  await page.keyboard.press('Enter');
  await expect(dialog).toBeHidden();
  await expect(field).toHaveValue(path.join(work, 'shoot', 'day one'));

  // Opened again, it starts at the field's folder; the place used last is remembered.
  await browse.click();
  await expect(dialog.getByRole('navigation', { name: 'Breadcrumbs' })).toContainText('day one');
  await expect(dialog.getByRole('heading', { name: 'Recent' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();

  // Heatmaps' image field takes one image: its Browse… opens folders but chooses only images.
  await page.getByRole('button', { name: 'Heatmaps', exact: true }).click();
  const image = page.getByLabel('Image', { exact: true });
  await page
    .locator('.path-field', { has: image })
    .getByRole('button', { name: 'Browse…' })
    .click();
  const imageDialog = page.getByRole('dialog', { name: /Choose: Image/ });
  await expect(imageDialog).toBeVisible();
  await expect(imageDialog.getByRole('button', { name: 'Use this folder' })).toHaveCount(0);
  const crumbs = imageDialog.getByRole('navigation', { name: 'Breadcrumbs' });
  await expect(crumbs).toContainText('day one'); // the place used last
  const imageList = imageDialog.getByRole('listbox');
  await page.keyboard.press('Backspace');
  await expect(imageList.getByRole('option', { name: /day one/ })).toBeVisible();
  await page.keyboard.press('Home'); // "day one": Enter opens it, it is not chosen
  await page.keyboard.press('Enter');
  await expect(crumbs).toContainText('day one');
  await expect(imageDialog).toBeVisible();
  await expect(image).toHaveValue('');
  await expect(imageList.getByRole('option', { name: /frame\.png/ })).toHaveAttribute(
    'aria-selected',
    'true',
  );
  await page.keyboard.press('Enter');
  await expect(imageDialog).toBeHidden();
  await expect(image).toHaveValue(path.join(work, 'shoot', 'day one', 'frame.png'));
  expect(problems).toEqual([]);
});

test('images dropped on Convert are uploaded and converted; the end is told', async ({
  page,
  context,
}, testInfo) => {
  const problems = watchConsole(page);
  await context.grantPermissions(['notifications']);
  // Records the notifications the page makes, and lets the test say the page is hidden.
  await page.addInitScript({
    content: `
      window.__shown = [];
      const Real = window.Notification;
      function Recorded(title, options) {
        window.__shown.push(title);
        try { return new Real(title, options); } catch { return {}; }
      }
      Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
      Recorded.requestPermission = (...a) => Real.requestPermission(...a);
      window.Notification = Recorded;
      Object.defineProperty(document, 'visibilityState', {
        get: () => (window.__hidden ? 'hidden' : 'visible'),
      });`,
  });
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.goto(serve.url);
  await page.getByRole('button', { name: 'Convert', exact: true }).click();
  await page.getByLabel('Style', { exact: true }).selectOption('drop-style');

  // Not images: left out, said so; nothing uploaded.
  const refused = await dropFiles(page, 'section.convert-drop', [
    { name: 'notes.txt', type: 'text/plain', base64: Buffer.from('hello').toString('base64') },
  ]);
  expect(refused).toBe(false);
  await expect(page.getByTestId('toast').filter({ hasText: 'notes.txt' })).toBeVisible();

  await page.evaluate('window.__hidden = true');
  const taken = await dropFiles(page, 'section.convert-drop', [
    { name: 'red.png', type: 'image/png', base64: await pngBase64(40, 28, '#c03020') },
    { name: 'green.png', type: 'image/png', base64: await pngBase64(36, 36, '#20a040') },
  ]);
  expect(taken).toBe(false);
  const input = page.getByLabel('Images to convert (a file or a folder)');
  await expect(input).toHaveValue(new RegExp(`^${path.join(work, 'library', 'inbox')}/`));
  const folder = await input.inputValue();
  expect((await readdir(folder)).sort()).toEqual(['green.png', 'red.png']);
  await expect(page.getByLabel('Output folder')).toHaveValue(`${folder} converted`);

  const card = page.getByRole('article', { name: 'Convert with Drop style' });
  await expect(card).toBeInViewport();
  await expect(card.getByTestId('job-status')).toHaveText('completed', { timeout: 120_000 });
  expect((await readdir(`${folder} converted`)).filter((n) => !n.startsWith('.')).sort()).toEqual([
    'green.png',
    'red.png',
  ]);
  // The end is told: a toast, the title (until the artist is back), a notification (hidden page).
  await expect(
    page.getByTestId('toast').filter({ hasText: 'Convert with Drop style: finished' }),
  ).toBeVisible();
  await expect(page).toHaveTitle(/✓ Convert with Drop style finished · Patchwork/);
  await expect
    .poll(() => page.evaluate('window.__shown'))
    .toEqual(['Patchwork: Convert with Drop style finished']);
  problems.push(...(await checkAndShoot(page, testInfo, 'convert-after-drop')));

  // The results gallery: both pairs, next and previous by keyboard.
  await card.getByRole('button', { name: 'Open the results' }).click();
  const gallery = page.getByRole('dialog', { name: /Results/ });
  await expect(gallery.getByTestId('gallery-position')).toContainText('1 of 2');
  await expect(gallery.getByRole('img', { name: /^After: / })).toBeVisible();
  const first = await gallery.getByTestId('gallery-position').textContent();
  await page.keyboard.press('ArrowRight');
  await expect(gallery.getByTestId('gallery-position')).toContainText('2 of 2');
  await expect(gallery.getByTestId('gallery-position')).not.toHaveText(first ?? '');
  await page.keyboard.press('ArrowRight'); // round to the first
  await expect(gallery.getByTestId('gallery-position')).toContainText('1 of 2');
  await page.keyboard.press('ArrowLeft');
  await expect(gallery.getByTestId('gallery-position')).toContainText('2 of 2');
  await expect
    .poll(() =>
      gallery
        .getByRole('img', { name: /^After: / })
        .evaluate((img) => (img as { naturalWidth: number }).naturalWidth),
    )
    .toBeGreaterThan(0);
  problems.push(...(await checkAndShoot(page, testInfo, 'results-gallery')));
  await page.keyboard.press('Escape');
  await expect(gallery).toBeHidden();

  // A drop anywhere else keeps the page: taken (so not opened by the browser), and said so.
  await page.getByRole('button', { name: 'Styles', exact: true }).click();
  const elsewhere = await dropFiles(page, 'main', [
    { name: 'red.png', type: 'image/png', base64: await pngBase64(8, 8, '#c03020') },
  ]);
  expect(elsewhere).toBe(false);
  await expect(
    page.getByTestId('toast').filter({ hasText: 'Drop images on the Convert page' }),
  ).toBeVisible();
  await expect(page).toHaveURL(`${serve.origin}/`);

  expect(problems).toEqual([]);
});

test('running jobs show in the navigation; finished ones are cleared', async ({
  page,
}, testInfo) => {
  const problems = watchConsole(page);
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.goto(serve.url);
  await expect(page.getByRole('heading', { name: 'New style' })).toBeVisible();
  // A long training run: the New style tab says it runs and how far; so does the title.
  const long = (await api('train:start', {
    name: 'Long run',
    source: path.join(SAMPLES, 'source'),
    target: path.join(SAMPLES, 'target'),
    preset: 'fastcut',
    options: TINY,
    iterations: 100_000,
    backend: 'wasm',
    previewEvery: 0,
  })) as { job: { id: string } };
  await expect(page.getByTestId('nav-train-jobs')).toContainText(/1 running · \d+ %/, {
    timeout: 120_000,
  });
  await expect(page).toHaveTitle(/^\d+ % · Patchwork$/);
  await expect(
    page.getByRole('button', { name: 'New style', exact: true }),
  ).toHaveAccessibleDescription(/1 running/);
  problems.push(...(await checkAndShoot(page, testInfo, 'navigation-running')));
  await api('job:cancel', { jobId: long.job.id });
  expect(await settle(long.job.id)).toBe('cancelled');
  await expect(page.getByTestId('nav-train-jobs')).toBeHidden();
  await expect(page.getByTestId('toast').filter({ hasText: 'Long run: stopped' })).toBeVisible();

  // Two failed conversions (an empty folder) beside the finished one from before.
  for (let i = 0; i < 2; i++) {
    const failed = (await api('convert:start', {
      styleId: 'drop-style',
      input: path.join(work, 'empty'),
      output: path.join(work, `out-${i}`),
      backend: 'wasm',
    })) as { job: { id: string } };
    await settle(failed.job.id);
  }
  await page.getByRole('button', { name: 'Convert', exact: true }).click();
  const cards = page.locator('article.job:not(.watch)');
  await expect(cards).toHaveCount(3);
  await cards
    .first()
    .getByRole('button', { name: /^Clear .* from the list$/ })
    .click();
  await expect(cards).toHaveCount(2);
  problems.push(...(await checkAndShoot(page, testInfo, 'convert-jobs')));
  await page.getByRole('button', { name: 'Clear finished (2)' }).click();
  await expect(cards).toHaveCount(0);
  // Gone for good: the list on the server lost them too.
  await page.reload();
  await page.getByRole('button', { name: 'Convert', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Convert', exact: true })).toBeVisible();
  await expect(cards).toHaveCount(0);
  const { jobs } = (await api('jobs:list', {})) as { jobs: { kind: string }[] };
  expect(jobs.filter((j) => j.kind === 'convert')).toEqual([]);

  // Training cards clear too, one by one.
  await page.getByRole('button', { name: 'New style', exact: true }).click();
  await page.getByRole('button', { name: 'Clear Long run from the list' }).click();
  await expect(page.getByRole('article', { name: 'Training Long run' })).toBeHidden();

  // Settings tells what the inbox holds (the drop converted above, its card cleared now), and
  // empties it only once the artist confirms.
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  const inbox = page.getByTestId('inbox');
  await expect(inbox.getByTestId('inbox-size')).toContainText(
    /in\s+\d+\s+files:\s+uploads\s+[\d.]+\s+K?B\s+\(2\)/,
  );
  await inbox.getByRole('button', { name: 'Empty inbox…' }).click();
  const confirm = inbox.getByRole('alertdialog', { name: 'Empty the inbox?' });
  await expect(confirm).toBeVisible();
  problems.push(...(await checkAndShoot(page, testInfo, 'settings-inbox')));
  expect((await readdir(path.join(work, 'library', 'inbox'))).length).toBe(2);
  await confirm.getByRole('button', { name: 'Empty it for good' }).click();
  await expect(inbox.getByTestId('inbox-note')).toContainText(/Emptied: \d+ files/);
  await expect(inbox.getByTestId('inbox-size')).toHaveText('The inbox is empty.');
  expect(await readdir(path.join(work, 'library', 'inbox'))).toEqual([]);
  expect(problems).toEqual([]);
});
