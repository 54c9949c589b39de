// A watched folder is fed by other programs at their own pace: files land whole, in slow
// chunks, broken, while Patchwork is stopped. The promises: each good file converted exactly
// once (restarts included), each bad one reported, no half-written output ever visible, and
// Patchwork's own outputs never taken for new inputs. The translation is a fast inversion.
import { promises as fs, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedInput } from '../../../../main/engine/infer/convert-image';
import { Rng } from '../../../../main/engine/rng';
import type { ConvertEngine } from '../../../../main/jobs/convert/convert-settings';
import {
  FolderWatcher,
  PENDING_FILE,
  type WatchEvent,
  type WatchOptions,
} from '../../../../main/jobs/convert/watcher';
import {
  imageBytes,
  invert,
  listTree,
  settings,
  writeBad,
  writeImage,
  type BadKind,
} from './files';

let root: string;
let n = 0;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-watch-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, done: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Counts decodes and encodes per input file name (relative to the watched folder). */
function counting(engine: ConvertEngine, inputRoot: string) {
  const decoded = new Map<string, number>();
  const encoded = new Map<string, number>();
  const bump = (m: Map<string, number>, f: string) => {
    const k = path.relative(inputRoot, f);
    m.set(k, (m.get(k) ?? 0) + 1);
  };
  const counted: ConvertEngine = {
    decode: (input) => {
      bump(decoded, input);
      return engine.decode(input);
    },
    translate: (d) => engine.translate(d),
    encode: async (t, output, input) => {
      const r = await engine.encode(t, output, input);
      bump(encoded, input);
      return r;
    },
  };
  return { engine: counted, decoded, encoded };
}

function options(
  dirs: { input: string; output: string },
  engine: ConvertEngine,
  events: WatchEvent[],
  extra: Partial<WatchOptions> = {},
): WatchOptions {
  return {
    ...dirs,
    recursive: true,
    format: 'png',
    engine,
    styleId: 'style-1',
    settings,
    // Far above the writers' pauses, so a busy machine's hiccups do not look like "done".
    stableMs: 500,
    pollMs: 40,
    onEvent: (e) => events.push(e),
    ...extra,
  };
}

function failedInputs(events: WatchEvent[], inputRoot: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.type === 'file' && e.file.status === 'failed') {
      out.set(path.relative(inputRoot, e.file.input), e.file.failure?.reason ?? '?');
    }
  }
  return out;
}

/** Writes `bytes` in `chunks` pieces with pauses, as a slow copy or a camera upload would. */
async function writeSlowly(file: string, bytes: Buffer, chunks: number, pauseMs: number) {
  const handle = await fs.open(file, 'w');
  try {
    const size = Math.ceil(bytes.length / chunks);
    for (let i = 0; i < bytes.length; i += size) {
      await handle.write(bytes.subarray(i, i + size));
      if (i + size < bytes.length) await sleep(pauseMs);
    }
  } finally {
    await handle.close();
  }
}

