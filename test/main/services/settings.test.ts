/**
 * Settings through the Studio: validated field by field, kept across a restart, a damaged
 * file falling back per field, the library folder fixed where `serve --library` gives it, and
 * the backend and memory budget reaching the jobs that do not name their own.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SettingsView } from '../../../shared/ipc-settings';
import { SETTINGS_FILE } from '../../../main/services/settings';
import { Studio, type StudioOptions } from '../../../main/services/studio/studio';
import type { WorkerHost, WorkerJob } from '../../../main/services/worker-host';

let library: string;
beforeEach(async () => {
  library = await mkdtemp(path.join(os.tmpdir(), 'pw-settings-'));
});
afterEach(() => rm(library, { recursive: true, force: true }));

function recordingHost(runs: WorkerJob[]): WorkerHost {
  const stops: ((e: Error) => void)[] = [];
  return {
    pid: null,
    run: (job: WorkerJob) => {
      runs.push(job);
      return new Promise((_resolve, reject) => stops.push(reject));
    },
    cancel: () => true,
    dispose: () => stops.splice(0).forEach((stop) => stop(new Error('shutting down'))),
  } as unknown as WorkerHost;
}

function open(extra: Partial<StudioOptions> = {}, runs: WorkerJob[] = []) {
  return Studio.open({
    libraryDir: library,
    host: recordingHost(runs),
    transport: 'electron',
    version: 'test',
    samplesDir: null,
    allowedRoots: null,
    cacheDir: path.join(library, '.thumbs'),
    ...extra,
  });
}

async function call(studio: Studio, channel: string, input: unknown) {
  return studio.handle({ channel, input });
}

async function settings(studio: Studio, input: unknown = undefined): Promise<SettingsView> {
  const reply = await call(studio, input ? 'settings:set' : 'settings:get', input ?? {});
  if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
  return reply.value as SettingsView;
}

describe('settings', () => {
  it('starts from the defaults, saves a change and has it after a restart', async () => {
    const first = await open();
    expect((await settings(first)).settings).toEqual({
      theme: 'dark',
      backend: 'auto',
      engine: 'auto',
      memoryBudgetMB: 3072,
      defaultFormat: 'same',
      libraryDir: null,
      gpuAdapter: null,
      threads: 'auto',
    });
    const events: string[] = [];
    first.subscribe((e) => events.push(e.type));
    await settings(first, { theme: 'light', memoryBudgetMB: 1024 });
    expect(events).toContain('settings');
    await first.dispose();
    const stored = JSON.parse(await readFile(path.join(library, SETTINGS_FILE), 'utf8'));
    expect(stored).toMatchObject({ theme: 'light', memoryBudgetMB: 1024 });

    const second = await open();
    expect((await settings(second)).settings).toMatchObject({
      theme: 'light',
      memoryBudgetMB: 1024,
    });
    await second.dispose();
  });

  it('refuses bad values with the field they concern, and changes nothing then', async () => {
    const studio = await open();
    const cases: [unknown, string][] = [
      [{ theme: 'sepia' }, 'theme'],
      [{ memoryBudgetMB: 10 }, 'memoryBudgetMB'],
      [{ memoryBudgetMB: 1000.5 }, 'memoryBudgetMB'],
      [{ backend: 'quantum' }, 'backend'],
      [{ libraryDir: 'relative/folder' }, 'libraryDir'],
      [{ gpuAdapter: '' }, 'gpuAdapter'],
      [{ gpuAdapter: 3 }, 'gpuAdapter'],
      [{ colour: 'red' }, '(input)'],
    ];
    for (const [input, field] of cases) {
      const reply = await call(studio, 'settings:set', input);
      expect(!reply.ok && reply.error.code, JSON.stringify(input)).toBe('invalid-input');
      expect(!reply.ok && reply.error.issues?.[0].path, JSON.stringify(input)).toBe(field);
    }
    expect((await settings(studio)).settings.theme).toBe('dark');
    await studio.dispose();
  });

  it('takes a new library folder for the next start; serve’s --library cannot be moved', async () => {
    const desktop = await open();
    const elsewhere = path.join(library, 'elsewhere');
    const view = await settings(desktop, { libraryDir: elsewhere });
    expect(view).toMatchObject({ restartNeeded: true, libraryInUse: library, libraryFixed: false });
    await writeFile(path.join(library, 'a-file'), 'x');
    const notFolder = await call(desktop, 'settings:set', {
      libraryDir: path.join(library, 'a-file'),
    });
    expect(!notFolder.ok && notFolder.error.code).toBe('rejected');
    await desktop.dispose();

    await rm(path.join(library, SETTINGS_FILE));
    const served = await open({ libraryFixed: true });
    const fixed = await call(served, 'settings:set', { libraryDir: elsewhere });
    expect(!fixed.ok && fixed.error).toMatchObject({ code: 'rejected' });
    expect(!fixed.ok && fixed.error.message).toMatch(/--library/);
    await served.dispose();
  });

  it('hands the thread count to engine processes through their environment', async () => {
    const saved = { n: process.env.PATCHWORK_THREADS, spare: process.env.PATCHWORK_THREADS_SPARE };
    try {
      const studio = await open();
      // Auto from the start, with one core kept for the studio itself.
      expect(process.env.PATCHWORK_THREADS).toBe('auto');
      expect(process.env.PATCHWORK_THREADS_SPARE).toBe('1');
      expect((await settings(studio, { threads: 3 })).settings.threads).toBe(3);
      expect(process.env.PATCHWORK_THREADS).toBe('3');
      const bad = await call(studio, 'settings:set', { threads: 0 });
      expect(bad.ok).toBe(false);
      expect(process.env.PATCHWORK_THREADS).toBe('3');
      await studio.dispose();
    } finally {
      for (const [key, value] of [
        ['PATCHWORK_THREADS', saved.n],
        ['PATCHWORK_THREADS_SPARE', saved.spare],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('keeps the good fields of a damaged file', async () => {
    await mkdir(library, { recursive: true });
    await writeFile(
      path.join(library, SETTINGS_FILE),
      JSON.stringify({ theme: 'light', memoryBudgetMB: -5, backend: 'warp' }),
    );
    const studio = await open();
    expect((await settings(studio)).settings).toMatchObject({
      theme: 'light',
      memoryBudgetMB: 3072,
      backend: 'auto',
    });
    await studio.dispose();
  });

  it('gives jobs that name no backend the chosen one, and conversions the budget and engine', async () => {
    const dir = path.join(library, 'styles', 'sepia', 'style');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'style.json'), JSON.stringify({ name: 'Sepia' }));
    const runs: WorkerJob[] = [];
    const studio = await open({}, runs);
    await settings(studio, { backend: 'cpu', memoryBudgetMB: 512, engine: 'tfjs' });
    const reply = await call(studio, 'convert:start', {
      styleId: 'sepia',
      input: dir,
      output: path.join(library, 'out'),
    });
    expect(reply.ok).toBe(true);
    expect(runs[0]).toMatchObject({
      type: 'convert',
      spec: { backend: 'cpu', memoryBudgetMB: 512, engine: 'tfjs' },
    });
    await studio.dispose();
  });
});
