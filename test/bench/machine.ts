/**
 * What a benchmark runs on, and the pieces every case uses the same way: the header
 * (machine, backend, configuration), figure tables and summary statistics, the load other
 * processes put on the machine meanwhile, and measurements run in their own process. Timings
 * mean little without the machine and its load beside them.
 */
import { MAX_THREADS } from '../../shared/threads';
import { physicalCores } from '../../main/engine/threads/cores';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  os: string;
  node: string;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() || 'unknown CPU',
    cores: os.availableParallelism(),
    ramGiB: os.totalmem() / 2 ** 30,
    os: `${distribution() ?? os.type()} (${os.platform()} ${os.release()}, ${os.arch()})`,
    node: process.version,
  };
}

/** PRETTY_NAME from /etc/os-release on Linux; null elsewhere. */
function distribution(): string | null {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

/** "1.68 1.83 1.88 (1/5/15 min)": another process sharing the cores skews every figure. */
export function loadLine(): string {
  const [one, five, fifteen] = os.loadavg().map((v) => v.toFixed(2));
  return `${one} ${five} ${fifteen} (1/5/15 min)`;
}

/** True when the 1-minute load says something else is using a good part of the machine. */
export function loadLooksBusy(ownThreads = 1): boolean {
  return os.loadavg()[0] > ownThreads + 0.5;
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export function machineLines(m: Machine = describeMachine()): [string, string][] {
  return [
    ['machine', `${m.cpu}, ${m.cores} cores, ${m.ramGiB.toFixed(1)} GiB RAM`],
    ['os', m.os],
    ['node', m.node],
    ['load', loadLine()],
  ];
}

/** A titled block of aligned "label: value" lines. */
export function header(title: string, lines: [string, string][]): string {
  const width = Math.max(...lines.map(([label]) => label.length));
  const rule = '='.repeat(Math.max(title.length, 60));
  return [rule, title, rule, ...lines.map(([l, v]) => `${`${l}:`.padEnd(width + 2)}${v}`)].join(
    '\n',
  );
}

/** A plain-text table; columns of numbers (or dashes, or a failed/skipped/OOM marker) are
 * right-aligned. */
export function table(columns: string[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const numeric = columns.map((_, i) =>
    rows.every((r) => /^[-+≥]?[\d.,]+[×%]?$|^[–-]?$|^(failed|skipped|OOM)$/.test(r[i])),
  );
  const cell = (s: string, i: number) => (numeric[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (r: string[]) => r.map(cell).join('  ').trimEnd();
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Seconds with three significant digits: 0.0123, 1.23, 12.3, 123. */
export function seconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  if (s >= 100) return s.toFixed(0);
  return s.toPrecision(3);
}

// ---------------------------------------------------------------------------------------------
// Other processes' load, and measurements that run in their own process
// ---------------------------------------------------------------------------------------------

/** Busy CPU seconds of the whole machine since boot (Linux /proc/stat, USER_HZ 100). */
export function machineBusySeconds(): number | null {
  try {
    const first = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [user, nice, system, , , irq, softirq, steal] = first
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return null;
  }
}

export interface Watched<R> {
  result: R;
  wallS: number;
  /** Cores' worth of CPU that other processes used meanwhile; null where unknown. */
  otherLoad: number | null;
}

/**
 * Run `measure` and estimate everyone else's load: the machine's busy CPU time over the run
 * minus the measurement's own (`ownCpuS`, reported by the measured process), per wall second.
 */
export async function watched<R>(
  measure: () => Promise<R>,
  ownCpuS: (r: R) => number | null,
): Promise<Watched<R>> {
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  const result = await measure();
  const wallS = (performance.now() - t0) / 1000;
  const busy1 = machineBusySeconds();
  const own = ownCpuS(result);
  const otherLoad =
    busy0 === null || busy1 === null || own === null || wallS <= 0
      ? null
      : Math.max(0, (busy1 - busy0 - own) / wallS);
  return { result, wallS, otherLoad };
}

/** Other processes' load (in cores) above which a figure is suspect. */
export const DISTURBED = 0.3;

/**
 * Runs measurements when the machine is quiet: before each it waits (a little) for other
 * processes to go idle, and a measurement they disturbed is run once more, keeping the less
 * disturbed result. Waiting and re-runs share one time budget, so a machine that never goes
 * quiet costs a bounded amount of time; its figures then carry their `otherLoad`.
 */
export class QuietRunner {
  constructor(
    private budgetS: number,
    private readonly log: (line: string) => void,
  ) {}

  async run<R>(
    label: string,
    measure: () => Promise<R>,
    ownCpuS: (r: R) => number | null,
  ): Promise<Watched<R>> {
    await this.waitForQuiet(10);
    const first = await watched(measure, ownCpuS);
    const disturbed = (first.otherLoad ?? 0) > DISTURBED;
    if (!disturbed || ownCpuS(first.result) === null || first.wallS > this.budgetS) return first;
    this.log(`  ${label}: other processes used ${first.otherLoad?.toFixed(2)} cores; re-running`);
    await this.waitForQuiet(Math.min(60, this.budgetS - first.wallS));
    const again = await watched(measure, ownCpuS);
    this.budgetS -= again.wallS;
    return (again.otherLoad ?? Infinity) < (first.otherLoad ?? Infinity) ? again : first;
  }

  /** Wait until other processes use under DISTURBED cores for two seconds, at most `maxS`. */
  private async waitForQuiet(maxS: number): Promise<void> {
    let quiet = 0;
    for (let waited = 0; waited < Math.min(maxS, this.budgetS) && quiet < 2; waited++) {
      const b0 = machineBusySeconds();
      await new Promise((r) => setTimeout(r, 1000));
      const b1 = machineBusySeconds();
      if (b0 === null || b1 === null) return;
      this.budgetS -= 1;
      quiet = b1 - b0 < DISTURBED ? quiet + 1 : 0;
    }
  }
}

export interface ChildOutcome {
  /** The first IPC message the child sent, or null if it sent none. */
  message: unknown;
  /** "exit code 0", "signal SIGKILL" … */
  exit: string;
  /** The last lines the child wrote to stdout/stderr (kept only to explain failures). */
  outputTail: string;
}

/**
 * Run `modulePath args…` in a fresh Node process (with this process's loader flags, so
 * TypeScript works) and collect the message it sends back. A fresh process per measurement
 * gives each its own peak RSS and confines crashes and aborts to that measurement.
 */
export function runInChild(
  modulePath: string,
  args: string[],
  timeoutMs: number,
): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = fork(modulePath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let message: unknown = null;
    child.on('message', (m) => (message ??= m));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const exit = signal ? `signal ${signal}` : `exit code ${code}`;
      const outputTail = output.trim().split('\n').slice(-5).join('\n');
      resolve({ message, exit, outputTail });
    });
  });
}

/**
 * The thread counts a case measures the wasm engine and PyTorch at: those asked for
 * (`--threads 1,2`), else 1 and every physical core (at most MAX_THREADS).
 */
export function benchThreads(asked?: number[]): number[] {
  if (asked?.length) return asked;
  return [...new Set([1, Math.min(MAX_THREADS, physicalCores())])];
}

/** Speed-up of `n` threads over 1 and its efficiency (speed-up / n): "1.62× (81%)". */
export function scaling(oneThread: number, nThreads: number, n: number): string {
  if (!(oneThread > 0 && nThreads > 0) || n <= 1) return '–';
  const speedup = oneThread / nThreads;
  return `${speedup.toFixed(2)}× (${((100 * speedup) / n).toFixed(0)}%)`;
}
