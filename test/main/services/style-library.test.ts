/**
 * Managing the style library through the Studio: rename, duplicate, reveal and delete, and
 * the refusals that keep every change inside <library>/styles (an id is one folder name,
 * a link in place of a style is never followed, a style still training is left alone).
 */
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StyleInfo } from '../../../shared/ipc';
import { Studio, type StudioOptions } from '../../../main/services/studio/studio';
import type { WorkerHost } from '../../../main/services/worker-host';

let library: string;
let outside: string;

/** Holds every job until disposed: a started training job stays "running". */
function idleHost(): WorkerHost {
  const stops: ((e: Error) => void)[] = [];
  return {
    pid: null,
    run: () => new Promise((_resolve, reject) => stops.push(reject)),
    cancel: () => true,
    dispose: () => stops.splice(0).forEach((stop) => stop(new Error('shutting down'))),
  } as unknown as WorkerHost;
}

beforeEach(async () => {
  library = await mkdtemp(path.join(os.tmpdir(), 'pw-styles-'));
  outside = await mkdtemp(path.join(os.tmpdir(), 'pw-outside-'));
});
afterEach(async () => {
  await rm(library, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

async function writeStyle(id: string, name: string) {
  const dir = path.join(library, 'styles', id, 'style');
  await mkdir(dir, { recursive: true });
  await mkdir(path.join(library, 'styles', id, 'checkpoints'), { recursive: true });
  await writeFile(path.join(dir, 'generator.json'), '{"weights":[]}');
  await writeFile(
    path.join(dir, 'style.json'),
    JSON.stringify({ format: 'x', name, preset: 'fastcut', created: '2026-01-01T00:00:00Z' }),
  );
}

async function open(extra: Partial<StudioOptions> = {}) {
  return Studio.open({
    libraryDir: library,
    host: idleHost(),
    transport: 'serve',
    version: 'test',
    samplesDir: null,
    allowedRoots: [library],
    cacheDir: path.join(library, '.thumbs'),
    ...extra,
  });
}

async function call(studio: Studio, channel: string, input: unknown) {
  return studio.handle({ channel, input });
}

async function value<T>(studio: Studio, channel: string, input: unknown): Promise<T> {
  const reply = await call(studio, channel, input);
  if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
  return reply.value as T;
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('style management', () => {
  it('renames a style in place: the id and folder stay, the name changes', async () => {
    await writeStyle('sepia', 'Sepia');
    const studio = await open();
    const events: string[] = [];
    studio.subscribe((e) => events.push(e.type));
    const { style } = await value<{ style: StyleInfo }>(studio, 'style:rename', {
      styleId: 'sepia',
      name: '  Warm sepia ',
    });
    expect(style).toMatchObject({ id: 'sepia', name: 'Warm sepia', status: 'ready' });
    const meta = JSON.parse(
      await readFile(path.join(library, 'styles/sepia/style/style.json'), 'utf8'),
    );
    expect(meta).toMatchObject({ name: 'Warm sepia', preset: 'fastcut', format: 'x' });
    expect(events).toContain('styles-changed');
    await studio.dispose();
  });

  it('duplicates the trained style (not its checkpoints) under a free id', async () => {
    await writeStyle('sepia', 'Sepia');
    const studio = await open();
    const first = await value<{ style: StyleInfo }>(studio, 'style:duplicate', {
      styleId: 'sepia',
    });
    const second = await value<{ style: StyleInfo }>(studio, 'style:duplicate', {
      styleId: 'sepia',
    });
    expect([first.style.id, first.style.name]).toEqual(['sepia-copy', 'Sepia copy']);
    expect(second.style.id).toBe('sepia-copy-2');
    expect(await readdir(path.join(library, 'styles/sepia-copy'))).toEqual(['style']);
    expect(
      await readFile(path.join(library, 'styles/sepia-copy/style/generator.json'), 'utf8'),
    ).toBe('{"weights":[]}');
    await studio.dispose();
  });

  it('deletes a style folder only when confirmed, and only inside the library', async () => {
    await writeStyle('sepia', 'Sepia');
    const studio = await open();
    const unconfirmed = await call(studio, 'style:delete', { styleId: 'sepia' });
    expect(!unconfirmed.ok && unconfirmed.error.code).toBe('invalid-input');
    expect(await exists(path.join(library, 'styles/sepia'))).toBe(true);

    await value(studio, 'style:delete', { styleId: 'sepia', confirm: true });
    expect(await exists(path.join(library, 'styles/sepia'))).toBe(false);
    const again = await call(studio, 'style:delete', { styleId: 'sepia', confirm: true });
    expect(!again.ok && again.error.code).toBe('not-found');

    // A link in the library pointing elsewhere is refused, and what it points to survives.
    await writeFile(path.join(outside, 'precious.txt'), 'keep me');
    await symlink(outside, path.join(library, 'styles', 'sneaky'));
    const linked = await call(studio, 'style:delete', { styleId: 'sneaky', confirm: true });
    expect(!linked.ok && linked.error.code).toBe('forbidden-path');
    expect(await readFile(path.join(outside, 'precious.txt'), 'utf8')).toBe('keep me');
    // Names that would climb out never reach the library at all.
    const climb = await call(studio, 'style:delete', { styleId: '..', confirm: true });
    expect(!climb.ok && climb.error.code).toBe('invalid-input');
    await studio.dispose();
  });

  it('leaves a style that is still training alone', async () => {
    const studio = await open({ samplesDir: path.resolve('resources/samples') });
    const samples = path.resolve('resources/samples');
    await value(studio, 'train:start', {
      name: 'Busy',
      source: path.join(samples, 'source'),
      target: path.join(samples, 'target'),
      preset: 'fastcut',
      iterations: 5,
    });
    for (const [channel, input] of [
      ['style:delete', { styleId: 'busy', confirm: true }],
      ['style:rename', { styleId: 'busy', name: 'Other' }],
    ] as const) {
      const reply = await call(studio, channel, input);
      expect(!reply.ok && reply.error.code).toBe('rejected');
      expect(!reply.ok && reply.error.message).toMatch(/still training/);
    }
    expect(await exists(path.join(library, 'styles/busy'))).toBe(true);
    await studio.dispose();
  });

  it('reveals the folder through the shell where there is one, else answers its path', async () => {
    await writeStyle('sepia', 'Sepia');
    const plain = await open();
    expect(await value(plain, 'style:reveal', { styleId: 'sepia' })).toEqual({
      path: path.join(library, 'styles/sepia/style'),
      revealed: false,
    });
    await plain.dispose();
    const shown: string[] = [];
    const desktop = await open({ reveal: (p) => void shown.push(p) });
    expect(await value(desktop, 'style:reveal', { styleId: 'sepia' })).toMatchObject({
      revealed: true,
    });
    expect(shown).toEqual([path.join(library, 'styles/sepia/style')]);
    const missing = await call(desktop, 'style:reveal', { styleId: 'nope' });
    expect(!missing.ok && missing.error.code).toBe('not-found');
    await desktop.dispose();
  });
});
