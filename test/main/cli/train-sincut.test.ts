// `patchwork train --preset sincut` meets bad input before any training: a tiny image or a
// folder exits 1 with a message naming the file, a bad setting exits 2 naming the flag.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { patchwork } from '../../support/cli-in-process';

let dir: string;
let tiny: string;
let ok: string;

async function png(name: string, w: number, h: number): Promise<string> {
  const file = path.join(dir, name);
  await sharp(Buffer.alloc(w * h * 3, 128), { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(file);
  return file;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'train-sincut-'));
  tiny = await png('tiny.png', 10, 8);
  ok = await png('ok.png', 80, 64);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

const run = (source: string, target: string, extra: string[] = []) =>
  patchwork(
    'train',
    '--preset',
    'sincut',
    '--source',
    source,
    '--target',
    target,
    '--out',
    path.join(dir, 'out'),
    '--backend',
    'cpu',
    ...extra,
  );

describe('train --preset sincut, bad input', () => {
  it('refuses a tiny image with its size', async () => {
    const r = await run(ok, tiny);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Target image .*tiny\.png is 10×8 px: too small to learn from/);
  });

  it('refuses a folder where an image is expected', async () => {
    const r = await run(dir, ok);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: /);
    expect(r.stderr).not.toMatch(/unexpected/);
  });

  it('names a bad --setting', async () => {
    const r = await run(ok, ok, ['--setting', 'huge']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--setting must be one of reference, paper/);
  });
});

describe('train: flags of the other kind of training', () => {
  it('refuses folder-only flags with --preset sincut, naming them', async () => {
    const r = await run(ok, ok, ['--from-style', dir, '--recursive']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--recursive, --from-style: not used by --preset sincut/);
    expect(r.stderr).toMatch(/--resume/);
  });

  it('refuses SinCUT-only flags with a folder preset', async () => {
    const r = await patchwork(
      'train',
      '--source',
      dir,
      '--target',
      dir,
      '--out',
      path.join(dir, 'out-cut'),
      '--batch-size',
      '4',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--batch-size: only for --preset sincut/);
  });
});
