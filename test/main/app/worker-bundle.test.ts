/**
 * The engine bundle the desktop app forks (out/app/worker.js, made by `npm run build:app`)
 * run under plain Node through the same host and protocol as Electron's utilityProcess: a
 * tiny training job to the end. `npm test` builds before it runs; alone, build first.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WorkerHost } from '../../../main/services/worker-host';
import { nodeWorkerSpawner } from '../../../main/services/worker-host-node';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BUNDLE = path.join(REPO, 'out', 'app', 'worker.js');
const SAMPLES = path.join(REPO, 'resources', 'samples');

describe('the built engine worker', () => {
  it.skipIf(!existsSync(BUNDLE))('trains a tiny style to the end', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'pw-bundle-'));
    const host = new WorkerHost(nodeWorkerSpawner(BUNDLE));
    try {
      const types: string[] = [];
      const result = await host.run(
        {
          type: 'train',
          jobId: 'bundle',
          resume: false,
          spec: {
            source: path.join(SAMPLES, 'source'),
            target: path.join(SAMPLES, 'target'),
            out,
            options: {
              preset: 'fastcut',
              ngf: 4,
              ndf: 4,
              nBlocks: 2,
              loadSize: 36,
              cropSize: 32,
              numPatches: 16,
            },
            iterations: 2,
            backend: 'wasm',
            previewEvery: 0,
          },
        },
        (e) => void (e.kind === 'train' && types.push(e.event.type)),
      );
      expect(result.status).toBe('completed');
      expect(types[0]).toBe('started');
      expect(types.at(-1)).toBe('finished');
      const meta = JSON.parse(await readFile(path.join(out, 'style', 'style.json'), 'utf8'));
      expect(meta.training.iterations).toBe(2);
    } finally {
      host.dispose();
      await rm(out, { recursive: true, force: true });
    }
  });
});
