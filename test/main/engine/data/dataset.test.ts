// Folder datasets and the unpaired loader. The loader tests use fake sources whose loads
// finish only when the test says so: prefetch and reproducibility are checked by what was
// requested and returned, never by how long anything took.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DatasetError,
  ImageDataset,
  scanImageFolder,
  UnpairedLoader,
  type DatasetOptions,
  type LoaderState,
  type Sample,
  type SampleSource,
  type UnpairedBatch,
} from '../../../../main/engine/data/dataset';
import { Rng } from '../../../../main/engine/rng';

const PHOTOS = path.resolve('../shared/datasets/photos');
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-dataset-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A small image whose content depends on `seed`, in the format the extension names. */
async function writeImage(file: string, width: number, height: number, seed: number) {
  const rng = new Rng(seed);
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const format = path.extname(file).slice(1).toLowerCase() as keyof sharp.FormatEnum;
  await fs.writeFile(
    file,
    await sharp(data, { raw: { width, height, channels: 3 } })
      .toFormat(format)
      .toBuffer(),
  );
}

/** Bitwise equality of float arrays (vitest's deep equality is slow on 200k elements). */
function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

async function expectDatasetError(promise: Promise<unknown>, code: string, text: string) {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  expect((err as DatasetError).code).toBe(code);
  expect((err as DatasetError).message).toContain(text);
}

const crop32: DatasetOptions = { mode: 'resize_and_crop', loadSize: 40, cropSize: 32, flip: true };

describe('scanImageFolder', () => {
  it('lists images by extension, case-insensitively, in code-unit order, and says what it skipped', async () => {
    const root = path.join(dir, 'scan');
    for (const name of ['b.jpg', 'A.PNG', 'c.Tiff', 'd.webp', 'e.avif', 'sub/f.jpeg']) {
      await writeImage(path.join(root, name), 8, 8, 1);
    }
    await fs.writeFile(path.join(root, '.hidden.png'), 'x');
    await fs.writeFile(path.join(root, 'notes.txt'), 'x');
    await fs.mkdir(path.join(root, '.cache'));

    const flat = await scanImageFolder(root);
    expect(flat.files.map((f) => path.relative(root, f))).toEqual([
      'A.PNG',
      'b.jpg',
      'c.Tiff',
      'd.webp',
      'e.avif',
    ]);
    const reasons = Object.fromEntries(flat.skipped.map((s) => [path.basename(s.path), s.reason]));
    expect(reasons).toEqual({
      '.cache': 'hidden',
      '.hidden.png': 'hidden',
      'notes.txt': 'not-an-image',
      sub: 'folder',
    });
    const deep = await scanImageFolder(root, { recursive: true });
    expect(deep.files.map((f) => path.relative(root, f))).toContain(path.join('sub', 'f.jpeg'));
  });

  it('fails clearly for a missing folder, a file, and a folder without images', async () => {
    const empty = path.join(dir, 'no-images');
    await fs.mkdir(empty);
    await fs.writeFile(path.join(empty, 'readme.txt'), 'x');
    await expectDatasetError(scanImageFolder(path.join(dir, 'nope')), 'missing-folder', 'nope');
    await expectDatasetError(
      scanImageFolder(path.join(empty, 'readme.txt')),
      'not-a-folder',
      'readme.txt',
    );
    await expectDatasetError(scanImageFolder(empty), 'no-images', empty);
  });

  // The studio's scans get its allowed folders: a link in one must not read elsewhere.
  it('given allowed roots, skips links that lead out of them, keeps links inside', async () => {
    const allowed = path.join(dir, 'allowed');
    const outside = path.join(dir, 'outside');
    const root = path.join(allowed, 'in');
    await writeImage(path.join(root, 'a.png'), 8, 8, 1);
    await writeImage(path.join(allowed, 'other', 'inner.png'), 8, 8, 2);
    await writeImage(path.join(outside, 'secret.png'), 8, 8, 3);
    await writeImage(path.join(outside, 'dir', 'deep.png'), 8, 8, 4);
    await fs.symlink(path.join(allowed, 'other', 'inner.png'), path.join(root, 'inside.png'));
    await fs.symlink(path.join(outside, 'secret.png'), path.join(root, 'out.png'));
    await fs.symlink(path.join(outside, 'dir'), path.join(root, 'sub'));

    const scan = await scanImageFolder(root, { recursive: true, allowedRoots: [allowed] });
    expect(scan.files.map((f) => path.relative(root, f))).toEqual(['a.png', 'inside.png']);
    expect(scan.skipped.map((s) => [path.basename(s.path), s.reason])).toEqual([
      ['out.png', 'outside-allowed-folders'],
      ['sub', 'outside-allowed-folders'],
    ]);
    // No roots (the CLI): links are followed as before.
    const open = await scanImageFolder(root, { recursive: true });
    expect(open.files.map((f) => path.relative(root, f))).toEqual([
      'a.png',
      'inside.png',
      'out.png',
      path.join('sub', 'deep.png'),
    ]);
    // A folder named inside the roots that is itself a link out is refused whole.
    await fs.symlink(path.join(outside, 'dir'), path.join(allowed, 'linked'));
    await expectDatasetError(
      scanImageFolder(path.join(allowed, 'linked'), { allowedRoots: [allowed] }),
      'outside-allowed-folders',
      'linked',
    );
  });
});

