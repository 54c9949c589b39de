// The clean-up of temporaries left by a killed writer: it knows exactly the names tempPathFor
// makes, removes only those past the grace period (a writer still at work keeps its own),
// never follows or removes a link, and leaves every look-alike alone.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  isOwnTemporary,
  removeStaleTemporaries,
  STALE_TEMPORARY_MS,
  tempPathFor,
} from '../../../main/files/atomic-file';
import { useTempDir } from '../../support/temp-dir';

const tmp = useTempDir('patchwork-atomic-file-', { each: true });
const UUID = '0b7e3c1a-5d2f-4e8a-9c4b-1f2e3d4c5b6a';

async function plant(file: string, ageMs: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, 'partial');
  const t = (Date.now() - ageMs) / 1000;
  await fs.utimes(file, t, t);
}

describe('isOwnTemporary', () => {
  it('matches what tempPathFor makes and nothing like it', () => {
    expect(isOwnTemporary(path.basename(tempPathFor('/x/a.png')))).toBe(true);
    expect(isOwnTemporary(path.basename(tempPathFor('/x/.manifest.json')))).toBe(true);
    expect(isOwnTemporary(`.a b.c.png.${UUID}.tmp`)).toBe(true);
    for (const name of [
      `a.png.${UUID}.tmp`, // not hidden
      `.${UUID}.tmp`, // no target name
      `.a.png.${UUID}.tmp.bak`,
      `.a.png.${UUID}.png`, // a writer's own suffix: not this clean-up's business
      `.a.png.${UUID.toUpperCase()}.tmp`,
      `.a.png.${UUID.replace('-4e8a-', '-1e8a-')}.tmp`, // not a version-4 UUID
      '.a.png.not-a-uuid.tmp',
      '.a.png.tmp',
      '.tmp-checkpoint-1',
    ]) {
      expect(isOwnTemporary(name), name).toBe(false);
    }
  });
});

describe('removeStaleTemporaries', () => {
  it('removes stale ones only: not fresh ones, look-alikes, links, folders or hidden folders', async () => {
    const old = STALE_TEMPORARY_MS + 60_000;
    const stale = [tmp.path(`.a.png.${UUID}.tmp`), tmp.path('sub', `.b.png.${UUID}.tmp`)];
    for (const f of stale) await plant(f, old);
    const kept = [
      tmp.path(`.c.png.${UUID.replace('0b', '1b')}.tmp`), // fresh: a writer is at it
      tmp.path(`a.png.${UUID}.tmp`),
      tmp.path(`.a.png.${UUID}.png`),
      tmp.path('.hidden', `.d.png.${UUID}.tmp`),
      tmp.path('outside', `.e.png.${UUID}.tmp`),
    ];
    await plant(kept[0], 1000);
    for (const f of kept.slice(1)) await plant(f, old);
    // A link with a temporary's name, to an old temporary elsewhere, and a folder so named.
    const link = tmp.path('out', `.f.png.${UUID}.tmp`);
    await fs.mkdir(tmp.path('out'));
    await fs.symlink(kept[4], link);
    const folder = tmp.path('out', `.g.png.${UUID}.tmp`);
    await fs.mkdir(folder);
    // A link to a folder holding a stale temporary is not walked into.
    await fs.symlink(tmp.path('outside'), tmp.path('out', 'linked'));

    expect(await removeStaleTemporaries(tmp.path('out'), { recursive: true })).toEqual([]);
    expect(await removeStaleTemporaries(tmp.dir)).toEqual([stale[0]]);
    expect(await removeStaleTemporaries(tmp.dir, { recursive: true })).toEqual([
      kept[4], // outside/ is a plain subfolder of tmp.dir: its stale temporary goes
      stale[1],
    ]);
    for (const f of [...kept.slice(0, 4), link, folder]) {
      await expect(fs.lstat(f), f).resolves.toBeDefined();
    }
    expect(await removeStaleTemporaries(tmp.path('missing'))).toEqual([]);
  });
});
