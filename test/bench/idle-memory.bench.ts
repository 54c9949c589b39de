/**
 * Bench case `idle-memory`: what an idle studio holds. It opens the studio as `patchwork serve`
 * does (in this process; the engine processes are its children), uses every kind of engine
 * process once — a training job and a conversion in the job engine, a step measurement in the
 * short-job engine, a heatmap in the heatmap engine, a watched folder in its own, and the
 * backend probe — and measures the resident set (RSS) of each engine process as its work ends,
 * and of every process once the idle time has passed. Before engine processes closed when
 * idle, each stayed with what it held after its work: the first sum is what the studio held
 * idle then (per role the largest process, should a role's process have been replaced during
 * the run), the second what it holds now.
 *
 * The idle time is PATCHWORK_ENGINE_IDLE_SECONDS (30 s here unless set; the studio's default
 * is 60 s, 10 min for the heatmap engine). The style is small (ngf 16, 2 blocks) and the
 * conversion a 2048×1536 upscale of a sample (tiled, within the default 1 GiB budget), so the
 * job engine's heap grows as a real conversion's does; `--quick` converts a sample as it is.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { Reply, StudioEvent, TrainStartInput } from '../../shared/ipc';
import type { JobSnapshot } from '../../shared/ipc-jobs';
import { SAMPLES_DIR, serveStudio } from '../../main/serve/index';
import type { BenchArgs } from './index';
import { header, loadLine, machineLines, table } from './machine';

const MiB = 1024;

interface Proc {
  pid: number;
  ppid: number;
  rssKiB: number;
  args: string;
}

/** Every process's id, parent, resident set and command (ps: Linux and macOS alike). */
function processes(): Proc[] {
  const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,rss=,args='], { encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ pid: +m[1], ppid: +m[2], rssKiB: +m[3], args: m[4] }));
}

/** This process's engine processes (not, say, tsx's esbuild service). */
function engines(): Proc[] {
  return processes().filter((p) => p.ppid === process.pid && /engine-worker/.test(p.args));
}

function ownRss(): number {
  return processes().find((p) => p.pid === process.pid)?.rssKiB ?? 0;
}

const mib = (kib: number) => (kib / MiB).toFixed(0);

