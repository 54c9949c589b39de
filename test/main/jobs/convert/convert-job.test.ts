// The studio's conversion job (runJob, as the engine process runs it) converts with a
// SinCUT style as `patchwork convert` does: the same opener (openStyleConversion), so the
// same pixels; each file's state and the progress are streamed; the watch job opens its
// style through the same openConversion. Both jobs start by removing the temporaries that a
// run killed mid-write left in the output folder, and nothing else: at once when no other job
// is writing there (the kill -9 soak restarts a killed job within a second), and only past
// the grace period while another one is.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConvertJobSpec, WorkerJobEvent } from '../../../../shared/ipc-worker';
import { initBackend } from '../../../../main/engine/backend';
import { convertFile, createImageConverter } from '../../../../main/engine/infer/convert-image';
import { openStyleConversion } from '../../../../main/engine/style/open-conversion';
import {
  openConversion,
  runConvertJob,
  type ConvertJobEvent,
} from '../../../../main/jobs/convert/convert-job';
import { runWatchJob, type WatchJobEvent } from '../../../../main/jobs/convert/watch-job';
import { runJob } from '../../../../main/worker/run-job';
import { writeImage } from './files';
import { useTempDir } from '../../../support/temp-dir';
import { saveTinyCutStyle } from '../../../support/tiny-cut-style';
import { saveTinySinCutStyle } from '../../../support/tiny-sincut-style';

const tmp = useTempDir('patchwork-worker-convert-');
let style: string;

beforeAll(async () => {
  await initBackend('wasm');
  style = tmp.path('sincut');
  await saveTinySinCutStyle(style);
});

const pixels = async (file: string) => sharp(file).raw().toBuffer({ resolveWithObject: true });

describe('runConversion with a SinCUT style', () => {
  it('converts a folder, streams each file and the progress, and matches the shared opener', async () => {
    const input = tmp.path('in');
    const output = tmp.path('out');
    await writeImage(path.join(input, 'a.png'), 1, 40, 30);
    await writeImage(path.join(input, 'b.png'), 2, 23, 17);
    const events: WorkerJobEvent[] = [];
    const before = tf.memory().numTensors;
    const result = await runJob(
      {
        type: 'convert',
        jobId: 'c1',
        spec: {
          styleDir: style,
          input,
          output,
          recursive: false,
          format: 'png',
          backend: 'wasm',
          memoryBudgetMB: 64,
        },
      },
      new AbortController().signal,
      (e) => events.push(e),
    );
    expect(result).toEqual({ status: 'completed', failed: 0 });
    expect(tf.memory().numTensors).toBe(before);
    const done = events.flatMap((e) =>
      e.kind === 'convert-file' && e.file.status === 'done' ? [e.file.relative] : [],
    );
    expect(done.sort()).toEqual(['a.png', 'b.png']);
    const last = events.filter((e) => e.kind === 'convert-progress').at(-1);
    expect(last).toMatchObject({ progress: { total: 2, done: 2, failed: 0 } });

    // The same pixels as the opener the CLI uses, with small explicit tiles.
    const conv = await openStyleConversion(style);
    try {
      for (const name of ['a.png', 'b.png']) {
        const ref = tmp.path(`ref-${name}`);
        await convertFile(path.join(input, name), ref, {
          translate: conv.translate,
          translateOptions: { tile: 8 },
        });
        const [got, want, src] = await Promise.all([
          pixels(path.join(output, name)),
          pixels(ref),
          pixels(path.join(input, name)),
        ]);
        expect([got.info.width, got.info.height]).toEqual([src.info.width, src.info.height]);
        expect(got.data.equals(want.data)).toBe(true);
        expect(got.data.equals(src.data)).toBe(false); // translated, not copied
      }
    } finally {
      conv.dispose();
    }
  });

  it('honours the encoding options the CLI has: 16 bits, ICC profile, metadata', async () => {
    // The studio's conversion once hard-coded 8 bits, sRGB and stripped metadata; the spec's
    // options now reach the encoder exactly as `patchwork convert --bit-depth …` does.
    const input = tmp.path('enc-in');
    await fs.mkdir(input, { recursive: true });
    const ramp = Buffer.from(Array.from({ length: 32 * 24 * 3 }, (_, i) => (i * 7) % 256));
    const image = sharp(ramp, { raw: { width: 32, height: 24, channels: 3 } });
    await image.clone().withIccProfile('p3').png().toFile(path.join(input, 'p3.png'));
    await image
      .clone()
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(path.join(input, 'shot.jpg'));
    const convert = async (name: string, over: Partial<ConvertJobSpec>) => {
      const output = tmp.path(name);
      const spec: ConvertJobSpec = {
        styleDir: style,
        input,
        output,
        recursive: false,
        format: 'same',
        backend: 'wasm',
        memoryBudgetMB: 64,
        ...over,
      };
      const result = await runJob(
        { type: 'convert', jobId: name, spec },
        new AbortController().signal,
        () => undefined,
      );
      expect(result).toEqual({ status: 'completed', failed: 0 });
      return output;
    };
    const meta = (file: string) => sharp(file).metadata();

    const plain = await convert('enc-default', {});
    const asToday = await meta(path.join(plain, 'p3.png'));
    expect([asToday.depth, asToday.hasProfile]).toEqual(['uchar', true]);
    expect((await meta(path.join(plain, 'shot.jpg'))).exif).toBeUndefined();

    const deep = await convert('enc-16', { format: 'tiff', bitDepth: 16, icc: 'none' });
    const tiff = await meta(path.join(deep, 'p3.tif'));
    expect([tiff.format, tiff.depth, tiff.hasProfile]).toEqual(['tiff', 'ushort', false]);

    const kept = await convert('enc-meta', { metadata: 'copy', icc: 'source' });
    const shot = await meta(path.join(kept, 'shot.jpg'));
    expect(shot.exif).toBeDefined();
    expect(shot.orientation ?? 1).toBe(1);
  });

  it('openConversion (the watch job’s too) refuses a damaged SinCUT style with its reason', async () => {
    const broken = tmp.path('broken');
    await fs.cp(style, broken, { recursive: true });
    await fs.rm(path.join(broken, 'head.bin'));
    const spec = {
      styleDir: broken,
      input: tmp.dir,
      output: tmp.path('never'),
      recursive: false,
      format: 'png' as const,
      backend: 'wasm' as const,
    };
    await expect(openConversion(spec)).rejects.toMatchObject({
      name: 'StyleError',
      message: expect.stringMatching(/projection head weights are unusable/),
    });
  });
});

