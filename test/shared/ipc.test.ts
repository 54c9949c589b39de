/**
 * The contract's gate: every message the services receive goes through parseRequest, so
 * these cases are what a malicious or buggy page (or a stale client) can send.
 */
import { describe, expect, it } from 'vitest';
import {
  createApi,
  isIpcError,
  parseRequest,
  StudioError,
  type PatchworkBridge,
} from '../../shared/ipc';

const train = {
  name: 'Sepia',
  source: '/a',
  target: '/b',
  preset: 'fastcut',
  options: { ngf: 16 },
  iterations: 100,
};

describe('parseRequest', () => {
  it('accepts a well-formed request and returns the parsed input', () => {
    expect(parseRequest({ channel: 'train:start', input: train })).toEqual({
      channel: 'train:start',
      input: train,
    });
    expect(parseRequest({ channel: 'app:info', input: {} })).toEqual({
      channel: 'app:info',
      input: {},
    });
  });

  it.each([
    ['not an object', 'train:start'],
    ['null', null],
    ['an array', [1, 2]],
    ['an envelope with more keys', { channel: 'app:info', input: {}, sender: 'x' }],
    ['a channel that is not a string', { channel: 7, input: {} }],
  ])('refuses %s as invalid-message', (_what, raw) => {
    const r = parseRequest(raw);
    expect(isIpcError(r) && r.code).toBe('invalid-message');
  });

  it('refuses an unknown channel, also one named like an object property', () => {
    for (const channel of ['fs:read', 'toString', '__proto__', 'constructor']) {
      const r = parseRequest({ channel, input: {} });
      expect(isIpcError(r) && r.code).toBe('invalid-message');
      expect(isIpcError(r) && r.message).toMatch(/unknown channel/);
    }
  });

  it('names each wrong field of an input', () => {
    const r = parseRequest({
      channel: 'train:start',
      input: { ...train, preset: 'slowcut', options: { ngf: -1, lambdaIdentity: 2 } },
    });
    expect(isIpcError(r) && r.code).toBe('invalid-input');
    const paths = isIpcError(r) ? (r.issues ?? []).map((i) => i.path).sort() : [];
    expect(paths).toEqual(['options', 'options.ngf', 'preset']);
  });

  it('refuses extra fields and wrong types on every channel', () => {
    const cases = [
      { channel: 'app:info', input: { debug: true } },
      { channel: 'job:cancel', input: { jobId: '../../etc' } },
      { channel: 'convert:start', input: { styleId: 'a/b', input: '/x', output: '/y' } },
      { channel: 'dialog:pick', input: { kind: 'socket' } },
      { channel: 'train:start', input: { ...train, iterations: 1.5 } },
      { channel: 'watch:start', input: { styleId: 'a', input: '/x', output: '/y', format: 'gif' } },
      { channel: 'watch:stop', input: { watchId: '../w' } },
      { channel: 'heatmap:query', input: { styleId: 'a', image: '/i.png', x: -1, y: 0 } },
      {
        channel: 'heatmap:query',
        input: { styleId: 'a', image: '/i.png', x: 1, y: 1, tap: 'a b' },
      },
      {
        channel: 'heatmap:query',
        input: { styleId: 'a', image: '/i.png', x: 1, y: 1, opacity: 2 },
      },
    ];
    for (const raw of cases) {
      const r = parseRequest(raw);
      expect(isIpcError(r) && r.code, JSON.stringify(raw)).toBe('invalid-input');
    }
  });

  it('keeps style ids to one folder name and asks for confirmation before a delete', () => {
    for (const styleId of ['..', '.', '.hidden', 'a/b', 'a\\b', '', 'x'.repeat(121)]) {
      const r = parseRequest({ channel: 'style:rename', input: { styleId, name: 'New' } });
      expect(isIpcError(r) && r.code, styleId).toBe('invalid-input');
    }
    const unconfirmed = parseRequest({ channel: 'style:delete', input: { styleId: 'sepia' } });
    expect(isIpcError(unconfirmed) && unconfirmed.issues?.[0].path).toBe('confirm');
    const wrong = parseRequest({
      channel: 'style:delete',
      input: { styleId: 'a', confirm: 'yes' },
    });
    expect(isIpcError(wrong) && wrong.code).toBe('invalid-input');
    expect(
      parseRequest({ channel: 'style:delete', input: { styleId: 'sepia', confirm: true } }),
    ).toMatchObject({ channel: 'style:delete' });
    const blank = parseRequest({ channel: 'style:rename', input: { styleId: 'a', name: '   ' } });
    expect(isIpcError(blank) && blank.issues?.[0]).toMatchObject({ path: 'name' });
  });

  it('treats a missing input as empty', () => {
    expect(parseRequest({ channel: 'jobs:list', input: undefined })).toEqual({
      channel: 'jobs:list',
      input: {},
    });
  });
});

describe('createApi', () => {
  it('returns values and turns error replies into StudioError with the issues', async () => {
    const bridge: PatchworkBridge = {
      invoke: async (e) =>
        e.channel === 'jobs:list'
          ? { ok: true, value: { jobs: [] } }
          : {
              ok: false,
              error: { code: 'rejected', message: 'no', issues: [{ path: 'x', message: 'y' }] },
            },
      onEvent: () => () => undefined,
      fileUrl: (p) => `files?path=${p}`,
      thumbUrl: (p, size) => `thumbs?size=${size}&path=${p}`,
    };
    const api = createApi(bridge);
    expect(await api.request('jobs:list', {})).toEqual({ jobs: [] });
    const err = await api.request('styles:list', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StudioError);
    expect((err as StudioError).code).toBe('rejected');
    expect((err as StudioError).issues).toEqual([{ path: 'x', message: 'y' }]);
  });
});