export const idleMemoryCase = {
  summary: 'RSS of the studio and its engine processes after use, and once they were idle',
  async run(args: BenchArgs): Promise<void> {
    process.env.PATCHWORK_ENGINE_IDLE_SECONDS ??= '30';
    const idleS = Number(process.env.PATCHWORK_ENGINE_IDLE_SECONDS);
    const library = await mkdtemp(path.join(os.tmpdir(), 'pw-idle-lib-'));
    const work = await mkdtemp(path.join(os.tmpdir(), 'pw-idle-work-'));
    const served = await serveStudio({
      libraryDir: library,
      allowedRoots: [work],
      rendererDir: null,
    });
    const studio = served.studio;
    const events: StudioEvent[] = [];
    studio.subscribe((e) => events.push(e));
    /** Each engine process seen: the work it first appeared for, and its largest RSS seen. */
    const seen = new Map<number, { role: string; rssKiB: number }>();
    const step = async (role: string, work: () => Promise<unknown>) => {
      await work();
      for (const p of engines()) {
        const s = seen.get(p.pid) ?? { role, rssKiB: 0 };
        seen.set(p.pid, { role: s.role, rssKiB: Math.max(s.rssKiB, p.rssKiB) });
      }
    };
    const ask = async <T>(channel: string, input: unknown): Promise<T> => {
      const reply = (await studio.handle({ channel, input })) as Reply<T>;
      if (!reply.ok) throw new Error(`${channel}: ${reply.error.code}: ${reply.error.message}`);
      return reply.value;
    };
    const finished = async (id: string) => {
      for (;;) {
        const j = events.find(
          (e): e is Extract<StudioEvent, { type: 'job' }> =>
            e.type === 'job' && e.job.id === id && ['completed', 'failed'].includes(e.job.status),
        );
        if (j) {
          if (j.job.status !== 'completed') throw new Error(`job ${id}: ${j.job.error?.message}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    try {
      const log = (line: string) => process.stderr.write(`idle-memory: ${line}\n`);
      const options = { ngf: 16, ndf: 16, nBlocks: 2, loadSize: 72, cropSize: 64, numPatches: 64 };
      const train: TrainStartInput = {
        name: 'Idle style',
        source: path.join(SAMPLES_DIR, 'source'),
        target: path.join(SAMPLES_DIR, 'target'),
        preset: 'fastcut',
        options,
        iterations: 4,
        backend: 'wasm',
        previewEvery: 0,
      };
      log('training a small style');
      await step('job engine', async () => {
        const trained = await ask<{ job: JobSnapshot }>('train:start', train);
        await finished(trained.job.id);
      });
      const styleId = 'idle-style';

      const sample = path.join(
        SAMPLES_DIR,
        'held-out',
        (await readdir(path.join(SAMPLES_DIR, 'held-out')))[0],
      );
      const input = path.join(work, 'in');
      await mkdir(input);
      const big = path.join(input, 'big.png');
      if (args.quick) await sharp(sample).png().toFile(big);
      else await sharp(sample).resize(2048, 1536, { fit: 'fill' }).png().toFile(big);
      log(`converting ${args.quick ? 'a sample' : 'a 2048×1536 image'}`);
      await step('job engine', async () => {
        const conv = await ask<{ job: JobSnapshot }>('convert:start', {
          styleId,
          input: big,
          output: path.join(work, 'out'),
          format: 'png',
        });
        await finished(conv.job.id);
      });

      log('a step measurement (the short-job engine)');
      await step('short-job engine', () =>
        ask('train:estimate', { preset: 'fastcut', options, backend: 'wasm', remeasure: true }),
      );

      log('a heatmap');
      await step('heatmap engine', () => ask('heatmap:open', { styleId, image: sample }));

      log('a watched folder');
      const drop = path.join(work, 'drop');
      await mkdir(drop);
      await step('watch engine (watching)', async () => {
        await ask('watch:start', {
          styleId,
          input: drop,
          output: path.join(work, 'watched'),
          format: 'png',
        });
        const watching = () =>
          events.some((e) => e.type === 'watch' && e.watch.state === 'watching');
        for (let i = 0; i < 1200 && !watching(); i++) await new Promise((r) => setTimeout(r, 100));
      });

      log('the backend probe');
      await step('probe (closed once it answered, as before)', () =>
        ask('settings:detect', { refresh: true }),
      );

      const serverBefore = ownRss();
      log(`waiting ${idleS + 5} s, past the idle time`);
      await new Promise((r) => setTimeout(r, (idleS + 5) * 1000));
      const alive = engines();
      const rows = [...seen].map(([pid, s]) => {
        const now = alive.find((p) => p.pid === pid);
        return [s.role, String(pid), mib(s.rssKiB), now ? mib(now.rssKiB) : 'exited'];
      });
      // Before: every role's process stayed (the probe's never did), the largest if replaced.
      const largest = new Map<string, number>();
      for (const s of seen.values()) {
        if (s.role.startsWith('probe')) continue;
        largest.set(s.role, Math.max(largest.get(s.role) ?? 0, s.rssKiB));
      }
      const before = serverBefore + [...largest.values()].reduce((a, b) => a + b, 0);
      const serverAfter = ownRss();
      const after = serverAfter + alive.reduce((a, p) => a + p.rssKiB, 0);

      console.log(
        header('idle-memory: what an idle studio holds', [
          ...machineLines(),
          ['idle time', `${idleS} s (PATCHWORK_ENGINE_IDLE_SECONDS)`],
          ['style', 'FastCUT, ngf 16, 2 blocks, wasm'],
          ['conversion', args.quick ? 'a sample image' : '2048×1536, tiled, 1 GiB budget'],
        ]),
      );
      console.log(
        table(
          ['process', 'pid', 'RSS after its work (MiB)', 'RSS once idle (MiB)'],
          [
            ['server (this process)', String(process.pid), mib(serverBefore), mib(serverAfter)],
            ...rows,
          ],
        ),
      );
      console.log(
        `idle studio: ${mib(before)} MiB when every engine process stayed (before), ` +
          `${mib(after)} MiB now`,
      );
      console.log(`load at the end: ${loadLine()}`);
    } finally {
      await served.close();
      await rm(library, { recursive: true, force: true });
      await rm(work, { recursive: true, force: true });
    }
  },
};
