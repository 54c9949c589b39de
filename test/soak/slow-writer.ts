/**
 * The watch soak's writer, in a process of its own so that a busy watcher (translating in the
 * soak's process) never stalls a write half-way and turns "written slowly" into "stopped
 * writing". Reads a JSON list of writes from argv[2]; each copies `from` to `to` after
 * `startMs`, in `chunks` pieces with `pauseMs` between them (1 chunk: one plain write). Prints
 * one JSON line at the end: the writes done and the longest pause actually observed between
 * two chunks of one file, which says whether the machine kept the writer to its schedule.
 */
import { promises as fs } from 'node:fs';

export interface SlowWrite {
  from: string;
  to: string;
  startMs: number;
  chunks: number;
  pauseMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function write(w: SlowWrite, gaps: number[]): Promise<void> {
  await sleep(w.startMs);
  const bytes = await fs.readFile(w.from);
  if (w.chunks <= 1) {
    await fs.writeFile(w.to, bytes);
    return;
  }
  const fh = await fs.open(w.to, 'w');
  try {
    const size = Math.ceil(bytes.length / w.chunks);
    let last = performance.now();
    for (let at = 0; at < bytes.length; at += size) {
      await fh.write(bytes.subarray(at, at + size));
      const now = performance.now();
      gaps.push(now - last);
      last = now;
      if (at + size < bytes.length) await sleep(w.pauseMs);
    }
  } finally {
    await fh.close();
  }
}

async function main(): Promise<void> {
  const writes = JSON.parse(await fs.readFile(process.argv[2], 'utf8')) as SlowWrite[];
  const gaps: number[] = [];
  // At most 64 files open at once.
  const queue = [...writes];
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let w = queue.shift(); w; w = queue.shift()) await write(w, gaps);
    }),
  );
  process.stdout.write(
    `${JSON.stringify({ written: writes.length, maxGapMs: Math.max(0, ...gaps) })}\n`,
  );
}

void main();
