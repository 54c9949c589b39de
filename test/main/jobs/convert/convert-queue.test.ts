// The queue's promises to a user with a folder of mixed files: every bad file is reported
// with a reason and the rest still converts; a vanished output folder ends the batch
// cleanly; a re-run does only what changed; the engine sees one file at a time while decoding
// and encoding overlap it. The translation is an inversion: only the plumbing is under test.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConvertQueue,
  type ConvertQueueOptions,
  type QueueEvent,
} from '../../../../main/jobs/convert/convert-queue';
import type { DecodedInput } from '../../../../main/engine/infer/convert-image';
import type { ConvertEngine } from '../../../../main/jobs/convert/convert-settings';
import { ConvertManifest, MANIFEST_FILE } from '../../../../main/jobs/convert/manifest';
import { planConversion, type PlannedFile } from '../../../../main/jobs/convert/plan';
import { invert, listTree, settings, writeBad, writeImage, type BadKind } from './files';

let root: string;
let n = 0;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-queue-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function folder(): Promise<{ input: string; output: string }> {
  const dir = path.join(root, `case-${++n}`);
  await fs.mkdir(path.join(dir, 'in'), { recursive: true });
  return { input: path.join(dir, 'in'), output: path.join(dir, 'out') };
}

interface Run {
  queue: ConvertQueue;
  events: QueueEvent[];
  files: PlannedFile[];
}

/** Plans the folder, runs one queue over it to the end, as the CLI does. */
async function run(
  dirs: { input: string; output: string },
  engine: ConvertEngine = invert,
  opts: Partial<ConvertQueueOptions> = {},
): Promise<Run> {
  const manifest = await ConvertManifest.open(dirs.output);
  const plan = await planConversion({ ...dirs, format: 'png' }, manifest.claims());
  await fs.mkdir(dirs.output, { recursive: true });
  const events: QueueEvent[] = [];
  const queue = new ConvertQueue(engine, {
    outputRoot: plan.outputRoot,
    manifest,
    styleId: 'style-1',
    settings,
    onEvent: (e) => events.push(e),
    ...opts,
  });
  queue.add(plan.files);
  await queue.whenIdle();
  await queue.stop();
  return { queue, events, files: plan.files };
}

function outcomes(r: Run): Record<string, string> {
  return Object.fromEntries(
    r.queue
      .files()
      .map((f) => [
        path.basename(f.input),
        f.status === 'failed'
          ? `failed:${f.failure?.reason}`
          : f.status === 'skipped'
            ? `skipped:${f.skip}`
            : f.status,
      ]),
  );
}

/** Counts the engine's calls per input, around a real engine. */
function counting(engine: ConvertEngine) {
  const encoded: string[] = [];
  const counted: ConvertEngine = {
    decode: (input) => engine.decode(input),
    translate: (d) => engine.translate(d),
    encode: async (t, output, input) => {
      const r = await engine.encode(t, output, input);
      encoded.push(path.basename(input));
      return r;
    },
  };
  return { engine: counted, encoded };
}

