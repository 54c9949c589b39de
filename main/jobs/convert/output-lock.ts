/**
 * Who is writing into an output folder, so the temporaries a killed job left there can go at
 * once instead of after a grace period.
 *
 * Each convert or watch job keeps a small hidden file, `.patchwork-job-<uuid>.lock` holding
 * `{ host, pid }`, in its output folder while it runs, and removes it when it ends. A job
 * killed outright (kill -9, a crash, a power cut) leaves its file behind, and with it any
 * temporary it was writing. When a job starts, the files of jobs no longer running on this
 * computer go; if no other job is left, every temporary of files/atomic-file in the folder is
 * a leftover, however young, and is removed. While another job may still be writing there
 * (its process is alive, or it runs on another computer that shares the folder, which this
 * one cannot ask), only temporaries past the grace period (STALE_TEMPORARY_MS) go. A process
 * id reused by an unrelated program only makes the clean-up wait for the grace period.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { STALE_TEMPORARY_MS, writeJsonAtomic } from '../../files/atomic-file';

const LOCK_NAME = /^\.patchwork-job-[0-9a-f-]{36}\.lock$/;

interface LockData {
  host: string;
  pid: number;
}

export class OutputLock {
  private constructor(
    readonly file: string,
    /** When the lock was taken, by the file system's clock (the lock file's mtime). */
    readonly takenMs: number,
    /** No other job was writing into the folder when this one took it. */
    readonly alone: boolean,
  ) {}

  /** Takes a lock in `outputRoot` (which must exist), clearing those of jobs that are gone. */
  static async take(outputRoot: string): Promise<OutputLock> {
    const file = path.join(outputRoot, `.patchwork-job-${randomUUID()}.lock`);
    const data: LockData = { host: os.hostname(), pid: process.pid };
    await writeJsonAtomic(file, data);
    const { mtimeMs } = await fs.stat(file);
    // Looked at once ours is there: of two jobs starting together, at least one sees the other.
    const alone = !(await othersRunning(outputRoot, path.basename(file)));
    return new OutputLock(file, mtimeMs, alone);
  }

  /** Removes the lock; a lock already gone (the folder was deleted) is no error. */
  async release(): Promise<void> {
    await fs.rm(this.file, { force: true }).catch(() => undefined);
  }
}

/** Whether a job other than ours may still be writing here; removes the locks of dead ones. */
async function othersRunning(outputRoot: string, own: string): Promise<boolean> {
  const names = await fs.readdir(outputRoot).catch(() => [] as string[]);
  let others = false;
  for (const name of names.filter((n) => n !== own && LOCK_NAME.test(n))) {
    const file = path.join(outputRoot, name);
    if (await isLive(file)) others = true;
    else await fs.rm(file, { force: true }).catch(() => undefined);
  }
  return others;
}

async function isLive(file: string): Promise<boolean> {
  const stat = await fs.lstat(file).catch(() => null);
  if (!stat?.isFile()) return false;
  let data: Partial<LockData> | null = null;
  try {
    data = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<LockData>;
  } catch {
    // Not ours to judge: count it as live until the grace period says otherwise.
  }
  if (typeof data?.host !== 'string' || !Number.isInteger(data.pid)) {
    return Date.now() - stat.mtimeMs < STALE_TEMPORARY_MS;
  }
  if (data.host !== os.hostname()) return true;
  return processRunning(data.pid as number);
}

function processRunning(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
