/**
 * The kill -9 soak (issue 19, "Prove it"): `patchwork train`, `convert` and `watch`, each run
 * as a real process, killed with SIGKILL at random moments and started again on the same
 * output folder until it finishes. Every finished round is then checked against a run of the
 * same work that nobody interrupted:
 *
 * - training: no step lost (a run resumes from the last checkpoint the killed one reported)
 *   and none repeated (each optimiser took exactly `iteration` steps), the same loss history,
 *   and the final checkpoint's tensors and the style's weights equal bit for bit;
 * - convert and watch: no input without its output (lost), no output image beyond one per
 *   input (duplicated), none that sharp cannot decode or whose pixels differ from the
 *   uninterrupted conversion (corrupt), and for watch no input converted by two runs;
 * - everywhere: no temporary left in the output folder once the work is done.
 *
 * All draws (kill moments, image sizes, arrival times) come from `--seed`, so a failing soak
 * can be replayed (the machine's speed still moves where a kill lands). Kills are drawn
 * uniformly over the length of an uninterrupted run, start-up included.
 *
 *   npm run bench -- kill-soak [--kills N] [--seed S]
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../../main/engine/backend';
import { saveTinyCutStyle } from '../support/tiny-cut-style';
import { header, loadLine, machineLines, table } from '../bench/machine';
import {
  decodePixels,
  isImageName,
  isLeftoverTemporary,
  listFiles,
  REPO,
  section,
  sleep,
  SoakRandom,
  startCli,
  temporariesCleaned,
  waitOrEnd,
  writeImage,
  type CliRun,
} from './soak-kit';

export interface KillSoakOptions {
  kills: number;
  seed: number;
  /** Keep the working folder (printed) instead of removing it. */
  keep?: boolean;
}

const TRAIN_ITERATIONS = 24;
const TRAIN_ARGS = [
  'train',
  '--source',
  path.join(REPO, 'resources/samples/source'),
  '--target',
  path.join(REPO, 'resources/samples/target'),
  '--preset',
  'cut',
  '--ngf',
  '8',
  '--ndf',
  '8',
  '--blocks',
  '1',
  '--crop-size',
  '64',
  '--load-size',
  '72',
  '--patches',
  '16',
  '--iterations',
  String(TRAIN_ITERATIONS),
  '--checkpoint-every',
  '1',
  '--preview-every',
  '0',
  '--seed',
  '11',
  '--backend',
  'wasm',
];
/** The line `patchwork train` prints once it has set up and starts (or resumes) its steps. */
const TRAIN_STARTED = /^cut: /m;
const CONVERT_FILES = 36;
const WATCH_FILES = 24;

/** What went wrong, counted; every count must end at 0. */
interface Counts {
  lostFiles: number;
  duplicatedOutputs: number;
  corruptOutputs: number;
  lostSteps: number;
  repeatedSteps: number;
  reconverted: number;
  leftoverTemporaries: number;
  weightMismatches: number;
  failedRuns: number;
}

interface JobReport {
  job: string;
  rounds: number;
  runs: number;
  kills: number;
  /** Temporaries of killed runs that the next run removed (evidence of kills mid-write). */
  cleaned: number;
  counts: Counts;
  notes: string[];
}

function zero(): Counts {
  return {
    lostFiles: 0,
    duplicatedOutputs: 0,
    corruptOutputs: 0,
    lostSteps: 0,
    repeatedSteps: 0,
    reconverted: 0,
    leftoverTemporaries: 0,
    weightMismatches: 0,
    failedRuns: 0,
  };
}

/**
 * How long an uninterrupted run took, and how much of that went before `working` was
 * printed (start-up: loading the engine, the style, a checkpoint).
 */
interface Window {
  working: RegExp;
  startupMs: number;
  totalMs: number;
}

async function measure(args: string[], working: RegExp): Promise<Window & { run: CliRun }> {
  const t0 = Date.now();
  const cli = startCli(args);
  await cli.printed(working);
  const startupMs = Date.now() - t0;
  const run = await cli.done;
  // A pattern the command never prints would make every "working part" kill a start-up kill
  // (and, for watch, wait for ever): refuse to soak blind.
  if (!working.test(run.output)) {
    throw new Error(`the soak cannot find ${working} in the command's output:\n${run.output}`);
  }
  return { working, startupMs, totalMs: Date.now() - t0, run };
}

/**
 * Runs `args(attempt)` until a run ends by itself, killing each while kills remain for this
 * round: half the time at a moment drawn uniformly over a whole uninterrupted run, start-up
 * included, half the time over its working part only (once `working` is printed), so that
 * enough kills land while files and checkpoints are being written. Returns every run.
 */
