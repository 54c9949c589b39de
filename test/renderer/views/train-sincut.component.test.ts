/**
 * New style's SinCUT pair, the measured duration, and a training job's Pause / Resume / Stop,
 * over a scripted api: what the artist sees and what the page sends.
 */
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { StudioError, type PairSummary, type StepEstimate } from '../../../shared/ipc';
import { emptyTrainView, type JobSnapshot } from '../../../shared/ipc-jobs';
import { fakeApi, jobSnapshot } from '../fake-api';
import { byText, cleanup, readyStyle, render, type, update } from './mount';

afterEach(cleanup);

const el = (id: string) => document.getElementById(id) as HTMLInputElement;

function choose(preset: string) {
  const radio = document.querySelector<HTMLInputElement>(
    `input[name="preset"][value="${preset}"]`,
  )!;
  radio.checked = true;
  radio.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
}

function dropText(target: Element, text: string, files: object[] = []) {
  const event = new Event('drop', { bubbles: true, cancelable: true });
  Object.defineProperty(event, 'dataTransfer', {
    value: { files, getData: (kind: string) => (kind === 'text/uri-list' ? text : '') },
  });
  target.dispatchEvent(event);
}

const pairAnswer = (input: { source?: string; target?: string }): PairSummary => ({
  source: input.source
    ? { path: input.source, width: 40, height: 40, grayscale: true, trainedAt: null }
    : null,
  target: input.target
    ? {
        path: input.target,
        width: 6000,
        height: 1000,
        grayscale: false,
        trainedAt: { width: 4899, height: 816 },
      }
    : null,
  warnings: input.target
    ? ['Source image is grayscale and target image is in colour: it is read as RGB.']
    : [],
  problem: null,
});

const job = (over: Partial<JobSnapshot> = {}): JobSnapshot =>
  jobSnapshot({
    title: 'Pair',
    train: { ...emptyTrainView('pair', '/lib/styles/pair'), iteration: 3, totalIterations: 10 },
    ...over,
  });