describe('temporaries left by a killed run', () => {
  const UUID = '0b7e3c1a-5d2f-4e8a-9c4b-1f2e3d4c5b6a';
  const hourAgo = () => (Date.now() - 3600_000) / 1000;

  /** Stale and fresh temporaries and look-alikes in `output`; returns [stale, kept]. */
  async function plant(output: string): Promise<[string[], string[]]> {
    const at = (...p: string[]) => path.join(output, ...p);
    const stale = [at(`.a.png.${UUID}.tmp`), at('sub', `.b.png.${UUID}.tmp`)];
    const fresh = at(`.a.png.${UUID.replace('0b', '1b')}.tmp`);
    const lookAlikes = [
      at(`a.png.${UUID}.tmp`),
      at(`.a.png.${UUID}.tmp.keep`),
      at('.a.png.not-a-uuid.tmp'),
      at('notes.tmp'),
      at('.hidden', `.c.png.${UUID}.tmp`),
    ];
    for (const f of [...stale, fresh, ...lookAlikes]) {
      await fs.mkdir(path.dirname(f), { recursive: true });
      await fs.writeFile(f, 'half an image');
    }
    for (const f of [...stale, ...lookAlikes]) await fs.utimes(f, hourAgo(), hourAgo());
    return [stale, [fresh, ...lookAlikes]];
  }

  const exists = (f: string) =>
    fs.lstat(f).then(
      () => true,
      () => false,
    );

  /** A lock as a job leaves it in its output folder: of a running job, or of a killed one. */
  async function plantLock(output: string, pid: number): Promise<string> {
    const file = path.join(output, `.patchwork-job-${UUID}.lock`);
    await fs.mkdir(output, { recursive: true });
    await fs.writeFile(file, JSON.stringify({ host: os.hostname(), pid }));
    return file;
  }

  /** The id of a process that has ended. */
  const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid;

  const locks = async (output: string) =>
    (await fs.readdir(output)).filter((n) => n.startsWith('.patchwork-job-'));

  const convertSpec = (input: string, output: string): ConvertJobSpec => ({
    styleDir: style,
    input,
    output,
    recursive: true,
    format: 'png',
    backend: 'wasm',
    memoryBudgetMB: 64,
  });

  it('a conversion started right after one was killed removes all it left, however young', async () => {
    const input = tmp.path('killed-in');
    const output = tmp.path('killed-out');
    await writeImage(path.join(input, 'a.png'), 1);
    const [stale, kept] = await plant(output);
    const fresh = kept[0];
    const killed = await plantLock(output, deadPid());
    const events: ConvertJobEvent[] = [];
    await runConvertJob(convertSpec(input, output), {
      signal: new AbortController().signal,
      onEvent: (e) => events.push(e),
    });
    for (const f of [...stale, fresh]) expect(await exists(f), f).toBe(false);
    for (const f of kept.slice(1)) expect(await exists(f), f).toBe(true);
    expect(events.filter((e) => e.type === 'cleaned')).toEqual([
      { type: 'cleaned', outputRoot: output, removed: [...stale, fresh].sort() },
    ]);
    // The killed job's lock is cleared, and this job's own is gone once it ended.
    expect(await exists(killed)).toBe(false);
    expect(await locks(output)).toEqual([]);
  });

  it('a watch job started right after one was killed does the same', async () => {
    const input = tmp.path('killed-watch-in');
    const output = tmp.path('killed-watch-out');
    await fs.mkdir(input, { recursive: true });
    const [stale, kept] = await plant(output);
    await plantLock(output, deadPid());
    const controller = new AbortController();
    await runWatchJob(
      { ...convertSpec(input, output), recursive: false },
      {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'watching') controller.abort();
        },
      },
    );
    for (const f of [stale[0], kept[0]]) expect(await exists(f), f).toBe(false);
    expect(await exists(stale[1])).toBe(true);
    expect(await locks(output)).toEqual([]);
  });

  it('while another job writes there, a conversion removes only the stale ones, and says so', async () => {
    const input = tmp.path('tmp-in');
    const output = tmp.path('tmp-out');
    await writeImage(path.join(input, 'a.png'), 1);
    await writeImage(path.join(input, 'sub', 'b.png'), 2);
    const [stale, kept] = await plant(output);
    // Another job (this process) is writing into the folder: its young temporary stays.
    const other = await plantLock(output, process.pid);
    const events: ConvertJobEvent[] = [];
    const outcome = await runConvertJob(
      {
        styleDir: style,
        input,
        output,
        recursive: true,
        format: 'png',
        backend: 'wasm',
        memoryBudgetMB: 64,
      },
      { signal: new AbortController().signal, onEvent: (e) => events.push(e) },
    );
    expect(outcome.files.map((f) => f.status)).toEqual(['done', 'done']);
    for (const f of stale) expect(await exists(f), f).toBe(false);
    for (const f of kept) expect(await exists(f), f).toBe(true);
    expect(events.filter((e) => e.type === 'cleaned')).toEqual([
      { type: 'cleaned', outputRoot: output, removed: stale.sort() },
    ]);
    expect(await exists(path.join(output, 'sub', 'b.png'))).toBe(true);
    expect(await exists(other)).toBe(true);
  });

  it('a watch job does the same when it starts', async () => {
    const input = tmp.path('watch-in');
    const output = tmp.path('watch-out');
    await fs.mkdir(input, { recursive: true });
    const [stale, kept] = await plant(output);
    await plantLock(output, process.pid);
    const events: WatchJobEvent[] = [];
    const controller = new AbortController();
    await runWatchJob(
      {
        styleDir: style,
        input,
        output,
        recursive: false,
        format: 'png',
        backend: 'wasm',
        memoryBudgetMB: 64,
      },
      {
        signal: controller.signal,
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'watching') controller.abort();
        },
      },
    );
    // Not recursive: only the output folder itself.
    expect(await exists(stale[0])).toBe(false);
    for (const f of [stale[1], ...kept]) expect(await exists(f), f).toBe(true);
    expect(events.filter((e) => e.type === 'cleaned')).toEqual([
      { type: 'cleaned', outputRoot: output, removed: [stale[0]] },
    ]);
  });
});

