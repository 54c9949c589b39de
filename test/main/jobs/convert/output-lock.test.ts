// The output folder's job locks decide whether a young temporary is a killed job's leftover
// (removed at once) or a running job's file (kept until the grace period): so a lock must
// count as live whenever its job might still be writing, and as dead only when its process
// is provably gone.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OutputLock } from '../../../../main/jobs/convert/output-lock';
import { useTempDir } from '../../../support/temp-dir';

const tmp = useTempDir('patchwork-output-lock-');
const UUID = '0b7e3c1a-5d2f-4e8a-9c4b-1f2e3d4c5b6a';

async function folder(name: string): Promise<string> {
  const dir = tmp.path(name);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

async function plant(dir: string, body: string): Promise<string> {
  const file = path.join(dir, `.patchwork-job-${UUID}.lock`);
  await fs.writeFile(file, body);
  return file;
}

const exists = (f: string) =>
  fs.stat(f).then(
    () => true,
    () => false,
  );

describe('OutputLock', () => {
  it('is alone in an empty folder, not beside a running job, and leaves nothing on release', async () => {
    const dir = await folder('two');
    const first = await OutputLock.take(dir);
    expect(first.alone).toBe(true);
    const second = await OutputLock.take(dir);
    expect(second.alone).toBe(false);
    await first.release();
    await second.release();
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it('clears the lock of a process that has ended, and is then alone', async () => {
    const dir = await folder('dead');
    const pid = spawnSync(process.execPath, ['-e', '0']).pid;
    const dead = await plant(dir, JSON.stringify({ host: os.hostname(), pid }));
    const lock = await OutputLock.take(dir);
    expect(lock.alone).toBe(true);
    expect(await exists(dead)).toBe(false);
    await lock.release();
  });

  it('counts as live what it cannot check: another computer, an unreadable young lock', async () => {
    for (const body of [JSON.stringify({ host: `not-${os.hostname()}`, pid: 1 }), '{half']) {
      const dir = await folder(`foreign-${body.length}`);
      const other = await plant(dir, body);
      const lock = await OutputLock.take(dir);
      expect(lock.alone, body).toBe(false);
      expect(await exists(other)).toBe(true);
      await lock.release();
    }
  });
});