describe('ConvertQueue', () => {
  it('reports every kind of bad file with its reason and converts the rest', async () => {
    const dirs = await folder();
    const expected: Record<string, string> = {};
    await writeImage(path.join(dirs.input, 'a-good.png'), 1);
    const bad: [string, BadKind][] = [
      ['b-corrupt.png', 'corrupt'],
      ['c-truncated.jpg', 'truncated'],
      ['d-empty.jpg', 'empty'],
      ['e-text.webp', 'not-an-image'],
      ['f-bomb.png', 'bomb'],
    ];
    for (const [name, kind] of bad) {
      expected[name] = `failed:${await writeBad(path.join(dirs.input, name), kind)}`;
    }
    await writeImage(path.join(dirs.input, 'g-good.jpg'), 2);
    await writeImage(path.join(dirs.input, 'h-vanishes.png'), 3);
    // Gone between planning and converting.
    const vanishing: ConvertEngine = {
      ...invert,
      decode: async (input) => {
        if (input.endsWith('a-good.png')) await fs.rm(path.join(dirs.input, 'h-vanishes.png'));
        return invert.decode(input);
      },
    };
    const r = await run(dirs, vanishing);
    expect(outcomes(r)).toEqual({
      'a-good.png': 'done',
      ...expected,
      'g-good.jpg': 'done',
      'h-vanishes.png': 'failed:not-found',
    });
    for (const f of r.queue.files().filter((x) => x.status === 'failed')) {
      expect(f.failure?.message).toBeTruthy();
    }
    // Only whole outputs and the manifest; no temporaries.
    expect(await listTree(dirs.output)).toEqual([
      '.patchwork-convert.json',
      'a-good.png',
      'g-good.png',
    ]);
    const out = await sharp(path.join(dirs.output, 'g-good.png')).metadata();
    expect([out.width, out.height, out.format]).toEqual([16, 12, 'png']);
  });

  it.skipIf(process.getuid?.() === 0)(
    'reports an unreadable file as permission denied (skipped as root, who reads anything)',
    async () => {
      const dirs = await folder();
      await writeImage(path.join(dirs.input, 'locked.png'), 1);
      await fs.chmod(path.join(dirs.input, 'locked.png'), 0o000);
      expect(outcomes(await run(dirs))).toEqual({ 'locked.png': 'failed:permission-denied' });
    },
  );

  it('reads permission errors from any stage (root cannot be locked out, so an engine says it)', async () => {
    const dirs = await folder();
    await writeImage(path.join(dirs.input, 'a.png'), 1);
    await writeImage(path.join(dirs.input, 'b.png'), 2);
    const denied: ConvertEngine = {
      ...invert,
      decode: async (input) => {
        if (input.endsWith('a.png')) {
          throw Object.assign(new Error(`EACCES: permission denied, open '${input}'`), {
            code: 'EACCES',
          });
        }
        return invert.decode(input);
      },
    };
    expect(outcomes(await run(dirs, denied))).toEqual({
      'a.png': 'failed:permission-denied',
      'b.png': 'done',
    });
  });

  it('ends the batch cleanly when the output folder is removed midway', async () => {
    const dirs = await folder();
    for (let i = 0; i < 6; i++) await writeImage(path.join(dirs.input, `${i}.png`), i);
    const { engine, encoded } = counting(invert);
    const removing: ConvertEngine = {
      ...engine,
      encode: async (t, output, input) => {
        const r = await engine.encode(t, output, input);
        if (encoded.length === 2) await fs.rm(dirs.output, { recursive: true });
        return r;
      },
    };
    const r = await run(dirs, removing, { parallelFiles: 1 });
    const states = r.queue.files();
    expect(states.slice(0, 2).map((f) => f.status)).toEqual(['done', 'done']);
    for (const f of states.slice(2)) expect(f.failure?.reason).toBe('output-missing');
    expect(r.events.filter((e) => e.type === 'aborted')).toHaveLength(1);
    expect(r.queue.abortReason).toContain(dirs.output);
    // Not recreated: the user removed it.
    await expect(fs.stat(dirs.output)).rejects.toThrow();
  });

  it('skips what is up to date and converts again what changed (input, output, settings, style)', async () => {
    const dirs = await folder();
    for (const name of ['a.png', 'b.jpg', 'c.webp', 'd.png']) {
      await writeImage(path.join(dirs.input, name), name.charCodeAt(0));
    }
    const first = counting(invert);
    expect(Object.values(outcomes(await run(dirs, first.engine)))).toEqual(Array(4).fill('done'));

    const again = counting(invert);
    const second = await run(dirs, again.engine);
    expect(Object.values(outcomes(second))).toEqual(Array(4).fill('skipped:up-to-date'));
    expect(again.encoded).toEqual([]);

    // A changed input, a deleted output: those two only.
    await writeImage(path.join(dirs.input, 'b.jpg'), 99, 20, 12);
    await fs.rm(path.join(dirs.output, 'c.png'));
    const third = counting(invert);
    await run(dirs, third.engine);
    expect(third.encoded.sort()).toEqual(['b.jpg', 'c.webp']);

    const otherStyle = counting(invert);
    await run(dirs, otherStyle.engine, { styleId: 'style-2' });
    expect(otherStyle.encoded).toHaveLength(4);
    const otherSettings = counting(invert);
    await run(dirs, otherSettings.engine, {
      styleId: 'style-2',
      settings: { ...settings, icc: 'none' },
    });
    expect(otherSettings.encoded).toHaveLength(4);
  });

  it('has a file on record before it takes its name, so a kill at any moment redoes no finished file', async () => {
    const dirs = await folder();
    for (const name of ['a.png', 'b.png']) await writeImage(path.join(dirs.input, name), 3);
    // Each output is on the manifest on disk by the time it has its name.
    const onDiskAtRename: boolean[] = [];
    const watching: typeof invert = {
      ...invert,
      encode: (t, output, input, hooks) =>
        invert.encode(t, output, input, {
          beforeRename: async (temp) => {
            await hooks?.beforeRename?.(temp);
            const saved = await fs.readFile(path.join(dirs.output, MANIFEST_FILE), 'utf8');
            onDiskAtRename.push(path.basename(output) in JSON.parse(saved).outputs);
          },
        }),
    };
    expect(Object.values(outcomes(await run(dirs, watching)))).toEqual(['done', 'done']);
    expect(onDiskAtRename).toEqual([true, true]);

    // Killed after b's record and before its rename (here: the rename never comes). b's
    // older output, made with other settings, is gone rather than vouched for by the record.
    const older = path.join(dirs.output, 'b.png');
    await writeImage(older, 200);
    const killed: typeof invert = {
      ...invert,
      encode: async (t, output, input, hooks) => {
        if (path.basename(input) !== 'b.png') return invert.encode(t, output, input, hooks);
        await hooks?.beforeRename?.(`${output}.unfinished`);
        throw new Error('killed before the rename');
      },
    };
    const other = { ...settings, icc: 'none' as const };
    await run(dirs, killed, { settings: other });
    await expect(fs.stat(older)).rejects.toThrow();
    const rerun = counting(invert);
    expect(outcomes(await run(dirs, rerun.engine, { settings: other }))).toEqual({
      'a.png': 'skipped:up-to-date',
      'b.png': 'done',
    });
    expect(rerun.encoded).toEqual(['b.png']);
  });

  it('with checksums, skips a touched but unchanged input', async () => {
    const dirs = await folder();
    await writeImage(path.join(dirs.input, 'a.png'), 1);
    await run(dirs, invert, { checksum: true });
    const later = new Date(Date.now() + 60_000);
    await fs.utimes(path.join(dirs.input, 'a.png'), later, later);
    const touched = counting(invert);
    expect(outcomes(await run(dirs, touched.engine, { checksum: true }))).toEqual({
      'a.png': 'skipped:up-to-date',
    });
    const plain = counting(invert);
    await run(dirs, plain.engine);
    expect(plain.encoded).toEqual(['a.png']);
  });

  it('translates one file at a time while decoding and encoding overlap it', async () => {
    const dirs = await folder();
    for (let i = 0; i < 5; i++) await writeImage(path.join(dirs.input, `${i}.png`), i);
    const spans: { stage: string; start: number; end: number }[] = [];
    const timed =
      <A extends unknown[], R>(stage: string, ms: number, f: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        const start = performance.now();
        await new Promise((r) => setTimeout(r, ms));
        const result = await f(...a);
        spans.push({ stage, start, end: performance.now() });
        return result;
      };
    const slow: ConvertEngine = {
      decode: timed('decode', 40, invert.decode),
      translate: timed('translate', 60, invert.translate),
      encode: timed('encode', 40, invert.encode),
    };
    const r = await run(dirs, slow);
    expect(Object.values(outcomes(r))).toEqual(Array(5).fill('done'));
    const overlaps = (a: (typeof spans)[0], b: (typeof spans)[0]) =>
      a.start < b.end && b.start < a.end;
    const translations = spans.filter((s) => s.stage === 'translate');
    for (const a of translations) {
      for (const b of translations) if (a !== b) expect(overlaps(a, b)).toBe(false);
    }
    const others = spans.filter((s) => s.stage !== 'translate');
    const hidden = others.filter((o) => translations.some((t) => overlaps(o, t)));
    expect(hidden.length).toBeGreaterThanOrEqual(4);
    // Progress carries an ETA once a file has been converted.
    const progress = r.events.flatMap((e) => (e.type === 'progress' ? [e.progress] : []));
    expect(progress.at(-1)).toMatchObject({ total: 5, done: 5, queued: 0, etaSeconds: 0 });
    expect(progress.some((p) => p.etaSeconds !== null && p.etaSeconds > 0)).toBe(true);
  });

  it('tells a file’s fraction of tiles done while it translates, at most 4 times a second', async () => {
    const dirs = await folder();
    await writeImage(path.join(dirs.input, 'big.png'), 1, 40);
    await writeImage(path.join(dirs.input, 'small.png'), 2);
    // A clock the engine moves: each of big.png's ten tiles takes 100 ms.
    let clock = 0;
    const tiled: ConvertEngine<DecodedInput> = {
      ...invert,
      translate: async (d, onProgress) => {
        if (d.width === 40) {
          for (let tile = 1; tile <= 10; tile++) {
            clock += 100;
            onProgress?.(tile, 10);
          }
        }
        return invert.translate(d);
      },
    };
    const r = await run(dirs, tiled as ConvertEngine, { now: () => clock });
    const told = (name: string) =>
      r.events.flatMap((e) =>
        e.type === 'file' && e.file.input.endsWith(name)
          ? [{ stage: e.file.stage ?? e.file.status, fraction: e.file.fraction }]
          : [],
      );
    // 300, 600 and 900 ms into the translation: every 250 ms at most, none after the stage ends.
    expect(told('big.png').filter((t) => t.fraction !== undefined)).toEqual([
      { stage: 'translating', fraction: 0.3 },
      { stage: 'translating', fraction: 0.6 },
      { stage: 'translating', fraction: 0.9 },
    ]);
    expect(told('big.png').slice(-2)).toEqual([
      { stage: 'encoding', fraction: undefined },
      { stage: 'done', fraction: undefined },
    ]);
    // Translated in one piece: no fraction is known, none is told.
    expect(told('small.png').some((t) => t.fraction !== undefined)).toBe(false);
    expect(r.queue.files().every((f) => f.fraction === undefined)).toBe(true);
  });

  it('does not queue an input twice, and looks again at one re-added while it converts', async () => {
    const dirs = await folder();
    await writeImage(path.join(dirs.input, 'a.png'), 1);
    await writeImage(path.join(dirs.input, 'b.png'), 2);
    const manifest = await ConvertManifest.open(dirs.output);
    const plan = await planConversion({ ...dirs, format: 'png' });
    await fs.mkdir(dirs.output, { recursive: true });
    const { engine, encoded } = counting(invert);
    let queue: ConvertQueue | null = null;
    const readding: ConvertEngine = {
      ...engine,
      translate: async (d) => {
        queue?.add(plan.files[0]); // "a.png changed" while a.png is in flight
        return engine.translate(d);
      },
    };
    queue = new ConvertQueue(readding, {
      outputRoot: plan.outputRoot,
      manifest,
      styleId: 's',
      settings,
      parallelFiles: 1,
    });
    queue.add([plan.files[0], plan.files[1], plan.files[1]]);
    await queue.whenIdle();
    expect(encoded.sort()).toEqual(['a.png', 'b.png']);
    expect(queue.files().map((f) => `${path.basename(f.input)}:${f.status}`)).toEqual([
      'a.png:done',
      'b.png:done',
      'a.png:skipped',
    ]);
  });

  it('records the contents it read when the input changes as it is read, so the change converts nothing more', async () => {
    // Seen in the watch soak: a file replaced in place just as its conversion started was read
    // in its new state but recorded with the size and time of the old, so the watcher's
    // 'changed' event converted the same final contents a second time.
    const dirs = await folder();
    const file = path.join(dirs.input, 'a.png');
    await writeImage(file, 1);
    const manifest = await ConvertManifest.open(dirs.output);
    const plan = await planConversion({ ...dirs, format: 'png' });
    await fs.mkdir(dirs.output, { recursive: true });
    const { engine, encoded } = counting(invert);
    let replaced = false;
    const replacing: ConvertEngine = {
      ...engine,
      decode: async (input) => {
        if (!replaced) {
          replaced = true;
          await writeImage(input, 2, 20, 14); // the new contents land as the read begins
        }
        return engine.decode(input);
      },
    };
    const queue = new ConvertQueue(replacing, {
      outputRoot: plan.outputRoot,
      manifest,
      styleId: 's',
      settings,
    });
    queue.add(plan.files);
    await queue.whenIdle();
    queue.add(plan.files); // the watcher's 'changed' event for the replacement
    await queue.whenIdle();
    await queue.stop();
    expect(encoded).toEqual(['a.png']);
    expect(queue.files().map((f) => f.skip ?? f.status)).toEqual(['done', 'up-to-date']);
    // The output is the new contents' (20×14, where the old were 16×12).
    const out = await sharp(path.join(dirs.output, 'a.png')).metadata();
    expect([out.width, out.height]).toEqual([20, 14]);
  });

  it('when asked, does not retry a failed file that has not changed', async () => {
    const dirs = await folder();
    await writeBad(path.join(dirs.input, 'bad.png'), 'corrupt');
    await writeImage(path.join(dirs.input, 'good.png'), 1);
    await run(dirs);
    expect(outcomes(await run(dirs, invert, { retryFailed: false }))).toEqual({
      'bad.png': 'skipped:failed-before',
      'good.png': 'skipped:up-to-date',
    });
    expect(outcomes(await run(dirs))['bad.png']).toBe('failed:corrupt');
  });
});