describe('ImageDataset', () => {
  it('loads real photos as 256×256 crops, the same for the same seed', async () => {
    const files = ['storm.jpg', 'wood.jpg'].map((f) => path.join(PHOTOS, f));
    const ds = new ImageDataset(files, {
      mode: 'resize_and_crop',
      loadSize: 286,
      cropSize: 256,
      flip: true,
    });
    const a = await ds.load(0, new Rng(11));
    const again = await ds.load(0, new Rng(11));
    const other = await ds.load(0, new Rng(12));
    expect([a.width, a.height, a.data.length, a.path]).toEqual([256, 256, 256 * 256 * 3, files[0]]);
    expect(bytesOf(again.data).equals(bytesOf(a.data))).toBe(true);
    expect(bytesOf(other.data).equals(bytesOf(a.data))).toBe(false);
    expect(a.data.every((v) => v >= -1 && v <= 1)).toBe(true);
  });

  it('produces each preprocess mode’s size', async () => {
    const file = path.join(dir, 'modes', 'wide.png');
    await writeImage(file, 100, 60, 2);
    const size = async (o: Partial<DatasetOptions>) => {
      const s = await new ImageDataset([file], { ...crop32, ...o }).load(0, new Rng(1));
      return [s.width, s.height];
    };
    expect(await size({ mode: 'resize_and_crop' })).toEqual([32, 32]);
    expect(await size({ mode: 'square_resize_and_crop' })).toEqual([32, 32]);
    expect(await size({ mode: 'crop' })).toEqual([32, 32]);
    expect(await size({ mode: 'scale_width_and_crop' })).toEqual([32, 32]);
    expect(await size({ mode: 'scale_width' })).toEqual([40, 32]);
    expect(await size({ mode: 'none' })).toEqual([100, 60]);
    expect(await size({ mode: 'none', maxSize: 50 })).toEqual([48, 28]);
  });

  it('scales small images up by default and skips them, with a reason, when asked to', async () => {
    const small = path.join(dir, 'small', 'a-small.png');
    const big = path.join(dir, 'small', 'b-big.png');
    await writeImage(small, 20, 10, 3);
    await writeImage(big, 64, 64, 4);
    const opts: DatasetOptions = { ...crop32, mode: 'crop' };
    const up = await new ImageDataset([small, big], opts).load(0, new Rng(1));
    expect([up.path, up.width]).toEqual([small, 32]);
    const strict = new ImageDataset([small, big], { ...opts, smallImages: 'reject' });
    const s = await strict.load(0, new Rng(1));
    expect(s.path).toBe(big);
    expect(strict.skipped).toMatchObject([{ path: small, reason: 'too-small' }]);
    expect(strict.skipped[0].message).toMatch(/20×10 is smaller than the 32×32 crop/);
  });

  it('skips corrupt files met while loading, records them once, and draws as if they were absent', async () => {
    const good1 = path.join(dir, 'bad', 'a.png');
    const corrupt = path.join(dir, 'bad', 'b.png');
    const good2 = path.join(dir, 'bad', 'c.png');
    await writeImage(good1, 48, 48, 5);
    await writeImage(good2, 48, 48, 6);
    const bytes = await fs.readFile(good2);
    await fs.writeFile(corrupt, bytes.subarray(0, bytes.length - 40));
    const ds = new ImageDataset([good1, corrupt, good2], crop32);
    const viaBad = await ds.load(1, new Rng(9));
    const again = await ds.load(1, new Rng(9));
    const direct = await new ImageDataset([good1, corrupt, good2], crop32).load(2, new Rng(9));
    expect([viaBad.path, viaBad.index]).toEqual([good2, 2]);
    expect(again.data).toEqual(viaBad.data);
    expect(direct.data).toEqual(viaBad.data);
    expect(ds.skipped).toMatchObject([{ path: corrupt, reason: 'corrupt' }]);
    await expectDatasetError(
      new ImageDataset([corrupt], crop32).load(0, new Rng(1)),
      'no-readable-images',
      'None of the 1 images',
    );
  });

  it('opens a folder and carries the scan’s skips', async () => {
    const root = path.join(dir, 'from-folder');
    await writeImage(path.join(root, 'x.jpg'), 40, 40, 7);
    await fs.writeFile(path.join(root, 'y.txt'), 'x');
    const ds = await ImageDataset.fromFolder(root, crop32);
    expect(ds.size).toBe(1);
    expect(ds.skipped.map((s) => s.reason)).toEqual(['not-an-image']);
  });
});

