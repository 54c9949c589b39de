// What a script calling `patchwork convert` relies on: the exit code (0 all good, 3 some
// files failed, 1 unusable style or input, 2 bad flags) and a summary naming each failed file
// and why. Run in-process on a tiny generator and 16×12 images.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveTrainOptions } from '../../../shared/options';
import { initBackend } from '../../../main/engine/backend';
import { ResnetGenerator } from '../../../main/engine/model/generator';
import { disposeParams } from '../../../main/engine/model/params';
import { Rng } from '../../../main/engine/rng';
import { saveStyle } from '../../../main/engine/style/save-style';
import { listTree, writeBad, writeImage } from '../jobs/convert/files';
import { patchwork } from '../../support/cli-in-process';
import { UNTRAINED_SUMMARY } from '../../support/tiny-style';
import { saveTinyCutStyle } from '../../support/tiny-cut-style';
import { saveTinySinCutStyle } from '../../support/tiny-sincut-style';

const training = UNTRAINED_SUMMARY;

let root: string;
let style: string;
let n = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-cli-convert-'));
  style = path.join(root, 'style');
  await initBackend('wasm');
  const generator = ResnetGenerator.create({ ngf: 2, nBlocks: 1 }, 0.5, new Rng(9));
  const options = resolveTrainOptions({ preset: 'fastcut', ngf: 2, nBlocks: 1 });
  await saveStyle(style, { name: 'Tiny', options, generator, training, previews: [] });
  disposeParams(generator.params);
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});
afterEach(() => {
  // The command sets it for the process; it must not become the test worker's exit code.
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

async function inputFolder(): Promise<{ input: string; output: string }> {
  const dir = path.join(root, `case-${++n}`);
  await fs.mkdir(path.join(dir, 'in'), { recursive: true });
  return { input: path.join(dir, 'in'), output: path.join(dir, 'out') };
}

const common = (d: { input: string; output: string }) => [
  '--style',
  style,
  '--input',
  d.input,
  '--output',
  d.output,
  '--backend',
  'wasm',
];

describe('patchwork convert', () => {
  it('converts a folder with its subfolders (exit 0), and a second run finds it up to date', async () => {
    const d = await inputFolder();
    await writeImage(path.join(d.input, 'a.png'), 1);
    await writeImage(path.join(d.input, 'trip', 'b.jpg'), 2);
    const first = await patchwork('convert', ...common(d), '--recursive', '--format', 'png');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^2 converted of 2 files/m);
    expect(await listTree(d.output)).toEqual(['.patchwork-convert.json', 'a.png', 'trip/b.png']);
    const again = await patchwork('convert', ...common(d), '--recursive', '--format', 'png');
    expect([again.code, again.stdout]).toEqual([0, expect.stringMatching(/2 already up to date/)]);
  });

  it('exits 3 and lists each failed file with its reason when some files fail', async () => {
    const d = await inputFolder();
    await writeImage(path.join(d.input, 'good.png'), 1);
    await writeBad(path.join(d.input, 'broken.png'), 'truncated');
    await writeBad(path.join(d.input, 'empty.jpg'), 'empty');
    // Tiled, as large images are: the same outcome.
    const r = await patchwork('convert', ...common(d), '--tile', '8');
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^1 converted, 2 failed of 3 files/m);
    expect(r.stdout).toContain('failed:\n');
    expect(r.stdout).toMatch(
      /^ {2}broken\.png: the image data is corrupt or truncated .*\[corrupt\]$/m,
    );
    expect(r.stdout).toMatch(/^ {2}empty\.jpg: the file is empty \[empty\]$/m);
    expect(await listTree(d.output)).toEqual(['.patchwork-convert.json', 'good.png']);
  });

  it('exits 1 for a missing or incompatible style folder, and for a missing input', async () => {
    const d = await inputFolder();
    await writeImage(path.join(d.input, 'a.png'), 1);
    const args = common(d);
    const missing = await patchwork('convert', ...args.with(1, path.join(root, 'no-style')));
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/No style folder/)]);

    const old = path.join(root, 'old-style');
    await fs.cp(style, old, { recursive: true });
    const meta = JSON.parse(await fs.readFile(path.join(old, 'style.json'), 'utf8'));
    await fs.writeFile(path.join(old, 'style.json'), JSON.stringify({ ...meta, format: 'x-9' }));
    const incompatible = await patchwork('convert', ...args.with(1, old));
    expect([incompatible.code, incompatible.stderr]).toEqual([1, expect.stringMatching(/x-9/)]);

    const noInput = await patchwork('convert', ...args.with(3, path.join(root, 'nothing')));
    expect([noInput.code, noInput.stderr]).toEqual([1, expect.stringMatching(/No file or folder/)]);
    await expect(fs.stat(d.output)).rejects.toThrow();
  });

  it('converts with a SinCUT style: tiles from --memory-budget equal small explicit tiles', async () => {
    const sincut = path.join(root, 'sincut-style');
    await saveTinySinCutStyle(sincut);
    const d = await inputFolder();
    await writeImage(path.join(d.input, 'a.png'), 1, 30, 22);
    const args = (output: string) => [
      ...common(d).with(1, sincut).with(5, output),
      '--format',
      'png',
    ];
    const budget = await patchwork('convert', ...args(d.output), '--memory-budget', '256');
    expect([budget.code, budget.stdout]).toEqual([0, expect.stringMatching(/^1 converted of 1/m)]);
    expect(budget.stderr).toMatch(/style: Tiny SinCUT \(stylegan2\) \(sincut, /);
    const tiled = await patchwork('convert', ...args(`${d.output}-tiled`), '--tile', '8');
    expect(tiled.code).toBe(0);
    const read = (dir: string) => sharp(path.join(dir, 'a.png')).raw().toBuffer();
    const [a, b, src] = await Promise.all([
      read(d.output),
      read(`${d.output}-tiled`),
      read(d.input),
    ]);
    expect(a.length).toBe(30 * 22 * 3);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(src)).toBe(false);
  });

  it('prints a note for a file whose tile plan is over --memory-budget, and converts it', async () => {
    const d = await inputFolder();
    // Wide enough that the smallest tile (8-px core, 8-px halo) needs more than the 0.5 MiB
    // a 1-MiB budget leaves for tiles.
    const wide = path.join(root, 'style-ngf128');
    await saveTinyCutStyle(wide, { ngf: 128, nBlocks: 1, seed: 2 });
    await writeImage(path.join(d.input, 'wide.png'), 1, 64, 48);
    const args = ['--style', wide, '--input', d.input, '--output', d.output, '--backend', 'wasm'];
    const r = await patchwork('convert', ...args, '--memory-budget', '1', '--format', 'png');
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(
      /note wide\.png: the memory budget leaves 1 MiB for tiles, less than the \d+ MiB of the smallest tile worth running .*over the budget/,
    );
  });

  it('exits 2 for flags that cannot work together', async () => {
    const d = await inputFolder();
    await writeImage(path.join(d.input, 'a.png'), 1);
    const r = await patchwork('convert', ...common(d), '--bit-depth', '16', '--format', 'jpeg');
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/--bit-depth 16 needs/)]);
    const q = await patchwork('convert', ...common(d), '--quality', '101');
    expect(q.code).toBe(2);
  });

  it('--engine: onnx, tfjs or auto, printed among the opening lines; anything else exits 2', async () => {
    const d = await inputFolder();
    await writeImage(path.join(d.input, 'a.png'), 1);
    const bad = await patchwork('convert', ...common(d), '--engine', 'torch');
    expect([bad.code, bad.stderr]).toEqual([
      2,
      expect.stringMatching(/--engine must be one of auto, onnx, tfjs, got "torch"/),
    ]);
    const ort = await patchwork('convert', ...common(d), '--engine', 'onnx');
    expect(ort.code).toBe(0);
    expect(ort.stderr).toMatch(/^engine: ONNX Runtime 1\.\d+\.\d+, cpu \(\d+ threads\)$/m);
    const tfjs = await patchwork(
      'convert',
      ...common(d).with(5, `${d.output}-tfjs`),
      '--engine',
      'tfjs',
    );
    expect(tfjs.code).toBe(0);
    expect(tfjs.stderr).toMatch(/^engine: TF\.js \(asked for\)$/m);
    const sincut = path.join(root, 'sincut-engine');
    await saveTinySinCutStyle(sincut);
    const onSincut = await patchwork(
      'convert',
      ...common(d).with(1, sincut).with(5, `${d.output}-sincut`),
      '--engine',
      'onnx',
    );
    expect(onSincut.code, onSincut.stderr).toBe(0);
    expect(onSincut.stderr).toMatch(/^engine: ONNX Runtime \S+, cpu/m);
  });
});

describe('patchwork watch', () => {
  // A real process: watching ends with a signal, which only a separate process can take.
  it('converts what arrives, stops on SIGINT with a summary, and exits 3 if a file failed', async () => {
    const d = await inputFolder();
    await writeImage(path.join(d.input, 'there.png'), 1);
    const repo = fileURLToPath(new URL('../../../', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'main/cli/bin.ts', 'watch', ...common(d), '--stable-ms', '200'],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const until = async (re: RegExp) => {
      for (let i = 0; i < 600 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toMatch(re);
    };
    try {
      await until(/converted there\.png/);
      await writeImage(path.join(d.input, 'new.jpg'), 2);
      await writeBad(path.join(d.input, 'bad.webp'), 'corrupt');
      await until(/converted new\.jpg/);
      await until(/failed bad\.webp/);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(3);
    expect(out).toMatch(/^2 converted, 1 failed of 3 files/m);
    expect(out).toMatch(/^ {2}bad\.webp: .*\[corrupt\]$/m);
    expect(await listTree(d.output)).toEqual([
      '.patchwork-convert.json',
      '.patchwork-watch.json',
      'new.jpg',
      'there.png',
    ]);
  });
});