async function untilFinished(
  rnd: SoakRandom,
  killsLeft: () => number,
  window: Window,
  args: (attempt: number) => string[],
  onKill: () => void,
): Promise<CliRun[]> {
  const runs: CliRun[] = [];
  for (let attempt = 0; ; attempt++) {
    const run = startCli(args(attempt));
    if (killsLeft() <= 0) {
      runs.push(await run.done);
      return runs;
    }
    const whole = rnd.chance(0.5);
    const workMs = Math.max(1, window.totalMs - window.startupMs) * 1.1;
    const killAt = whole ? rnd.uniform(0, window.totalMs * 1.1) : rnd.uniform(0, workMs);
    if (!whole) await run.printed(window.working);
    if (await waitOrEnd(killAt, run)) {
      const result = await run.kill();
      runs.push(result);
      if (result.killed) onKill();
      if (!result.killed) return runs;
      continue;
    }
    runs.push(await run.done);
    return runs;
  }
}

function seconds(w: Window): string {
  return `${(w.totalMs / 1000).toFixed(1)} s (start-up ${(w.startupMs / 1000).toFixed(1)} s)`;
}

// ─── training ────────────────────────────────────────────────────────────────────────────

interface Checkpointed {
  iteration: number;
  optimizers: Record<string, { step: number }>;
  lossIterations: number[];
  losses: string;
  tensors: Buffer;
}

async function readFinalCheckpoint(out: string): Promise<Checkpointed> {
  const dir = path.join(out, 'checkpoints');
  const pointer = JSON.parse(await fs.readFile(path.join(dir, 'latest.json'), 'utf8')) as {
    checkpoint: string;
  };
  const at = path.join(dir, pointer.checkpoint);
  const m = JSON.parse(await fs.readFile(path.join(at, 'manifest.json'), 'utf8')) as {
    iteration: number;
    optimizers: Record<string, { step: number }>;
    state: { lossHistory: { iteration: number }[] };
  };
  return {
    iteration: m.iteration,
    optimizers: m.optimizers,
    lossIterations: m.state.lossHistory.map((l) => l.iteration),
    losses: JSON.stringify(m.state.lossHistory),
    tensors: await fs.readFile(path.join(at, 'tensors.bin')),
  };
}

function lastCheckpointReported(output: string): number {
  let last = 0;
  for (const m of output.matchAll(/^checkpoint at step (\d+):/gm)) last = Number(m[1]);
  return last;
}

/**
 * The step a run said it starts from: null when it was killed before saying so (during
 * start-up), 0 when it said it starts afresh.
 */
function resumedFrom(output: string): number | null {
  if (!TRAIN_STARTED.test(output)) return null;
  const m = /resuming at step (\d+)/.exec(output);
  return m ? Number(m[1]) : 0;
}

