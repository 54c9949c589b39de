/**
 * The step-time cache on disk: saved where the library is (its folder made when missing),
 * overlapping saves all land, a new cache (a restart) reads them back, and an unreadable or
 * foreign file starts afresh.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EstimateCache, estimateKey, type StoredEstimate } from '../../../main/services/estimates';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pw-estimates-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const measured = (secondsPerStep: number): StoredEstimate => ({
  secondsPerStep,
  backend: 'cpu',
  measuredAt: '2026-01-01T00:00:00.000Z',
  contended: false,
});

describe('EstimateCache', () => {
  it('keeps overlapping saves across a restart, in a folder it makes', async () => {
    const file = EstimateCache.fileIn(path.join(dir, 'new-library'));
    const cache = new EstimateCache(file);
    const a = estimateKey('sincut', 'cpu', { crop: 64, seed: 1 });
    const b = estimateKey('sincut', 'cpu', { crop: 128 });
    await Promise.all([cache.set(a, measured(0.5)), cache.set(b, measured(2))]);
    const text = await readFile(file, 'utf8');
    expect(text.startsWith('{\n  "format": "patchwork-estimates-1"')).toBe(true);
    const again = new EstimateCache(file);
    expect((await again.get(a))?.secondsPerStep).toBe(0.5);
    expect((await again.get(b))?.secondsPerStep).toBe(2);
    expect(await again.get(estimateKey('sincut', 'webgpu', { crop: 64 }))).toBeNull();
  });

  it('starts afresh from a file it cannot read', async () => {
    for (const body of ['not json', 'null', '{"format":"other","entries":{}}']) {
      const file = path.join(dir, 'estimates.json');
      await writeFile(file, body);
      const cache = new EstimateCache(file);
      expect(await cache.get('any')).toBeNull();
      await cache.set('k', measured(1));
      expect((await new EstimateCache(file).get('k'))?.secondsPerStep).toBe(1);
    }
  });
});