describe('tile progress', () => {
  // The queue tells the studio a file's fraction of tiles done (convert-queue.ts): every kind
  // of style, on either engine, must report its tiles through the converter's translate.
  it('every style kind and engine tells the tiles done as it translates', async () => {
    const cut = tmp.path('cut-style');
    await saveTinyCutStyle(cut);
    const input = tmp.path('tiles.png');
    await writeImage(input, 3, 40, 32);
    const cases = [
      [style, 'tfjs'],
      [cut, 'tfjs'],
      [cut, 'onnx'],
    ] as const;
    for (const [dir, engine] of cases) {
      const conv = await openStyleConversion(dir, { alwaysTiled: true, engine });
      try {
        const c = createImageConverter({
          translate: conv.translate,
          translateOptions: { tile: 16 },
        });
        const told: [number, number][] = [];
        await c.translate(await c.decode(input), (done, total) => told.push([done, total]));
        expect(told.length, `${dir} on ${engine}`).toBeGreaterThan(1);
        const [done, total] = told.at(-1)!;
        expect(done).toBe(total);
        expect(told.map(([d]) => d)).toEqual(told.map((_, i) => i + 1));
      } finally {
        conv.dispose();
      }
    }
  });
});

describe('a tile plan over the memory budget', () => {
  // The smallest tile worth running may need more than a small budget leaves: the conversion
  // goes on with it, and the file it concerns says so (the CLI prints a done file's notes, the
  // studio's file list shows them), rather than only a log line nobody sees.
  it('reaches the done file as a note, on either engine', async () => {
    // Wide enough that the smallest tile (8-px core, 8-px halo) needs more than the 0.5 MiB
    // a 1-MiB budget leaves for tiles, on either engine's memory model.
    const cut = tmp.path('cut-style');
    await saveTinyCutStyle(cut, { ngf: 128, nBlocks: 1, seed: 5 });
    const input = tmp.path('budget-in');
    await writeImage(path.join(input, 'wide.png'), 3, 64, 48);
    for (const engine of ['onnx', 'tfjs'] as const) {
      const events: WorkerJobEvent[] = [];
      const spec: ConvertJobSpec = {
        styleDir: cut,
        input,
        output: tmp.path(`budget-out-${engine}`),
        recursive: false,
        format: 'png',
        backend: 'wasm',
        engine,
        memoryBudgetMB: 1,
        alwaysTiled: true, // as the CLI asks when given a budget
      };
      const result = await runJob(
        { type: 'convert', jobId: `budget-${engine}`, spec },
        new AbortController().signal,
        (e) => events.push(e),
      );
      expect(result).toEqual({ status: 'completed', failed: 0 });
      const done = events.flatMap((e) =>
        e.kind === 'convert-file' && e.file.status === 'done' ? [e.file] : [],
      );
      expect(done).toHaveLength(1);
      expect(done[0].notes, engine).toEqual([
        expect.stringMatching(
          /^the memory budget leaves 1 MiB for tiles, less than the \d+ MiB of the smallest tile worth running \(\d+ px, its halo \d+ px\): using it, over the budget/,
        ),
      ]);
    }
  });

  it('says nothing when the budget is enough', async () => {
    const input = tmp.path('budget-ok-in');
    await writeImage(path.join(input, 'small.png'), 4, 40, 30);
    const events: ConvertJobEvent[] = [];
    await runConvertJob(
      {
        styleDir: style,
        input,
        output: tmp.path('budget-ok-out'),
        recursive: false,
        format: 'png',
        backend: 'wasm',
        memoryBudgetMB: 256,
      },
      { signal: new AbortController().signal, onEvent: (e) => events.push(e) },
    );
    const done = events.flatMap((e) =>
      e.type === 'file' && e.file.status === 'done' ? [e.file] : [],
    );
    expect(done).toHaveLength(1);
    expect(done[0].notes ?? []).toEqual([]);
  });
});