async function trainSoak(root: string, rnd: SoakRandom, quota: number): Promise<JobReport> {
  const report: JobReport = {
    job: 'train',
    rounds: 0,
    runs: 0,
    kills: 0,
    cleaned: 0,
    counts: zero(),
    notes: [],
  };
  const baseOut = path.join(root, 'train-uninterrupted');
  const window = await measure([...TRAIN_ARGS, '--out', baseOut], TRAIN_STARTED);
  const base = window.run;
  if (base.code !== 0) throw new Error(`the uninterrupted training failed:\n${base.stderr}`);
  if (lastCheckpointReported(base.output) !== TRAIN_ITERATIONS) {
    throw new Error(`the soak cannot read the checkpoints the command reports:\n${base.output}`);
  }
  const want = await readFinalCheckpoint(baseOut);
  const wantStyle = await fs.readFile(path.join(baseOut, 'style', 'generator.bin'));
  report.notes.push(`uninterrupted run: ${seconds(window)}`);

  while (report.kills < quota) {
    const out = path.join(root, `train-${report.rounds}`);
    report.rounds += 1;
    console.error(`  ${report.job} round ${report.rounds}: ${report.kills} kills so far`);
    let reported = 0;
    const runs = await untilFinished(
      rnd,
      () => quota - report.kills,
      window,
      () => [...TRAIN_ARGS, '--out', out, '--resume'],
      () => (report.kills += 1),
    );
    for (const run of runs) {
      report.runs += 1;
      // A step reported as checkpointed must never have to be done again by the next run.
      const from = resumedFrom(run.output);
      if (from !== null && from < reported) {
        report.counts.lostSteps += reported - from;
        report.notes.push(
          `round ${report.rounds}: step ${reported} was reported saved, resumed at ${from}`,
        );
      }
      reported = Math.max(from ?? 0, reported, lastCheckpointReported(run.output));
      if (!run.killed && run.code !== 0) {
        report.counts.failedRuns += 1;
        report.notes.push(`round ${report.rounds}: exit ${run.code}: ${run.stderr.trim()}`);
      }
    }
    const got = await readFinalCheckpoint(out).catch(() => null);
    if (!got) {
      report.counts.lostSteps += TRAIN_ITERATIONS;
      continue;
    }
    if (got.iteration < TRAIN_ITERATIONS)
      report.counts.lostSteps += TRAIN_ITERATIONS - got.iteration;
    for (const [net, { step }] of Object.entries(got.optimizers)) {
      if (step > got.iteration) report.counts.repeatedSteps += step - got.iteration;
      if (step < got.iteration) report.counts.lostSteps += got.iteration - step;
      if (step !== want.optimizers[net]?.step) report.notes.push(`${net} optimiser at ${step}`);
    }
    if (got.losses !== want.losses) {
      report.counts.weightMismatches += 1;
      report.notes.push(
        `round ${report.rounds}: loss history differs (${got.lossIterations.join(',')} vs ${want.lossIterations.join(',')})`,
      );
    }
    if (!got.tensors.equals(want.tensors)) report.counts.weightMismatches += 1;
    const style = await fs.readFile(path.join(out, 'style', 'generator.bin')).catch(() => null);
    if (!style?.equals(wantStyle)) report.counts.weightMismatches += 1;
    report.counts.leftoverTemporaries += (await listFiles(out)).filter(isLeftoverTemporary).length;
  }
  return report;
}

// ─── convert ─────────────────────────────────────────────────────────────────────────────