// ─── loader ────────────────────────────────────────────────────────────────────────────────

/** A source whose samples encode (index, the one draw it got); loads wait for `release`. */
class FakeSource implements SampleSource {
  readonly requested: number[] = [];
  private waiting: (() => void)[] = [];

  constructor(
    readonly size: number,
    private readonly gated = false,
  ) {}

  load(index: number, rng: Rng): Promise<Sample> {
    const draw = rng.next();
    this.requested.push(index);
    const sample = {
      data: Float32Array.of(index, draw, 0),
      width: 1,
      height: 1,
      path: `${index}`,
      index,
    };
    if (!this.gated) return Promise.resolve(sample);
    return new Promise((resolve) => this.waiting.push(() => resolve(sample)));
  }

  /** Lets waiting loads finish, newest first when `reverse`. */
  release(reverse = false): void {
    const all = reverse ? this.waiting.reverse() : this.waiting;
    this.waiting = [];
    all.forEach((go) => go());
  }
}

async function take(loader: UnpairedLoader, n: number): Promise<UnpairedBatch[]> {
  const out: UnpairedBatch[] = [];
  for (let i = 0; i < n; i++) out.push(await loader.next());
  return out;
}

const summary = (b: UnpairedBatch) => ({
  epoch: b.epoch,
  step: b.step,
  indexA: b.indexA,
  indexB: b.indexB,
  a: Array.from(b.a.data),
  b: Array.from(b.b.data),
});

