/**
 * electron-builder.yml cannot be exercised here (packaging downloads Electron), so it is
 * checked against electron-builder's own schema, and for what the app needs at run time.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { load } from 'js-yaml';

const require = createRequire(import.meta.url);

describe('electron-builder.yml', () => {
  it('matches electron-builder’s schema', async () => {
    const config = load(await readFile('electron-builder.yml', 'utf8')) as Record<string, unknown>;
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
      validateConfiguration(c: unknown, log: unknown): Promise<void>;
    };
    const { DebugLogger } = require('builder-util') as {
      DebugLogger: new (on: boolean) => unknown;
    };
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('unpacks native modules and wasm, ships the samples, sets the fuses', async () => {
    const config = load(await readFile('electron-builder.yml', 'utf8')) as {
      asarUnpack: string[];
      extraResources: { from: string; to: string }[];
      electronFuses: Record<string, boolean>;
      linux: { target: string[] };
    };
    expect(config.asarUnpack).toEqual(
      expect.arrayContaining([
        'node_modules/sharp/**',
        'node_modules/@img/**',
        'node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm',
      ]),
    );
    expect(config.extraResources).toContainEqual({ from: 'resources/samples', to: 'samples' });
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableEmbeddedAsarIntegrityValidation: true,
    });
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
  });
});