async function makeInputs(dir: string, n: number, rnd: SoakRandom, prefix: string) {
  await fs.mkdir(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}${String(i).padStart(3, '0')}.${rnd.chance(0.5) ? 'png' : 'jpg'}`;
    await writeImage(path.join(dir, name), 24 + rnd.int(90), 24 + rnd.int(90), rnd.int(1e6));
    names.push(name);
  }
  return names;
}

/** Lost, duplicated and corrupt outputs of `out` against the uninterrupted `reference`. */
async function compareOutputs(out: string, reference: string, counts: Counts): Promise<void> {
  const want = (await listFiles(reference)).filter(isImageName);
  const got = (await listFiles(out)).filter(isImageName);
  const gotSet = new Set(got);
  const lost = want.filter((f) => !gotSet.has(f)).length;
  counts.lostFiles += lost;
  counts.duplicatedOutputs += Math.max(0, got.length - (want.length - lost));
  for (const f of want) {
    if (!gotSet.has(f)) continue;
    const [a, b] = await Promise.all([
      decodePixels(path.join(out, f)),
      decodePixels(path.join(reference, f)),
    ]);
    if (!a || !b || !a.equals(b)) counts.corruptOutputs += 1;
  }
  counts.leftoverTemporaries += (await listFiles(out)).filter(isLeftoverTemporary).length;
}

async function convertSoak(
  root: string,
  style: string,
  rnd: SoakRandom,
  quota: number,
): Promise<{ report: JobReport; input: string; reference: string }> {
  const report: JobReport = {
    job: 'convert',
    rounds: 0,
    runs: 0,
    kills: 0,
    cleaned: 0,
    counts: zero(),
    notes: [],
  };
  const input = path.join(root, 'convert-in');
  await makeInputs(input, CONVERT_FILES, rnd, 'img');
  const reference = path.join(root, 'convert-uninterrupted');
  const args = (out: string) => ['convert', '--style', style, '--input', input, '--output', out];
  const window = await measure([...args(reference), '--backend', 'wasm'], /^style: /m);
  const base = window.run;
  if (base.code !== 0) throw new Error(`the uninterrupted conversion failed:\n${base.output}`);
  report.notes.push(`uninterrupted run: ${seconds(window)}, ${CONVERT_FILES} files`);
  while (report.kills < quota) {
    const out = path.join(root, `convert-${report.rounds}`);
    report.rounds += 1;
    console.error(`  ${report.job} round ${report.rounds}: ${report.kills} kills so far`);
    const runs = await untilFinished(
      rnd,
      () => quota - report.kills,
      window,
      () => [...args(out), '--backend', 'wasm'],
      () => (report.kills += 1),
    );
    for (const run of runs) {
      report.runs += 1;
      report.cleaned += temporariesCleaned(run.output);
      if (!run.killed && run.code !== 0) {
        report.counts.failedRuns += 1;
        report.notes.push(`round ${report.rounds}: exit ${run.code}: ${run.output.slice(-400)}`);
      }
    }
    await compareOutputs(out, reference, report.counts);
  }
  return { report, input, reference };
}

// ─── watch ───────────────────────────────────────────────────────────────────────────────

/**
 * One round: WATCH_FILES copies of the convert inputs arrive one by one (some written slowly,
 * in chunks) while watch processes are killed and restarted; then one last run is left to
 * convert everything and stopped with Ctrl-C.
 */
async function watchRound(
  root: string,
  style: string,
  rnd: SoakRandom,
  source: { input: string; reference: string },
  round: number,
  killsLeft: () => number,
  onKill: () => void,
  report: JobReport,
): Promise<void> {
  const input = path.join(root, `watch-in-${round}`);
  const out = path.join(root, `watch-out-${round}`);
  await fs.mkdir(input, { recursive: true });
  const names = rnd.shuffle((await fs.readdir(source.input)).sort()).slice(0, WATCH_FILES);
  const args = [
    'watch',
    ...['--style', style, '--input', input, '--output', out],
    ...['--stable-ms', '400', '--backend', 'wasm'],
  ];
  let feeding = true;
  const feed = (async () => {
    for (const name of names) {
      const bytes = await fs.readFile(path.join(source.input, name));
      const target = path.join(input, name);
      if (rnd.chance(0.3)) {
        // Written slowly: a partial file sits there for a while.
        const fh = await fs.open(target, 'w');
        const step = Math.ceil(bytes.length / 4);
        for (let at = 0; at < bytes.length; at += step) {
          await fh.write(bytes.subarray(at, at + step));
          await sleep(rnd.uniform(50, 250));
        }
        await fh.close();
      } else {
        await fs.writeFile(target, bytes);
      }
      await sleep(rnd.uniform(0, 500));
    }
    feeding = false;
  })();
  const converted = new Map<string, number>();
  const count = (run: CliRun) => {
    report.runs += 1;
    report.cleaned += temporariesCleaned(run.output);
    for (const m of run.output.matchAll(/^converted (\S+) →/gm)) {
      converted.set(m[1], (converted.get(m[1]) ?? 0) + 1);
    }
    if (run.hung) {
      report.counts.failedRuns += 1;
      report.notes.push(`watch round ${round}: ignored Ctrl-C for 60 s: ${run.output.slice(-400)}`);
    } else if (!run.killed && run.code !== 0) {
      report.counts.failedRuns += 1;
      const how = run.code ?? run.signal;
      report.notes.push(`watch round ${round}: exit ${how}: ${run.output.slice(-400)}`);
    }
  };
  // Killed runs while the files arrive (and after, while kills remain for this round): half
  // at a moment drawn from its start, half once it is watching.
  while (killsLeft() > 0 && (feeding || rnd.chance(0.5))) {
    const run = startCli(args);
    const whole = rnd.chance(0.5);
    const killAt = whole ? rnd.uniform(0, 8000) : rnd.uniform(0, 3000);
    if (!whole) await run.printed(/^watching /m);
    await waitOrEnd(killAt, run);
    const result = await run.kill();
    if (result.killed) onKill();
    count(result);
  }
  await feed;
  // The last run: until every input has an output on record, then Ctrl-C.
  const last = startCli(args);
  // Once it is watching: a Ctrl-C during start-up ends a run before it has cleaned up or
  // looked at anything, which would test nothing.
  await last.printed(/^watching /m);
  const deadline = Date.now() + 300_000;
  const manifest = path.join(out, '.patchwork-convert.json');
  for (;;) {
    const recorded = await fs
      .readFile(manifest, 'utf8')
      .then((t) => Object.keys((JSON.parse(t) as { outputs: object }).outputs).length)
      .catch(() => 0);
    const pending = await fs
      .readFile(path.join(out, '.patchwork-watch.json'), 'utf8')
      .then((t) => (JSON.parse(t) as { pending: unknown[] }).pending.length)
      .catch(() => 0);
    if ((recorded >= names.length && pending === 0) || Date.now() > deadline) break;
    if (!(await waitOrEnd(500, last))) break;
  }
  await sleep(1000);
  console.error(
    `  watch round ${round + 1}: ${names.length} files fed, last run stopped with Ctrl-C`,
  );
  count(await last.interrupt());
  if (converted.size === 0) {
    throw new Error(`watch round ${round}: no "converted" line seen in any run's output`);
  }
  for (const [, n] of converted) if (n > 1) report.counts.reconverted += n - 1;
  // The reference holds every convert input's output; compare only those that were fed.
  const refDir = path.join(root, `watch-reference-${round}`);
  await fs.mkdir(refDir, { recursive: true });
  for (const f of (await listFiles(source.reference)).filter(isImageName)) {
    if (names.includes(f)) await fs.copyFile(path.join(source.reference, f), path.join(refDir, f));
  }
  await compareOutputs(out, refDir, report.counts);
}

