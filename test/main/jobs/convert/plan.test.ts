// Output naming is where a batch converter silently destroys work: two inputs written to
// one output, or an output written over an input. These cases pin the rules down.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OutputNamer,
  planConversion,
  PlanError,
  type ConversionPlan,
} from '../../../../main/jobs/convert/plan';

let root: string;
let n = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-plan-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A fresh folder with empty files of the given names (planning never reads them). */
async function tree(names: string[]): Promise<string> {
  const dir = path.join(root, `case-${++n}`);
  for (const name of names) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), 'x');
  }
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

function pairs(plan: ConversionPlan): Record<string, string> {
  return Object.fromEntries(
    plan.files.map((f) => [path.relative(plan.inputRoot, f.input), f.relative]),
  );
}

async function planError(p: Promise<unknown>): Promise<PlanError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PlanError);
  return err as PlanError;
}

describe('planConversion', () => {
  it('gives inputs that share a name distinct outputs; the one already in the format keeps it', async () => {
    const dir = await tree(['in/a.jpg', 'in/a.png', 'in/b.webp', 'in/a.tif']);
    const plan = await planConversion({
      input: path.join(dir, 'in'),
      output: path.join(dir, 'out'),
      format: 'png',
    });
    expect(pairs(plan)).toEqual({
      'a.jpg': 'a.jpg.png',
      'a.png': 'a.png',
      'a.tif': 'a.tif.png',
      'b.webp': 'b.png',
    });
    expect(plan.files.map((f) => f.output)).toEqual(
      plan.files.map((f) => path.join(dir, 'out', f.relative)),
    );
  });

  it('keeps names with format "same", and an input already in the chosen format keeps its extension', async () => {
    const dir = await tree(['in/a.jpeg', 'in/b.JPG', 'in/c.png']);
    const args = { input: path.join(dir, 'in'), output: path.join(dir, 'out') };
    expect(pairs(await planConversion(args))).toEqual({
      'a.jpeg': 'a.jpeg',
      'b.JPG': 'b.JPG',
      'c.png': 'c.png',
    });
    expect(pairs(await planConversion({ ...args, format: 'jpeg' }))).toEqual({
      'a.jpeg': 'a.jpeg',
      'b.JPG': 'b.JPG',
      'c.png': 'c.jpg',
    });
  });

  it('mirrors subfolders when recursive and leaves them out otherwise', async () => {
    const dir = await tree(['in/a.png', 'in/trip/day1/b.jpg', 'in/trip/c.webp', 'in/notes.txt']);
    const args = {
      input: path.join(dir, 'in'),
      output: path.join(dir, 'out'),
      format: 'tiff' as const,
    };
    const deep = await planConversion({ ...args, recursive: true });
    expect(pairs(deep)).toEqual({
      'a.png': 'a.tif',
      [path.join('trip', 'c.webp')]: 'trip/c.tif',
      [path.join('trip', 'day1', 'b.jpg')]: 'trip/day1/b.tif',
    });
    const flat = await planConversion(args);
    expect(pairs(flat)).toEqual({ 'a.png': 'a.tif' });
    expect(flat.ignored.map((i) => [path.basename(i.path), i.reason])).toEqual([
      ['notes.txt', 'not-an-image'],
      ['trip', 'folder'],
    ]);
  });

  it('leaves an output folder inside the input tree out of the scan', async () => {
    const dir = await tree(['in/a.png', 'in/converted/old.png', 'in/converted/deeper/x.jpg']);
    const plan = await planConversion({
      input: path.join(dir, 'in'),
      output: path.join(dir, 'in', 'converted'),
      recursive: true,
    });
    expect(pairs(plan)).toEqual({ 'a.png': 'a.png' });
  });

  it('refuses an output folder that is, or contains, the input folder', async () => {
    const dir = await tree(['in/a.png']);
    const input = path.join(dir, 'in');
    expect((await planError(planConversion({ input, output: input }))).code).toBe(
      'output-is-input',
    );
    expect((await planError(planConversion({ input, output: `${input}/.` }))).code).toBe(
      'output-is-input',
    );
    expect((await planError(planConversion({ input, output: dir }))).code).toBe(
      'input-inside-output',
    );
  });

  it('never names an output after its input, even for a single file converted next to itself', async () => {
    const dir = await tree(['photo.jpg']);
    const input = path.join(dir, 'photo.jpg');
    const plan = await planConversion({ input, output: dir });
    expect(plan.files).toEqual([
      { input, relative: 'photo.jpg.jpg', output: path.join(dir, 'photo.jpg.jpg') },
    ]);
    const png = await planConversion({ input, output: dir, format: 'png' });
    expect(png.files[0].relative).toBe('photo.png');
  });

  it('says what is wrong with missing inputs and outputs that are files', async () => {
    const dir = await tree(['a.png', 'file.txt']);
    const missing = await planError(planConversion({ input: path.join(dir, 'nope'), output: dir }));
    expect(missing.code).toBe('missing-input');
    expect(missing.message).toContain(path.join(dir, 'nope'));
    const file = await planError(
      planConversion({ input: path.join(dir, 'a.png'), output: path.join(dir, 'file.txt') }),
    );
    expect(file.code).toBe('output-not-folder');
    const empty = await tree(['in/only/x.png', 'in/out/y.png']);
    const none = await planError(
      planConversion({ input: path.join(empty, 'in'), output: path.join(empty, 'in', 'out') }),
    );
    expect(none.code).toBe('no-images');
  });

  // The studio's jobs carry its allowed folders; links out of them are never planned.
  it('given allowed roots, lists links out of them as ignored and refuses an input that is one', async () => {
    const allowed = await tree(['in/a.png', 'other/inner.png']);
    const outside = await tree(['secret.png', 'dir/deep.png']);
    const input = path.join(allowed, 'in');
    await fs.symlink(path.join(allowed, 'other', 'inner.png'), path.join(input, 'inside.png'));
    await fs.symlink(path.join(outside, 'secret.png'), path.join(input, 'out.png'));
    await fs.symlink(path.join(outside, 'dir'), path.join(input, 'sub'));
    const output = path.join(allowed, 'out');
    const plan = await planConversion({ input, output, recursive: true, allowedRoots: [allowed] });
    expect(plan.files.map((f) => f.relative)).toEqual(['a.png', 'inside.png']);
    expect(plan.ignored.map((i) => [path.basename(i.path), i.reason])).toEqual([
      ['out.png', 'outside-allowed-folders'],
      ['sub', 'outside-allowed-folders'],
    ]);
    const single = await planError(
      planConversion({ input: path.join(input, 'out.png'), output, allowedRoots: [allowed] }),
    );
    expect(single.code).toBe('outside-allowed-folders');
    expect(single.message).toContain('out.png');
  });

  it('keeps the names the manifest recorded, and does not take a name another input still owns', async () => {
    const dir = await tree(['in/a.jpg', 'in/a.png', 'in/b.jpg']);
    const input = path.join(dir, 'in');
    const output = path.join(dir, 'out');
    // Last time only a.jpg existed and got a.png; b.png belonged to an input since deleted.
    const claims = new Map([
      ['a.png', path.join(input, 'a.jpg')],
      ['b.png', path.join(dir, 'gone', 'b.jpg')],
    ]);
    const plan = await planConversion({ input, output, format: 'png' }, claims);
    expect(pairs(plan)).toEqual({ 'a.jpg': 'a.png', 'a.png': 'a.png.png', 'b.jpg': 'b.png' });
  });

  it('writes over its own earlier outputs but never over somebody else’s file', async () => {
    const dir = await tree(['in/a.png', 'in/b.png', 'out/a.png', 'out/b.png']);
    const input = path.join(dir, 'in');
    const output = path.join(dir, 'out');
    const claims = new Map([['b.png', path.join(input, 'b.png')]]);
    const plan = await planConversion({ input, output }, claims);
    expect(pairs(plan)).toEqual({ 'a.png': 'a.png.png', 'b.png': 'b.png' });
  });
});

describe('OutputNamer', () => {
  it('names files one at a time, as a watcher sees them, without collisions or renames', async () => {
    const inputRoot = path.join(root, 'watched');
    const namer = new OutputNamer({
      inputRoot,
      outputRoot: path.join(root, 'watched-out'),
      format: 'webp',
    });
    const one = async (name: string) => (await namer.assign([path.join(inputRoot, name)]))[0];
    expect((await one('a.jpg')).relative).toBe('a.webp');
    expect((await one('a.png')).relative).toBe('a.png.webp');
    expect((await one('a.webp')).relative).toBe('a.webp.webp');
    expect((await one('sub/a.jpg')).relative).toBe('sub/a.webp');
    // Seen again (changed): the same name as before.
    expect((await one('a.png')).relative).toBe('a.png.webp');
  });
});