describe('FolderWatcher', () => {
  it('soak: 50 files at random moments, slow and broken ones, a restart midway', async () => {
    const input = path.join(root, 'soak', 'in');
    // Inside the watched folder on purpose: outputs must not come back as inputs.
    const output = path.join(input, 'converted');
    await fs.mkdir(path.join(input, 'sub'), { recursive: true });
    const rng = new Rng(2024);
    const badKinds: BadKind[] = ['corrupt', 'truncated', 'empty', 'not-an-image', 'bomb'];
    const extensions = ['.png', '.jpg', '.webp'];
    const plan = Array.from({ length: 50 }, (_, i) => {
      const bad = i % 4 === 3 ? badKinds[(i >> 2) % badKinds.length] : null;
      const dir = rng.next() < 0.3 ? 'sub/' : '';
      const ext = extensions[rng.int(extensions.length)];
      return {
        name: `${dir}f${String(i).padStart(2, '0')}${ext}`,
        bad,
        at: rng.next() * 3000,
        slow: !bad && rng.next() < 0.3,
      };
    });
    const good = plan.filter((p) => !p.bad).map((p) => p.name);
    // The seed gives what the test is about: files written while stopped, slow writes
    // across the restart.
    expect(plan.filter((p) => p.at > 1500 && p.at < 2000).length).toBeGreaterThan(3);
    expect(plan.some((p) => p.slow && p.at > 1800 && p.at < 2000)).toBe(true);
    const expectedFailure = new Map<string, string>();

    const events: WatchEvent[] = [];
    const { engine, decoded, encoded } = counting(invert, input);
    const dirs = { input, output };
    let watcher = await FolderWatcher.start(options(dirs, engine, events));
    await watcher.ready;

    const writers = plan.map(async (p) => {
      await sleep(p.at);
      const file = path.join(input, p.name);
      if (p.bad) expectedFailure.set(p.name, await writeBad(file, p.bad, p.at | 0));
      else if (p.slow) await writeSlowly(file, await imageBytes(file, p.at | 0, 40, 30), 4, 50);
      else await writeImage(file, p.at | 0);
    });
    // Stopped at 1.5 s and started again at 2 s, while files keep arriving.
    await sleep(1500);
    await watcher.stop();
    await sleep(500);
    watcher = await FolderWatcher.start(options(dirs, engine, events));
    await Promise.all(writers);

    await waitFor('every file to be handled', () => {
      const failed = failedInputs(events, input);
      return (
        good.every((g) => encoded.has(g)) && [...expectedFailure.keys()].every((b) => failed.has(b))
      );
    });
    await sleep(700); // long enough for a duplicate conversion to show up, were there one
    await watcher.stop();

    for (const g of good) expect([g, encoded.get(g)]).toEqual([g, 1]);
    const failed = failedInputs(events, input);
    // Never read while still being written (that would show as a "corrupt" good file).
    expect(good.filter((g) => failed.has(g))).toEqual([]);
    for (const [b, reason] of expectedFailure) {
      expect([b, failed.get(b)]).toEqual([b, reason]);
      expect(encoded.has(b)).toBe(false);
    }
    for (const k of decoded.keys()) expect(k.startsWith('converted')).toBe(false);

    const tree = await listTree(output);
    expect(tree.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const outputs = tree.filter((f) => !path.basename(f).startsWith('.'));
    expect(outputs.sort()).toEqual(good.map((g) => g.replace(/\.\w+$/, '.png')).sort());
    for (const o of outputs) {
      const { info } = await sharp(path.join(output, o))
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect(info.width).toBeGreaterThan(0);
    }
    const pending = JSON.parse(await fs.readFile(path.join(output, PENDING_FILE), 'utf8'));
    expect(pending.pending).toEqual([]);
  }, 40_000);

  it('saves its queue across a restart; deleted, renamed and changed inputs behave as documented', async () => {
    const input = path.join(root, `case-${++n}`, 'in');
    const output = path.join(path.dirname(input), 'out');
    for (const name of ['a.png', 'b.png', 'c.png'])
      await writeImage(path.join(input, name), name.charCodeAt(0));
    const dirs = { input, output };

    // First run: the first file to arrive is held in the engine while the watcher is stopped.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const held: ConvertEngine = {
      ...invert,
      translate: async (d: DecodedInput) => {
        await gate;
        return invert.translate(d);
      },
    };
    const events: WatchEvent[] = [];
    const first = counting(held, input);
    const w1 = await FolderWatcher.start(
      options(dirs, first.engine, events, { parallelFiles: 1, stableMs: 100 }),
    );
    await waitFor('a file to reach the engine', () =>
      events.some((e) => e.type === 'file' && e.file.stage === 'translating'),
    );
    await waitFor('the other two to be queued', () => w1.queue.pendingInputs().length === 3);
    const stopping = w1.stop();
    release();
    await stopping;
    expect([...first.encoded.keys()]).toHaveLength(1);
    const done = [...first.encoded.keys()][0];
    const waiting = ['a.png', 'b.png', 'c.png'].filter((f) => f !== done);
    const saved = JSON.parse(await fs.readFile(path.join(output, PENDING_FILE), 'utf8'));
    expect(saved.pending.map((p: string) => path.basename(p)).sort()).toEqual(waiting);

    // While stopped: one waiting file deleted, the other renamed.
    await fs.rm(path.join(input, waiting[0]));
    await fs.rename(path.join(input, waiting[1]), path.join(input, 'renamed.png'));

    const events2: WatchEvent[] = [];
    const second = counting(invert, input);
    const w2 = await FolderWatcher.start(options(dirs, second.engine, events2, { stableMs: 100 }));
    await waitFor('the renamed file', () => second.encoded.has('renamed.png'));
    await waitFor(
      'the missing ones reported',
      () => events2.filter((e) => e.type === 'removed').length === 2,
    );
    expect(second.encoded.has(done)).toBe(false);

    // A change converts again, in place; a deletion keeps the output.
    const before = await fs.readFile(path.join(output, done));
    await writeImage(path.join(input, done), 77, 24, 16);
    await waitFor('the changed file', () => second.encoded.get(done) === 1);
    expect((await fs.readFile(path.join(output, done))).equals(before)).toBe(false);
    await fs.rm(path.join(input, done));
    await sleep(400);
    await w2.stop();
    expect((await listTree(output)).filter((f) => !f.startsWith('.')).sort()).toEqual(
      [done, 'renamed.png'].sort(),
    );
  }, 30_000);

  it('stops, saying why, when its output folder is removed', async () => {
    const input = path.join(root, `case-${++n}`, 'in');
    const output = path.join(path.dirname(input), 'out');
    await writeImage(path.join(input, 'a.png'), 1);
    const events: WatchEvent[] = [];
    const counted = counting(invert, input);
    const w = await FolderWatcher.start(
      options({ input, output }, counted.engine, events, { stableMs: 100 }),
    );
    // Done means its manifest record is on disk too: nothing is writing into the folder.
    await waitFor('a.png', () =>
      w.queue.files().some((f) => f.input.endsWith('a.png') && f.status === 'done'),
    );
    await fs.rm(output, { recursive: true });
    await writeImage(path.join(input, 'b.png'), 2);
    await waitFor('the watcher to stop', () => events.some((e) => e.type === 'stopped'));
    await w.stop();
    const stopped = events.find((e) => e.type === 'stopped');
    expect(stopped).toEqual({ type: 'stopped', reason: expect.stringContaining(output) });
    const b = w.queue.files().find((f) => f.input.endsWith('b.png'));
    expect(b?.failure?.reason).toBe('output-missing');
    await expect(fs.stat(output)).rejects.toThrow();
  });

  // The studio passes its allowed folders: chokidar follows links, so each file is checked.
  it('leaves out files that link outside the allowed folders, with a warning each', async () => {
    const allowed = path.join(root, `case-${++n}`);
    const outside = path.join(root, `case-${++n}`);
    const input = path.join(allowed, 'in');
    const output = path.join(allowed, 'out');
    await writeImage(path.join(input, 'a.png'), 1);
    await writeImage(path.join(allowed, 'other', 'inner.png'), 2);
    await writeImage(path.join(outside, 'secret.png'), 3);
    await writeImage(path.join(outside, 'dir', 'deep.png'), 4);
    await fs.symlink(path.join(outside, 'secret.png'), path.join(input, 'out.png'));
    await fs.symlink(path.join(outside, 'dir'), path.join(input, 'sub'));
    const events: WatchEvent[] = [];
    const counted = counting(invert, input);
    const w = await FolderWatcher.start(
      options({ input, output }, counted.engine, events, {
        stableMs: 100,
        allowedRoots: [allowed],
      }),
    );
    await w.ready;
    // One arriving while watching: a link that stays inside is converted.
    await fs.symlink(path.join(allowed, 'other', 'inner.png'), path.join(input, 'inside.png'));
    await waitFor('a.png and inside.png', () =>
      ['a.png', 'inside.png'].every((f) => counted.encoded.has(f)),
    );
    await waitFor('the warnings', () => events.filter((e) => e.type === 'warning').length === 2);
    await w.stop();
    expect([...counted.decoded.keys()].sort()).toEqual(['a.png', 'inside.png']);
    const warnings = events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    expect(warnings.sort()).toEqual([
      expect.stringMatching(/^\S+\/in\/out\.png is left out \(outside-allowed-folders\)/),
      expect.stringMatching(/^\S+\/in\/sub\/deep\.png is left out \(outside-allowed-folders\)/),
    ]);
  });

  it('converts a file that arrives while the folder is being re-read and the process is busy', async () => {
    // chokidar re-reads a folder when something in it changes, at most once a second; a file
    // that appears after such a read has listed the folder, while the process is too busy (a
    // translation holds the thread) for the read to end within that second, is never reported
    // unless something else changes in the folder later. Many other files make the read long
    // enough to be caught in the middle; they are not images, so nothing converts them.
    const input = path.join(root, `case-${++n}`);
    const output = path.join(root, `case-${++n}`);
    await fs.mkdir(input);
    await Promise.all(
      Array.from({ length: 3000 }, (_, i) => fs.writeFile(path.join(input, `note-${i}.txt`), '')),
    );
    const events: WatchEvent[] = [];
    const counted = counting(invert, input);
    const w = await FolderWatcher.start(
      options({ input, output }, counted.engine, events, { recursive: false, stableMs: 200 }),
    );
    await w.ready;
    const a = await imageBytes('a.png', 1);
    writeFileSync(path.join(input, 'a.png'), a); // starts a re-read of the folder
    await sleep(20);
    writeFileSync(path.join(input, 'b.png'), a); // arrives while that read is under way
    await sleep(5);
    const busyUntil = Date.now() + 1200; // the thread held past the read's one second
    while (Date.now() < busyUntil);
    await waitFor('a.png and b.png', () => ['a.png', 'b.png'].every((f) => counted.encoded.has(f)));
    await w.stop();
    expect(Object.fromEntries(counted.encoded)).toEqual({ 'a.png': 1, 'b.png': 1 });
    expect(failedInputs(events, input)).toEqual(new Map());
  });
});