async function watchSoak(
  root: string,
  style: string,
  rnd: SoakRandom,
  quota: number,
  source: { input: string; reference: string },
): Promise<JobReport> {
  const report: JobReport = {
    job: 'watch',
    rounds: 0,
    runs: 0,
    kills: 0,
    cleaned: 0,
    counts: zero(),
    notes: [],
  };
  while (report.kills < quota) {
    const round = report.rounds;
    report.rounds += 1;
    console.error(`  ${report.job} round ${report.rounds}: ${report.kills} kills so far`);
    const before = report.kills;
    await watchRound(
      root,
      style,
      rnd,
      source,
      round,
      () => Math.min(quota - report.kills, 12 - (report.kills - before)),
      () => (report.kills += 1),
      report,
    );
  }
  return report;
}

// ─── the soak ────────────────────────────────────────────────────────────────────────────

export async function runKillSoak({
  kills,
  seed,
  keep = false,
}: KillSoakOptions): Promise<boolean> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'patchwork-kill-soak-'));
  const rnd = new SoakRandom(seed);
  const started = Date.now();
  console.log(
    header('kill -9 soak: train, convert and watch killed at random and resumed', [
      ...machineLines(),
      ['seed', String(seed)],
      ['kills asked', String(kills)],
      [
        'train',
        `cut ngf 8 ndf 8, 1 block, 64² crops, ${TRAIN_ITERATIONS} steps, checkpoint every step, wasm`,
      ],
      ['convert', `${CONVERT_FILES} small PNG/JPEG files, a tiny untrained FastCUT style`],
      ['watch', `${WATCH_FILES} files arriving per round (30% written slowly), --stable-ms 400`],
      ['folder', root],
    ]),
  );
  const style = path.join(root, 'style');
  await initBackend('wasm');
  await saveTinyCutStyle(style, { ngf: 4, nBlocks: 1, seed: 7 });
  const trainQuota = Math.ceil(kills * 0.4);
  const convertQuota = Math.ceil(kills * 0.3);
  const watchQuota = Math.max(0, kills - trainQuota - convertQuota);
  const reports: JobReport[] = [];
  try {
    console.error('training…');
    reports.push(await trainSoak(root, rnd, trainQuota));
    console.error('converting…');
    const c = await convertSoak(root, style, rnd, convertQuota);
    reports.push(c.report);
    console.error('watching…');
    reports.push(await watchSoak(root, style, rnd, watchQuota, c));
  } finally {
    if (!keep) await fs.rm(root, { recursive: true, force: true });
  }
  const keys = Object.keys(zero()) as (keyof Counts)[];
  const total = zero();
  for (const r of reports) for (const k of keys) total[k] += r.counts[k];
  console.log(section('runs'));
  console.log(
    table(
      ['job', 'rounds', 'runs', 'kills', 'temporaries cleaned on restart'],
      reports.map((r) => [
        r.job,
        String(r.rounds),
        String(r.runs),
        String(r.kills),
        r.job === 'train' ? '-' : String(r.cleaned),
      ]),
    ),
  );
  console.log(section('counts (all must be 0)'));
  console.log(
    table(
      ['count', ...reports.map((r) => r.job), 'total'],
      keys.map((k) => [k, ...reports.map((r) => String(r.counts[k])), String(total[k])]),
    ),
  );
  const allKills = reports.reduce((s, r) => s + r.kills, 0);
  console.log(section('notes'));
  for (const r of reports) for (const n of r.notes) console.log(`${r.job}: ${n}`);
  const ok = keys.every((k) => total[k] === 0) && allKills >= kills;
  console.log(
    `\n${allKills} kills in ${((Date.now() - started) / 1000).toFixed(0)} s; load now ${loadLine()}`,
  );
  console.log(ok ? 'RESULT: pass (every count 0)' : 'RESULT: FAIL');
  return ok;
}
