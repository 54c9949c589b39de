/**
 * The command as people install it: `npm pack` of the built tree, that tarball installed by npm
 * into a temporary folder, and the installed `patchwork` run as a user runs it — help, version,
 * a conversion on the wasm backend (TF.js finds its .wasm files from there) and `serve` (the
 * interface and the samples come from the package; a request reaches the engine process).
 *
 * The install is npm's own (it unpacks the tarball, checks the dependencies against its ranges
 * and links the bin), offline: the package's dependencies are linked from this project's
 * node_modules first, so nothing is downloaded, and a dependency the package forgot to declare
 * is missing as it would be for a user. `npm test` builds before it runs; alone, run
 * `npm run build` first: without the build this fails, saying so.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, promises as fs, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/backend';
import { REPO } from '../../support/cli';
import { useTempDir } from '../../support/temp-dir';
import { saveTinyCutStyle } from '../../support/tiny-cut-style';

const run = promisify(execFile);
/** Long enough for serve's 128-bit rule (main/serve/token.ts). */
const PACK_TOKEN = 'pack-test-token-0123456789';

/** What the package needs built (`npm run build`, or `npm pack`'s prepack). */
const BUILT = ['out/cli/patchwork.js', 'out/cli/engine-worker.js', 'out/renderer/index.html'];

interface PackageJson {
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
}
interface Packed {
  filename: string;
  size: number;
  files: { path: string }[];
}
interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

const tmp = useTempDir('patchwork-pack-');
const pkg = JSON.parse(await fs.readFile(path.join(REPO, 'package.json'), 'utf8')) as PackageJson;
let packed: Packed;
let app: string;
let bin: string;

/** Without npm's own npm_* variables (the test may run under `npm test`). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { FORCE_COLOR: '0' };
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

const npm = (args: string[], cwd: string) =>
  run('npm', args, { cwd, env: cleanEnv(), maxBuffer: 16 * 1024 * 1024 });

/** Runs the installed command from the app's folder, as `npx patchwork …` would. */
function patchwork(...args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { cwd: app, env: cleanEnv() }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  const missing = BUILT.filter((f) => !existsSync(path.join(REPO, f)));
  if (missing.length) {
    throw new Error(
      `the built command is not there (${missing.join(', ')}): run \`npm run build\` first ` +
        '(`npm test` does)',
    );
  }
  // --ignore-scripts: pack what is built (prepack would rebuild out/ under the other tests).
  const { stdout } = await npm(
    ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.dir],
    REPO,
  );
  packed = (JSON.parse(stdout) as Packed[])[0];

  app = tmp.path('app');
  await fs.mkdir(path.join(app, 'node_modules'), { recursive: true });
  await fs.writeFile(path.join(app, 'package.json'), '{ "name": "app", "private": true }\n');
  for (const dep of Object.keys(pkg.dependencies)) {
    const link = path.join(app, 'node_modules', dep);
    await fs.mkdir(path.dirname(link), { recursive: true });
    await fs.symlink(realpathSync(path.join(REPO, 'node_modules', dep)), link, 'dir');
  }
  // --ignore-scripts: the linked dependencies are this project's; their scripts ran at its install.
  await npm(
    [
      'install',
      '--offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      tmp.path(packed.filename),
    ],
    app,
  );
  bin = path.join(app, 'node_modules', '.bin', 'patchwork');
});

describe('patchwork installed from npm pack', () => {
  it('packs the command, the interface and the samples, and no sources, tests or maps', () => {
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        ...BUILT,
        'resources/samples/source/aqua.jpg',
        'resources/samples/held-out/twowings.jpg',
      ]),
    );
    const stray = files.filter(
      (f) => /^(main|shared|renderer|preload|test)\//.test(f) || /\.(ts|map)$/.test(f),
    );
    expect(stray).toEqual([]);
    expect(pkg.bin).toEqual({ patchwork: 'out/cli/patchwork.js' });
    // Executable as built, for `npm link` and `npx patchwork` in the clone.
    expect(statSync(path.join(REPO, pkg.bin.patchwork)).mode & 0o111).not.toBe(0);
    // A few hundred kB: a bundle without its dependencies, the interface, 15 small samples.
    expect(packed.size).toBeLessThan(2_000_000);
  });

  it('prints its help and its version', async () => {
    const help = await patchwork('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: patchwork \[options\] \[command\]/);
    for (const command of ['train', 'demo', 'convert', 'watch', 'heatmap', 'serve', 'import']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    const version = await patchwork('--version');
    expect([version.code, version.stdout.trim()]).toEqual([0, pkg.version]);
  });

  it('converts an image with a style on the wasm backend', async () => {
    await initBackend('wasm');
    const style = tmp.path('style');
    await saveTinyCutStyle(style);
    const input = tmp.path('in');
    await fs.mkdir(input);
    await sharp({ create: { width: 16, height: 12, channels: 3, background: '#3a7' } })
      .png()
      .toFile(path.join(input, 'leaf.png'));
    const output = tmp.path('out');
    const ran = await patchwork(
      'convert',
      ...['--style', style, '--input', input, '--output', output],
      ...['--backend', 'wasm', '--format', 'png'],
    );
    expect(ran.stderr).not.toMatch(/error/i);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/^1 converted of 1 files/m);
    const made = await sharp(path.join(output, 'leaf.png')).metadata();
    expect([made.width, made.height]).toEqual([16, 12]);
  });

  it('serves the studio from the package: its page, and an engine request on its samples', async () => {
    const child = spawn(
      bin,
      ['serve', '--port', '0', '--library', tmp.path('library'), '--token', PACK_TOKEN],
      { cwd: app, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /open (http:\/\/\S+?)\/#token=/.exec(stdout);
          if (m) resolve(m[1]);
        });
        child.on('close', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
      });
      const auth = { Authorization: `Bearer ${PACK_TOKEN}` };
      const page = await fetch(`${address}/`, { headers: auth });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<script type="module"[^>]* src="\.\/assets\//);

      const samples = path.join(app, 'node_modules', 'patchwork', 'resources', 'samples');
      const res = await fetch(`${address}/api`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          channel: 'sincut:inspect',
          input: {
            source: path.join(samples, 'source', 'aqua.jpg'),
            target: path.join(samples, 'target', 'wood.jpg'),
          },
        }),
      });
      const reply = (await res.json()) as {
        ok: boolean;
        value?: { source: { width: number } | null; problem: string | null };
      };
      expect(reply).toMatchObject({ ok: true, value: { problem: null } });
      expect(reply.value?.source?.width).toBeGreaterThan(0);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/error/i);
  });
});