describe('SinCUT in New style', () => {
  it('takes two images (typed or dropped), shows what the engine saw, and sends train:sincut', async () => {
    const fake = fakeApi({
      'sincut:inspect': pairAnswer,
      'train:sincut': () => ({ job: job() }),
    });
    await render(fake);
    choose('sincut');
    expect(document.body.textContent).toMatch(/SinCUT — one pair/);
    expect(el('source')).toBeNull(); // the folder fields give way to the two images
    type(el('source-image'), '/pics/a.png');
    el('source-image').dispatchEvent(new Event('change', { bubbles: true }));
    await update();
    expect(document.querySelector('[data-testid="source-image-facts"]')?.textContent).toMatch(
      /40×40 px · grayscale/,
    );
    expect(
      document.querySelector('[data-testid="source-image-facts"] img')?.getAttribute('src'),
    ).toBe('thumbs?size=240&path=%2Fpics%2Fa.png');

    dropText(el('target-image').closest('.image-pick')!, 'file:///pics/wide%20one.jpg\r\n');
    await update();
    expect(el('target-image').value).toBe('/pics/wide one.jpg');
    expect(fake.requests.filter((r) => r.channel === 'sincut:inspect').at(-1)?.input).toEqual({
      source: '/pics/a.png',
      target: '/pics/wide one.jpg',
      cropSize: 64,
    });
    const facts = document.querySelector('[data-testid="target-image-facts"]')?.textContent;
    expect(facts?.replace(/\s+/g, ' ')).toMatch(
      /6000×1000 px trained on a copy scaled to 4899×816/,
    );
    expect(document.querySelector('.pair-notes')?.textContent).toMatch(/grayscale and target/);

    // A drop that names no file says so where it happened.
    dropText(el('source-image').closest('.image-pick')!, '');
    flushSync();
    expect(document.body.textContent).toMatch(/The browser did not say where that file is/);

    // The desktop app knows where a dropped file lives (the fake gives it a path); a file
    // with no known path falls back to the drop's text.
    dropText(el('source-image').closest('.image-pick')!, '', [{ fakePath: '/desk/b.png' }]);
    await update();
    expect(el('source-image').value).toBe('/desk/b.png');
    dropText(el('source-image').closest('.image-pick')!, 'file:///pics/a.png', [{}]);
    await update();
    expect(el('source-image').value).toBe('/pics/a.png');

    const paper = document.querySelector<HTMLInputElement>('input[value="paper"]')!;
    paper.checked = true;
    paper.dispatchEvent(new Event('change', { bubbles: true }));
    type(el('sincut-batch'), '4');
    type(el('iterations'), '300');
    byText('button', 'Start training')!.click();
    await update();
    const sent = fake.requests.find((r) => r.channel === 'train:sincut');
    expect(sent?.input).toEqual({
      name: 'My style',
      source: '/pics/a.png',
      target: '/pics/wide one.jpg',
      setting: 'paper',
      options: { batchSize: 4, seed: 0 },
      iterations: 300,
      backend: 'auto',
    });
    expect(fake.requests.some((r) => r.channel === 'train:start')).toBe(false);
  });

  it('shows a refusal of an image under that image', async () => {
    const refusal = new StudioError({
      code: 'rejected',
      message: 'source: /pics is a folder; SinCUT takes one image',
      issues: [{ path: 'source', message: 'is a folder; SinCUT takes one image' }],
    });
    await render(fakeApi({ 'train:sincut': () => refusal, 'sincut:inspect': pairAnswer }));
    choose('sincut');
    type(el('source-image'), '/pics');
    type(el('target-image'), '/pics/b.jpg');
    byText('button', 'Start training')!.click();
    await update();
    expect(document.querySelector('[role="alert"]')?.textContent).toMatch(/is a folder/);
    expect(document.getElementById('source-image-hint')?.textContent).toBe(
      'Is a folder; SinCUT takes one image',
    );
  });

  it('starts with a crop below D’s usual window, as the services resolve it', async () => {
    const fake = fakeApi({
      'train:sincut': () => ({ job: job() }),
      'sincut:inspect': pairAnswer,
    });
    await render(fake);
    choose('sincut');
    type(el('source-image'), '/pics/a.png');
    type(el('target-image'), '/pics/b.png');
    type(el('sincut-crop'), '16');
    byText('button', 'Start training')!.click();
    await update();
    expect(document.querySelector('[role="alert"]')).toBeNull();
    expect(fake.requests.find((r) => r.channel === 'train:sincut')?.input).toMatchObject({
      options: { cropSize: 16 },
    });
  });

  it('shows a refused option under its field, in place of the hint, and marks the field', async () => {
    const refusal = new StudioError({
      code: 'rejected',
      message: 'options.cropSize: must be even',
      issues: [{ path: 'options.cropSize', message: 'must be even' }],
    });
    await render(fakeApi({ 'train:sincut': () => refusal, 'sincut:inspect': pairAnswer }));
    choose('sincut');
    const hint = () => document.getElementById('sincut-crop-hint');
    expect(hint()?.textContent).toBe('Training patch, an even number.');
    expect(el('sincut-crop').getAttribute('aria-invalid')).toBeNull();
    type(el('source-image'), '/pics/a.jpg');
    type(el('target-image'), '/pics/b.jpg');
    byText('button', 'Start training')!.click();
    await update();
    expect(hint()?.textContent).toBe('Must be even');
    expect(hint()?.className).toBe('error');
    expect(el('sincut-crop').getAttribute('aria-invalid')).toBe('true');
    expect(el('sincut-crop').getAttribute('aria-describedby')).toBe('sincut-crop-hint');
  });
});

describe('the measured duration', () => {
  it('asks the cache as settings change, measures on request, and shows the total', async () => {
    const measured: StepEstimate = {
      secondsPerStep: 2.5,
      backend: 'wasm (SIMD, 1 thread)',
      measuredAt: '2026-01-01T00:00:00Z',
      cached: false,
      contended: false,
    };
    const fake = fakeApi({
      'train:estimate': (input) => ({ estimate: input.cachedOnly ? null : measured }),
    });
    await render(fake);
    await update();
    const estimate = () =>
      document.querySelector('[data-testid="estimate"]')?.textContent?.replace(/\s+/g, ' ');
    expect(estimate()).toMatch(/Not measured for these settings yet/);
    expect(fake.requests.find((r) => r.channel === 'train:estimate')?.input).toMatchObject({
      preset: 'fastcut',
      options: { ngf: 64, nBlocks: 9, cropSize: 256 },
      cachedOnly: true,
    });
    byText('button', 'Measure on this machine')!.click();
    await update();
    // 2000 steps × 2.5 s
    expect(estimate()).toMatch(/about 1 h 23 min on this machine \(measured\)/);

    byText('button', 'Measure again')!.click();
    await update();
    expect(fake.requests.at(-1)).toMatchObject({
      channel: 'train:estimate',
      input: { remeasure: true },
    });

    // Another configuration has its own measurement: asked from the cache again.
    choose('sincut');
    await update();
    expect(fake.requests.at(-1)).toMatchObject({
      channel: 'train:estimate',
      input: { preset: 'sincut', setting: 'reference', cachedOnly: true },
    });
    expect(estimate()).toMatch(/Not measured/);

    // A field mid-edit is not a configuration: nothing is asked, and no error is shown.
    choose('fastcut');
    await update();
    const asked = fake.requests.length;
    byText('summary', 'Advanced options')!.click();
    type(el('ngf'), '');
    await update();
    expect(fake.requests.length).toBe(asked);
    expect(document.body.textContent).not.toMatch(/Could not measure/);
  });

  it('says when a measurement was taken while another job ran', async () => {
    const fake = fakeApi({
      'train:estimate': () => ({
        estimate: {
          secondsPerStep: 0.9,
          backend: 'wasm',
          measuredAt: '',
          cached: true,
          contended: true,
        },
      }),
    });
    await render(fake);
    await update();
    expect(document.querySelector('[data-testid="estimate"]')?.textContent).toMatch(
      /about 30 min 00 s on this machine \(measured while another job ran: likely less\)/,
    );
  });
});

