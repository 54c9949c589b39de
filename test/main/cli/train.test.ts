// The train command as a user meets it: usage mistakes exit 2 naming the flag or option,
// bad folders exit 1 with a clear message, and a run killed with SIGKILL resumes to exactly
// the weights of an uninterrupted one (no lost or repeated work).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../../support/cli';

let dir: string;
let source: string;
let target: string;

async function makeImages(folder: string, count: number, hue: number) {
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.alloc(40 * 48 * 3);
    for (let p = 0; p < 40 * 48; p++) {
      pixels[3 * p] = (p * 7 + i * 31 + hue) % 256;
      pixels[3 * p + 1] = (p * 3 + hue) % 256;
      pixels[3 * p + 2] = (i * 50 + hue) % 256;
    }
    await sharp(pixels, { raw: { width: 48, height: 40, channels: 3 } })
      .png()
      .toFile(path.join(folder, `img${i}.png`));
  }
}

const tiny = (out: string, extra: string[] = []) => [
  'train',
  '--source',
  source,
  '--target',
  target,
  '--out',
  out,
  '--preset',
  'fastcut',
  '--ngf',
  '4',
  '--ndf',
  '4',
  '--blocks',
  '2',
  '--load-size',
  '36',
  '--crop-size',
  '32',
  '--patches',
  '32',
  '--backend',
  'wasm',
  '--seed',
  '5',
  '--preview-every',
  '0',
  ...extra,
];

function generatorHash(out: string): string {
  return createHash('sha256')
    .update(readFileSync(path.join(out, 'style', 'generator.bin')))
    .digest('hex');
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'patchwork-cli-'));
  source = path.join(dir, 'a');
  target = path.join(dir, 'b');
  await makeImages(source, 3, 0);
  await makeImages(target, 3, 90);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('patchwork train: usage and input errors', () => {
  it('a missing required flag exits 2 and names it', async () => {
    const r = await runCli(['train', '--source', source, '--out', path.join(dir, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--target/);
  });

  it('a malformed number exits 2 and names the flag', async () => {
    const r = await runCli(tiny(path.join(dir, 'x'), ['--ngf', 'wide']));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--ngf expects a whole number, got "wide"/);
  });

  it('an invalid option value exits 2 and names the option', async () => {
    const r = await runCli(tiny(path.join(dir, 'x'), ['--crop-size', '30']));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/option "cropSize": must be a multiple of 4/);
  });

  it('--threads outside 1–8 exits 2 and names the flag', async () => {
    const r = await runCli(tiny(path.join(dir, 'x'), ['--threads', '0']));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--threads must be between 1 and 8/);
  });

  it('--threads reaches the engine: the backend line names the count', async () => {
    const out = path.join(dir, 'threads');
    const r = await runCli(tiny(out, ['--threads', '2', '--iterations', '1']));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/backend: wasm \(SIMD, 2 threads;/);
  });

  it('a missing source folder exits 1 with a message naming it', async () => {
    const r = await runCli(
      tiny(path.join(dir, 'x')).map((a) => (a === source ? path.join(dir, 'nope') : a)),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nope/);
  });
});

describe('patchwork train: killed and resumed', () => {
  it('SIGKILL mid-run, then --resume, ends with the same weights as an uninterrupted run', async () => {
    const steps = ['--iterations', '8', '--checkpoint-every', '2'];
    const straight = path.join(dir, 'straight');
    const whole = await runCli(tiny(straight, steps));
    expect(whole.code, whole.stderr).toBe(0);

    const killed = path.join(dir, 'killed');
    const run = startCli(tiny(killed, steps));
    await new Promise<void>((resolve) => {
      // Kill as soon as the step-4 checkpoint is reported: mid-run, work after it is lost.
      run.child.stderr?.on('data', (d: Buffer) => {
        if (/checkpoint at step 4/.test(d.toString())) {
          run.child.kill('SIGKILL');
          resolve();
        }
      });
    });
    const first = await run.done;
    expect(first.signal).toBe('SIGKILL');

    const resumed = await runCli(tiny(killed, [...steps, '--resume']));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming at step [4-7]/);
    expect(generatorHash(killed)).toBe(generatorHash(straight));
  });
});