describe('UnpairedLoader', () => {
  it('makes an epoch of max(|A|, |B|) steps, each A at least once, B at random', async () => {
    const loader = new UnpairedLoader(new FakeSource(3), new FakeSource(5), { seed: 1 });
    expect(loader.stepsPerEpoch).toBe(5);
    const batches = await take(loader, 10);
    expect(batches.map((b) => [b.epoch, b.step])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [0, 3],
      [0, 4],
      [1, 0],
      [1, 1],
      [1, 2],
      [1, 3],
      [1, 4],
    ]);
    for (const epoch of [0, 1]) {
      const seen = new Set(batches.filter((b) => b.epoch === epoch).map((b) => b.indexA[0]));
      expect(seen).toEqual(new Set([0, 1, 2]));
    }
    expect(new Set(batches.map((b) => b.indexB[0])).size).toBeGreaterThan(1);
    const sequential = new UnpairedLoader(new FakeSource(3), new FakeSource(5), { shuffle: false });
    expect((await take(sequential, 5)).map((b) => b.indexA[0])).toEqual([0, 1, 2, 0, 1]);
  });

  it('packs batches [n, H, W, 3] and drops the last partial batch of an epoch', async () => {
    const loader = new UnpairedLoader(new FakeSource(3), new FakeSource(5), {
      batchSize: 2,
      seed: 2,
    });
    expect(loader.stepsPerEpoch).toBe(2);
    const [first] = await take(loader, 1);
    expect([first.a.n, first.a.data.length, first.indexA.length, first.b.paths.length]).toEqual([
      2, 6, 2, 2,
    ]);
  });

  it('resumes from a saved position exactly where an uninterrupted run would be', async () => {
    const opts = { seed: 42, batchSize: 2, prefetch: 2 };
    const whole = (
      await take(new UnpairedLoader(new FakeSource(5), new FakeSource(7), opts), 9)
    ).map(summary);

    const first = new UnpairedLoader(new FakeSource(5), new FakeSource(7), opts);
    await take(first, 4);
    // Saved as JSON beside a checkpoint, across a process restart.
    const saved = JSON.parse(JSON.stringify(first.state())) as LoaderState;
    expect([saved.epoch, saved.step]).toEqual([1, 1]);
    first.close();
    const resumed = new UnpairedLoader(new FakeSource(5), new FakeSource(7), {
      ...opts,
      resume: saved,
    });
    expect((await take(resumed, 5)).map(summary)).toEqual(whole.slice(4));
  });

  it('resumes real image crops exactly, across an epoch boundary', async () => {
    const root = path.join(dir, 'resume');
    const names = (p: string, n: number) =>
      Array.from({ length: n }, (_, i) => path.join(root, `${p}${i}.png`));
    const filesA = names('a', 3);
    const filesB = names('b', 4);
    await Promise.all([...filesA, ...filesB].map((f, i) => writeImage(f, 48 + i * 4, 40, 100 + i)));
    const make = (resume?: LoaderState) =>
      new UnpairedLoader(new ImageDataset(filesA, crop32), new ImageDataset(filesB, crop32), {
        seed: 7,
        resume,
      });
    const whole = await take(make(), 7);
    const first = make();
    await take(first, 3);
    const resumed = make(first.state());
    const rest = await take(resumed, 4);
    rest.forEach((b, i) => {
      expect(summary(b)).toEqual(summary(whole[i + 3]));
    });
    expect(rest[1].epoch).toBe(1);
  });

  it('refuses a saved position that does not fit the data', async () => {
    const loader = new UnpairedLoader(new FakeSource(3), new FakeSource(5), { seed: 1 });
    const saved = loader.state();
    expect(
      () => new UnpairedLoader(new FakeSource(4), new FakeSource(5), { resume: saved }),
    ).toThrow(/3 A and 5 B images/);
    expect(
      () =>
        new UnpairedLoader(new FakeSource(3), new FakeSource(5), { resume: saved, batchSize: 2 }),
    ).toThrow(DatasetError);
  });

  it('decodes ahead: `prefetch` batches are requested before the trainer asks for them', async () => {
    const a = new FakeSource(10, true);
    const b = new FakeSource(10, true);
    const loader = new UnpairedLoader(a, b, { seed: 3, prefetch: 3 });
    // Constructed, nothing consumed, nothing finished: three batches already requested.
    expect([a.requested.length, b.requested.length, loader.pending]).toEqual([3, 3, 3]);
    const next = loader.next();
    // Taking one keeps three in flight behind it.
    expect([a.requested.length, loader.pending]).toEqual([4, 3]);
    a.release();
    b.release();
    expect((await next).step).toBe(0);
  });

  it('draws the same samples whatever order the decodes finish in', async () => {
    const run = async (reverse: boolean) => {
      const a = new FakeSource(6, true);
      const b = new FakeSource(6, true);
      const loader = new UnpairedLoader(a, b, { seed: 5, prefetch: 4 });
      const pending = [loader.next(), loader.next(), loader.next()];
      a.release(reverse);
      b.release(reverse);
      return (await Promise.all(pending)).map(summary);
    };
    expect(await run(true)).toEqual(await run(false));
  });

  it('delivers a failing load as a rejected next(), not an unhandled rejection', async () => {
    const broken: SampleSource = {
      size: 2,
      load: () => Promise.reject(new DatasetError('no-readable-images', 'all broken')),
    };
    const loader = new UnpairedLoader(broken, new FakeSource(2), { prefetch: 3 });
    await expect(loader.next()).rejects.toThrow('all broken');
    loader.close();
    await expect(loader.next()).rejects.toMatchObject({ code: 'closed' });
  });
});
