// The benchmark bundle (test/bench/bundle) is what goes to GPU machines without npm: it must
// build well under 60 MB and run from a folder that sees nothing of this repository. Here it
// lists the adapters (SwiftShader, where installed) and passes the reference parity check on
// the bundled wasm backend; its webgpu parity on SwiftShader takes minutes and is run by hand.
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../bench/bundle/build';
import { SWIFTSHADER_ICDS } from '../../../main/engine/webgpu';

let dir: string;
let bytes: number;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-bundle-'));
  ({ bytes } = await buildBundle({ out: path.join(dir, 'bundle') }));
}, 120_000);
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function bench(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [path.join(dir, 'bundle/bench/bench.mjs'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 300_000,
    env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
  });
}

describe('benchmark bundle', { timeout: 300_000 }, () => {
  it('is well under 60 MB: one script, the wasm files, one Dawn binary, the fixtures', async () => {
    console.info(`benchmark bundle: ${(bytes / 2 ** 20).toFixed(1)} MiB`);
    expect(bytes).toBeLessThan(45 * 2 ** 20);
    const dawn = await fs.readdir(path.join(dir, 'bundle/node_modules/webgpu/dist'));
    expect(dawn).toHaveLength(1);
  });

  it('runs the parity check with nothing but node', () => {
    const r = bench(['parity', '--backend', 'wasm']);
    expect(r.stdout, r.stderr).toMatch(/parity: PASS/);
    expect(r.status).toBe(0);
  });

  it.skipIf(!SWIFTSHADER_ICDS.some((f) => existsSync(f)))(
    'lists SwiftShader as a software adapter',
    () => {
      const r = bench(['adapters'], { PATCHWORK_SWIFTSHADER: '1' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/swiftshader.*software/i);
    },
  );
});
