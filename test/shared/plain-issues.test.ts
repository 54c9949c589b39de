/**
 * Every issue a request schema can raise reads as plain words under the right field: the
 * studio shows these under its fields and the services answer with the same sentence, so
 * no "Too small: expected number to be >0" or "train:start: name:" reaches an artist.
 */
import { describe, expect, it } from 'vitest';
import {
  parseRequest,
  sincutStartSchema,
  trainStartSchema,
  convertStartSchema,
} from '../../shared/ipc';
import { fieldLabel, plainIssues, plainSentence } from '../../shared/plain-issues';

const good = {
  name: 'Ink',
  source: '/a',
  target: '/b',
  preset: 'fastcut',
  iterations: 100,
  options: { ngf: 16, nBlocks: 4, cropSize: 128, loadSize: 143 },
};

const issuesOf = (schema: { safeParse: (v: unknown) => unknown }, value: unknown) => {
  const r = schema.safeParse(value) as { success: boolean; error?: { issues: never[] } };
  return r.success ? [] : plainIssues(r.error!.issues);
};

describe('schema issues in plain words, by field', () => {
  it.each([
    [{ name: '  ' }, 'name', 'needs to be filled in'],
    [{ iterations: -5 }, 'iterations', 'must be more than 0'],
    [{ iterations: 2.5 }, 'iterations', 'must be a whole number'],
    [{ source: '' }, 'source', 'needs a path'],
    [{ options: { ngf: null } }, 'options.ngf', 'needs a number'],
    [{ options: { ngf: 0 } }, 'options.ngf', 'must be positive'],
    [{ options: { ngf: 1024 } }, 'options.ngf', 'must be at most 512'],
    [{ options: { nBlocks: Number.NaN } }, 'options.nBlocks', 'needs a number'],
    [{ options: { lambdaNCE: -1 } }, 'options.lambdaNCE', 'must be at least 0'],
    [{ options: { lr: 2 } }, 'options.lr', 'must be at most 1'],
    [{ preset: 'turbo' }, 'preset', 'must be one of cut, fastcut'],
    [{ options: { ngff: 3 } }, 'options', 'takes no ngff'],
    [{ previewEvery: -1 }, 'previewEvery', 'must be at least 0'],
  ])('%j → %s: %s', (change, path, message) => {
    expect(issuesOf(trainStartSchema, { ...good, ...change })).toEqual([{ path, message }]);
  });

  it('words SinCUT’s and Convert’s requests the same way', () => {
    const pair = { name: 'P', source: '/a.png', target: '', options: { batchSize: 0 } };
    expect(issuesOf(sincutStartSchema, pair)).toEqual([
      { path: 'target', message: 'needs a path' },
      { path: 'options.batchSize', message: 'must be positive' },
    ]);
    const convert = { styleId: 'sepia', input: '/in', output: '/out', quality: 0, tile: 4 };
    expect(issuesOf(convertStartSchema, convert)).toEqual([
      { path: 'quality', message: 'must be at least 1' },
      { path: 'tile', message: 'must be at least 8' },
    ]);
  });

  it('never lets zod’s own wording through, whatever the value', () => {
    const values = [null, -5, 0, 1e9, 2.5, '', 'x', true, [], {}];
    for (const v of values) {
      for (const key of ['name', 'source', 'iterations', 'previewEvery', 'preset']) {
        for (const i of issuesOf(trainStartSchema, { ...good, [key]: v })) {
          expect(i.message, `${key}=${JSON.stringify(v)}`).not.toMatch(
            /Too small|Too big|Invalid|expected/,
          );
        }
      }
    }
  });

  it('answers a refused request with one sentence in the forms’ labels', () => {
    const reply = parseRequest({
      channel: 'train:start',
      input: { ...good, name: '', iterations: -5 },
    });
    expect(reply).toMatchObject({
      code: 'invalid-input',
      message: 'Name: needs to be filled in; Training steps: must be more than 0.',
      issues: [
        { path: 'name', message: 'needs to be filled in' },
        { path: 'iterations', message: 'must be more than 0' },
      ],
    });
    expect(plainSentence([{ path: '(input)', message: 'needs an object' }])).toBe(
      'Needs an object.',
    );
    expect(fieldLabel('options.ngf')).toBe('Network width (ngf)');
    expect(fieldLabel('nceTaps.1')).toBe('Encoder taps');
  });
});
