/**
 * Which native binaries an installer carries. electron-builder cannot package here (it
 * downloads Electron), so its own file matching (app-builder-lib's fileMatcher and macro
 * expansion, as its node-module copier and asar packer call them) is run over the real
 * node_modules for each target: ONNX Runtime keeps exactly the target's platform/arch folder
 * and its binding, library and provider DLLs, all unpacked from the asar; Dawn keeps only the
 * target's dawn.node; sharp's @img packages are unpacked. The byte counts printed are the
 * installer-size figures the README quotes.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

type Filter = (file: string, stat: Stats & { moduleFullFilePath?: string }) => boolean;
interface Matcher {
  patterns: string[];
  macroExpander: (p: string) => string;
  createFilter(): Filter;
}
const fileMatcher = require('app-builder-lib/out/fileMatcher') as {
  FileMatcher: new (
    from: string,
    to: string,
    expand: (p: string) => string,
    patterns: string[],
  ) => Matcher;
  getNodeModuleFileMatcher(
    appDir: string,
    destination: string,
    expand: (p: string) => string,
    platformOptions: unknown,
    packager: unknown,
  ): Matcher;
  getFileMatchers(
    config: unknown,
    name: string,
    destination: string,
    opts: unknown,
  ): Matcher[] | null;
};
const { expandMacro } = require('app-builder-lib/out/util/macroExpander') as {
  expandMacro(pattern: string, arch: string | null, appInfo: unknown, extra: unknown): string;
};

const APP = process.cwd();
const DEST = path.join(APP, 'dist', 'unpacked', 'resources', 'app');

interface Target {
  os: 'linux' | 'win' | 'mac';
  platform: 'linux' | 'win32' | 'darwin';
  arch: 'x64' | 'arm64';
  /** The ONNX Runtime files the app needs there. */
  ort: string[];
  dawn: string;
}

const TARGETS: Target[] = [
  {
    os: 'linux',
    platform: 'linux',
    arch: 'x64',
    ort: ['libonnxruntime.so.1', 'onnxruntime_binding.node'],
    dawn: 'linux-x64',
  },
  {
    os: 'linux',
    platform: 'linux',
    arch: 'arm64',
    ort: ['libonnxruntime.so.1', 'onnxruntime_binding.node'],
    dawn: 'linux-arm64',
  },
  {
    os: 'win',
    platform: 'win32',
    arch: 'x64',
    ort: ['DirectML.dll', 'dxcompiler.dll', 'onnxruntime.dll', 'onnxruntime_binding.node'],
    dawn: 'win32-x64',
  },
  {
    os: 'mac',
    platform: 'darwin',
    arch: 'arm64',
    ort: ['libonnxruntime.1.dylib', 'onnxruntime_binding.node'],
    dawn: 'darwin-universal',
  },
];

async function config(): Promise<Record<string, unknown>> {
  return load(await readFile('electron-builder.yml', 'utf8')) as Record<string, unknown>;
}

function expander(t: Target) {
  return (p: string) => expandMacro(p, t.arch, {}, { os: t.os, '/*': '{,/**/*}' });
}

/**
 * The files of one package that the node-module copier keeps, as it walks: an entry passes the
 * filter with its path inside the app (`moduleFullFilePath`), and only kept folders are entered.
 */
function keptFiles(cfg: Record<string, unknown>, t: Target, pkg: string): string[] {
  const main = fileMatcher.getNodeModuleFileMatcher(APP, DEST, expander(t), cfg[t.os] ?? {}, {
    config: cfg,
    debugLogger: { isEnabled: false },
  });
  const dir = path.join(APP, 'node_modules', pkg);
  const dest = path.join('node_modules', pkg);
  const filter = new fileMatcher.FileMatcher(
    dir,
    dest,
    main.macroExpander,
    main.patterns,
  ).createFilter();
  const kept: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const file = path.join(d, name);
      const stat = Object.assign(lstatSync(file), {
        moduleFullFilePath: path.join(dest, path.relative(dir, file)),
      });
      if (!filter(file, stat)) continue;
      if (stat.isDirectory()) walk(file);
      else kept.push(stat.moduleFullFilePath);
    }
  };
  walk(dir);
  return kept;
}

function unpacked(cfg: Record<string, unknown>, t: Target): (rel: string) => boolean {
  const [matcher] =
    fileMatcher.getFileMatchers(cfg, 'asarUnpack', DEST, {
      macroExpander: expander(t),
      customBuildOptions: cfg[t.os],
      globalOutDir: path.join(APP, 'dist'),
      defaultSrc: APP,
    }) ?? [];
  const filter = matcher.createFilter();
  return (rel) =>
    filter(
      path.join(APP, rel),
      Object.assign(lstatSync(path.join(APP, rel)), { moduleFullFilePath: rel }),
    );
}

/** Every file's bytes under a folder: what the npm package holds. */
function bytesUnder(dir: string): number {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => lstatSync(path.join(dir, f)))
    .reduce((n, s) => n + (s.isFile() ? s.size : 0), 0);
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe('electron-builder.yml: native binaries per installer', () => {
  const sizes: string[] = [];

  for (const t of TARGETS) {
    it(`${t.platform}-${t.arch}: only its ONNX Runtime and Dawn binaries, unpacked`, async () => {
      const cfg = await config();
      const ort = keptFiles(cfg, t, 'onnxruntime-node');
      const bin = ort.filter((f) => f.includes('/bin/'));
      const folder = `node_modules/onnxruntime-node/bin/napi-v6/${t.platform}/${t.arch}`;
      expect(bin.sort()).toEqual(t.ort.map((f) => `${folder}/${f}`).sort());
      // The JavaScript that loads the binding stays in.
      expect(ort).toContain('node_modules/onnxruntime-node/dist/binding.js');
      const isUnpacked = unpacked(cfg, t);
      for (const f of bin) expect(isUnpacked(f), f).toBe(true);
      expect(isUnpacked('node_modules/onnxruntime-node/dist/binding.js')).toBe(false);

      const dawn = keptFiles(cfg, t, 'webgpu').filter((f) => f.endsWith('.node'));
      expect(dawn).toEqual([`node_modules/webgpu/dist/${t.dawn}/dawn.node`]);
      expect(isUnpacked(dawn[0])).toBe(true);

      const bytes = bin.reduce((n, f) => n + lstatSync(f).size, 0);
      const all = bytesUnder('node_modules/onnxruntime-node/bin');
      expect(bytes).toBeLessThan(all / 3);
      sizes.push(`${t.platform}-${t.arch}: ONNX Runtime ${mib(bytes)} of ${mib(all)}`);
    });
  }

  it('unpacks sharp’s native packages', async () => {
    const cfg = await config();
    const t = TARGETS[0];
    const img = readdirSync('node_modules/@img').filter((d) => d.startsWith('sharp-'));
    expect(img.length).toBeGreaterThan(0);
    for (const d of img) {
      for (const f of keptFiles(cfg, t, `@img/${d}`).filter((x) => /\.(node|so[.\d]*)$/.test(x))) {
        expect(unpacked(cfg, t)(f), f).toBe(true);
      }
    }
    console.log(`bytes of ONNX Runtime per installer:\n  ${sizes.join('\n  ')}`);
  });
});