describe('pause, resume and stop', () => {
  it('offers what each state allows, and sends it', async () => {
    const fake = fakeApi({
      'train:pause': () => ({ job: job() }),
      'train:resume': () => ({ job: job({ status: 'queued' }) }),
      'job:cancel': () => ({ job: job() }),
    });
    await render(fake);
    fake.push({ type: 'job', job: job() });
    flushSync();
    const card = document.querySelector('article[aria-label="Training Pair"]')!;
    const buttons = () => [...card.querySelectorAll('button')].map((b) => b.textContent?.trim());
    expect(buttons()).toEqual(['Pause', 'Stop']);
    byText('button', 'Pause', card)!.click();
    await update();
    expect(fake.requests.at(-1)).toEqual({ channel: 'train:pause', input: { jobId: 'j1' } });
    expect(buttons()).toEqual(['Pausing…', 'Stop']);
    expect(byText('button', 'Stop', card)?.hasAttribute('disabled')).toBe(true);

    fake.push({ type: 'job', job: job({ status: 'paused' }) });
    flushSync();
    expect(buttons()).toEqual(['Resume', 'Stop']);
    expect(card.querySelector('[data-testid="job-state"]')?.textContent).toMatch(
      /Paused at step 3\. The engine is free for other jobs/,
    );
    byText('button', 'Resume', card)!.click();
    await update();
    expect(fake.requests.at(-1)).toEqual({ channel: 'train:resume', input: { jobId: 'j1' } });

    fake.push({ type: 'job', job: job({ status: 'queued' }) });
    flushSync();
    expect(buttons()).toEqual(['Cancel']);

    fake.push({ type: 'job', job: job({ status: 'running' }) });
    flushSync();
    byText('button', 'Stop', card)!.click();
    await update();
    // Stop asks first, with the safe answer focused; Keep training takes the question back.
    expect(buttons()).toEqual(['Pause', 'Stop training', 'Keep training']);
    expect(document.activeElement?.textContent).toBe('Keep training');
    byText('button', 'Keep training', card)!.click();
    await update();
    expect(buttons()).toEqual(['Pause', 'Stop']);
    expect(fake.requests.at(-1)?.channel).not.toBe('job:cancel');
    byText('button', 'Stop', card)!.click();
    await update();
    byText('button', 'Stop training', card)!.click();
    await update();
    expect(fake.requests.at(-1)).toEqual({ channel: 'job:cancel', input: { jobId: 'j1' } });
    expect(buttons()).toEqual(['Pause', 'Stopping…']);

    fake.push({ type: 'job', job: job({ status: 'cancelled' }) });
    flushSync();
    await update();
    expect(buttons()).toEqual(['Continue training']);
    // The badge says what the text says, and focus is on what can be done now.
    expect(card.querySelector('[data-testid="job-status"]')?.textContent).toBe('stopped');
    expect(document.activeElement?.textContent).toBe('Continue training');
    expect(card.querySelector('[data-testid="job-state"]')?.textContent).toMatch(
      /Stopped at step 3: the style made from it is in the library/,
    );
  });

  it('shows a paused style in the library, without the actions it cannot take yet', async () => {
    const fake = fakeApi({
      'styles:list': () => ({ styles: [readyStyle({ status: 'paused', jobId: 'j1' })] }),
    });
    await render(fake);
    byText('nav button', 'Styles')!.click();
    flushSync();
    const card = document.querySelector('[data-style-id="sepia"]')!;
    expect(card.textContent).toMatch(/Sepia\s*paused/);
    expect(card.textContent).toMatch(/Its training is paused/);
    expect(byText('button', 'Delete', card)).toBeUndefined();
    expect(byText('button', 'Convert with it', card)).toBeUndefined();
  });
});
