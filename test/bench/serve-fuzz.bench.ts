/**
 * Bench case `serve-fuzz`: the real `patchwork serve` command (its own process, a temporary
 * library and allowed folder, the built interface if there is one) under 10,000 random,
 * malformed HTTP requests and 500 WebSocket sessions of random frames (test/security/
 * serve-fuzz.ts; `--quick`: 2,000 and 100). Not a timing: it counts what came back — every
 * status, the 5xx that were not deliberate (must be 0: 501 is a feature the transport lacks,
 * 503 the interface not built), connections closed without an answer, requests never
 * answered, the server's own logged failures, whether it crashed (must be 0), whether it still
 * answers — and its resident memory as it goes (flat: nothing kept per request). The seed is
 * fixed (PATCHWORK_FUZZ_SEED sets another), so a finding can be replayed.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { fuzzServe, type FuzzTarget } from '../security/serve-fuzz';
import type { BenchArgs } from './index';
import { header, loadLine, machineLines, table } from './machine';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'fuzz-token-0123456789abcdefghijkl';

/** The resident memory of a process, in MiB (Linux /proc; null elsewhere). */
function rssMiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const mib = (v: number | null) => (v === null ? '–' : v.toFixed(1));

async function run(args: BenchArgs): Promise<void> {
  const requests = args.quick ? 2_000 : 10_000;
  const sessions = args.quick ? 100 : 500;
  const seed = Number(process.env.PATCHWORK_FUZZ_SEED ?? 19);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'pw-serve-fuzz-'));
  const work = path.join(tmp, 'work');
  const image = path.join(work, 'photo.png');
  await mkdir(work);
  await sharp({ create: { width: 640, height: 480, channels: 3, background: '#336699' } })
    .png()
    .toFile(image);

  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'main/cli/bin.ts',
      'serve',
      '--port',
      '0',
      '--token',
      TOKEN,
      '--library',
      path.join(tmp, 'library'),
      '--allow',
      work,
    ],
    { cwd: REPO, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  let exited: string | null = null;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.on('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
  const port = await new Promise<number>((resolve, reject) => {
    const look = () => {
      const m = /open http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) resolve(Number(m[1]));
      else if (exited) reject(new Error(`serve did not start (${exited}):\n${out}${err}`));
      else setTimeout(look, 100);
    };
    look();
  });
  const pid = child.pid!;
  const target: FuzzTarget = { port, token: TOKEN, image, work };

  console.log(
    header('serve fuzz: random malformed requests and WebSocket frames', [
      ...machineLines(),
      ['server', `patchwork serve (pid ${pid}), library and allowed folder in ${tmp}`],
      ['plan', `${requests} requests (8 at a time), ${sessions} WebSocket sessions, seed ${seed}`],
    ]),
  );
  const samples: string[][] = [['0', mib(rssMiB(pid)), '0', loadLine()]];
  const started = Date.now();
  const report = await fuzzServe(target, {
    seed,
    requests,
    sessions,
    framesPerSession: 20,
    concurrency: 8,
    every: 1000,
    onProgress: (done) => {
      samples.push([
        String(done),
        mib(rssMiB(pid)),
        ((Date.now() - started) / 1000).toFixed(0),
        loadLine(),
      ]);
      process.stderr.write(`serve-fuzz: ${done}/${requests} requests\n`);
    },
  });
  const rssEnd = rssMiB(pid);
  samples.push([
    'end (after sockets)',
    mib(rssEnd),
    ((Date.now() - started) / 1000).toFixed(0),
    loadLine(),
  ]);
  const crashed = exited;
  child.kill('SIGTERM');
  await new Promise((resolve) =>
    child.exitCode !== null ? resolve(null) : child.once('exit', resolve),
  );
  await rm(tmp, { recursive: true, force: true });

  const logged = err.match(/error [0-9a-f]{8}:/g)?.length ?? 0;
  console.log('\nStatuses (0: closed without an answer)');
  console.log(
    table(
      ['status', 'count'],
      [...report.statuses].sort(([a], [b]) => a - b).map(([s, n]) => [String(s), String(n)]),
    ),
  );
  console.log('\nResident memory of the server as the requests went');
  console.log(table(['requests', 'RSS MiB', 'seconds', 'load'], samples));
  console.log(
    `\n${header('serve fuzz: findings', [
      ['requests sent', String(report.requests)],
      ['WebSocket handshakes', `${report.handshakes} (${report.socketsOpened} opened)`],
      ['WebSocket frames sent', String(report.frames)],
      ['crashes', crashed ? `1 (${crashed})` : '0'],
      ['5xx (not deliberate)', String(report.serverErrors.length)],
      ['deliberate 501/503', String(report.deliberate5xx)],
      [
        'closed without answer',
        `${report.closedWithoutAnswer} (${[...report.closedKinds].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'})`,
      ],
      ['never answered', String(report.noAnswer.length)],
      ['failures logged by the server', String(logged)],
      ['health checks failed', String(report.healthFailures)],
      ['RSS start → end', `${samples[0][1]} → ${mib(rssEnd)} MiB`],
    ])}`,
  );
  for (const e of report.serverErrors.slice(0, 10)) {
    console.log(`  ${e.status} for ${e.sent}\n    ${e.answer.split('\r\n').at(-1)?.slice(0, 200)}`);
  }
  for (const e of report.noAnswer.slice(0, 10)) console.log(`  no answer: ${e.sent}`);
  if (logged)
    console.log(
      err
        .split('\n')
        .filter((l) => /error [0-9a-f]{8}:/.test(l))
        .slice(0, 5)
        .join('\n'),
    );
  const bad =
    crashed || report.serverErrors.length || report.noAnswer.length || report.healthFailures;
  if (bad) process.exitCode = 1;
}

export const serveFuzzCase = {
  summary: 'serve under 10,000 random malformed requests and WebSocket frames: 5xx, crashes, RSS',
  run,
};
