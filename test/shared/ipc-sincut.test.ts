/**
 * The contract's SinCUT, pause and estimate channels and the engine's train-sincut message:
 * what is accepted, and that a bad input is refused with a message naming the field.
 */
import { describe, expect, it } from 'vitest';
import { parseRequest, type IpcError } from '../../shared/ipc';
import { parseToWorker, resolveSinCutJobOptions } from '../../shared/ipc-worker';

const good = {
  name: 'Pair',
  source: '/pics/a.png',
  target: '/pics/b.png',
  setting: 'paper',
  options: { ngf: 8, batchSize: 4, cropSize: 32 },
  iterations: 100,
  backend: 'wasm',
};

const refusal = (channel: string, input: unknown) => {
  const parsed = parseRequest({ channel, input });
  if (!('code' in parsed)) throw new Error(`${channel} accepted ${JSON.stringify(input)}`);
  return parsed as IpcError;
};

describe('train:sincut', () => {
  it('accepts a pair with its setting and options', () => {
    const parsed = parseRequest({ channel: 'train:sincut', input: good });
    expect('code' in parsed).toBe(false);
  });

  it('refuses a missing image, an unknown setting, a CUT-only option, a bad width', () => {
    expect(refusal('train:sincut', { ...good, target: '' }).message).toBe(
      'The look you want: needs a path.',
    );
    expect(refusal('train:sincut', { ...good, setting: 'huge' }).issues?.[0].path).toBe('setting');
    const cutOnly = refusal('train:sincut', { ...good, options: { loadSize: 286 } });
    expect(cutOnly.code).toBe('invalid-input');
    expect(cutOnly.message).toBe('options: takes no loadSize.');
    expect(refusal('train:sincut', { ...good, options: { ngf: 0 } }).issues?.[0].path).toBe(
      'options.ngf',
    );
  });
});

describe('train:pause and train:estimate', () => {
  it('takes a job id to pause', () => {
    expect(refusal('train:pause', { jobId: 'Not An Id' }).message).toBe('jobId: not a job id.');
  });

  it('takes each preset with its own options only', () => {
    const sincut = { preset: 'sincut', setting: 'reference', options: { batchSize: 4 } };
    expect('code' in parseRequest({ channel: 'train:estimate', input: sincut })).toBe(false);
    const cut = { preset: 'cut', options: { ngf: 16, loadSize: 143 }, cachedOnly: true };
    expect('code' in parseRequest({ channel: 'train:estimate', input: cut })).toBe(false);
    // A SinCUT setting means nothing to CUT.
    expect(refusal('train:estimate', { ...cut, setting: 'paper' }).code).toBe('invalid-input');
    expect(refusal('train:estimate', { preset: 'pix2pix' }).code).toBe('invalid-input');
  });
});

describe('the train-sincut worker message', () => {
  const spec = {
    source: '/a.png',
    target: '/b.png',
    out: '/lib/styles/pair',
    options: { variant: 'reference', cropSize: 32 },
    iterations: null,
    backend: 'auto',
  };

  it('is validated field by field', () => {
    const ok = parseToWorker({ type: 'train-sincut', jobId: 'j1', spec, resume: true });
    expect(ok).toMatchObject({ type: 'train-sincut', resume: true, spec: { iterations: null } });
    for (const bad of [
      { ...spec, out: '' },
      { ...spec, options: { variant: 'huge' } },
      { ...spec, options: { ...spec.options, loadSize: 3 } },
      { ...spec, iterations: 0 },
    ]) {
      expect(parseToWorker({ type: 'train-sincut', jobId: 'j1', spec: bad, resume: false })).toBe(
        null,
      );
    }
  });

  it('resolves small crops with a discriminator window that fits them', () => {
    expect(resolveSinCutJobOptions({ variant: 'reference', cropSize: 32 }).dPatch).toBe(32);
    expect(resolveSinCutJobOptions({ variant: 'paper' }).dPatch).toBe(64);
    expect(() => resolveSinCutJobOptions({ variant: 'reference', cropSize: 15 })).toThrow(
      /cropSize.*multiple of 2/,
    );
  });
});
