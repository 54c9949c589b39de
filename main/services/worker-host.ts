/**
 * The engine's process seen from the services (STYLE.md: "main routes, the worker is
 * disposable"): one process, one job at a time, started on demand. Every message it sends
 * is validated (shared/ipc-worker.ts). Cancel is graceful — the worker finishes the step,
 * writes a checkpoint and the style — with a deadline, after which the process is killed.
 * If the process dies mid-job, the job fails with the reason and the next job starts a
 * fresh process. How the process is made is injected: a Node child (worker-host-node.ts)
 * or Electron's utilityProcess (main/app), behind the same WorkerProcess shape.
 *
 * Memory: the wasm heap of an engine process only grows, so a process that has had no job
 * for `idleExitMs` is closed and the next job starts a fresh one, transparently to callers
 * (the job is sent at once; the process reads it once it has started). A job that runs —
 * a watched folder's included, which runs for as long as it watches — keeps its process.
 */
import {
  parseWorkerMessage,
  parseWorkerResult,
  type ToWorker,
  type WorkerJob,
  type WorkerJobEvent,
  type WorkerJobResult,
} from '../../shared/ipc-worker';

export type { WorkerJob };

export interface WorkerExit {
  code: number | null;
  signal: string | null;
}

export interface WorkerProcess {
  send(message: ToWorker): void;
  onMessage(listener: (raw: unknown) => void): void;
  onExit(listener: (exit: WorkerExit) => void): void;
  kill(): void;
}

export type SpawnWorker = () => WorkerProcess;

/** What a caller may ask of a host it has made for one use (a longer idle time, say). */
export type EngineHostOptions = Pick<WorkerHostOptions, 'idleExitMs'>;

/** A job that failed: the worker's own error, or the process dying under it. */
export class WorkerJobError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
    readonly crashed = false,
  ) {
    super(message);
    this.name = 'WorkerJobError';
  }
}

export interface WorkerHostOptions {
  /** How long a cancelled job may take to checkpoint and stop before the process is killed. */
  cancelGraceMs?: number;
  /** Malformed messages and other things worth a log line. */
  log?: (line: string) => void;
  /**
   * Closes the process after this long without a job (ms); the next job starts a fresh one.
   * Default: engineIdleExitMs() (60 s, or PATCHWORK_ENGINE_IDLE_SECONDS). null: never.
   */
  idleExitMs?: number | null;
  /** The idle timer's clock (tests drive it by hand). */
  clock?: IdleClock;
}

/** Timers as the host uses them: one pending idle timer at a time. */
export interface IdleClock {
  setTimeout(fire: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_CLOCK: IdleClock = {
  setTimeout: (fire, ms) => setTimeout(fire, ms).unref(), // an idle timer never keeps Node up
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export const DEFAULT_ENGINE_IDLE_MS = 60_000;

/**
 * How long an engine process may sit without a job before it is closed: the environment's
 * PATCHWORK_ENGINE_IDLE_SECONDS (0: never), else `fallback`. A value that is not a number of
 * seconds ≥ 0 is an error that names it.
 */
export function engineIdleExitMs(
  env: NodeJS.ProcessEnv = process.env,
  fallback: number | null = DEFAULT_ENGINE_IDLE_MS,
): number | null {
  const raw = env.PATCHWORK_ENGINE_IDLE_SECONDS;
  if (raw === undefined || raw.trim() === '') return fallback;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new RangeError(
      `PATCHWORK_ENGINE_IDLE_SECONDS must be a number of seconds (0: never close), not "${raw}"`,
    );
  }
  return seconds === 0 ? null : Math.round(seconds * 1000);
}

interface Running {
  job: WorkerJob;
  onEvent: (event: WorkerJobEvent) => void;
  /** Settles with the job's result, read as its kind's (a result of another kind fails it). */
  resolve: (raw: unknown) => void;
  reject: (err: Error) => void;
  cancelTimer: NodeJS.Timeout | null;
  cancelled: boolean;
}

export class WorkerHost {
  private proc: WorkerProcess | null = null;
  private running: Running | null = null;
  private readonly graceMs: number;
  private readonly log: (line: string) => void;
  private readonly idleMs: number | null;
  private readonly clock: IdleClock;
  private idleTimer: unknown = null;
  /** Processes started so far (a restart after a crash or an idle exit counts). */
  starts = 0;
  /** Processes closed for having had nothing to do. */
  idleExits = 0;
  /** The engine process's id, once it said it is ready (null while none runs). */
  pid: number | null = null;

  constructor(
    private readonly spawn: SpawnWorker,
    opts: WorkerHostOptions = {},
  ) {
    this.graceMs = opts.cancelGraceMs ?? 60_000;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.idleMs = opts.idleExitMs !== undefined ? opts.idleExitMs : engineIdleExitMs();
    this.clock = opts.clock ?? REAL_CLOCK;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /**
   * Runs a job to its end, answering its kind's result; rejects with WorkerJobError when it
   * fails or the process dies.
   */
  run<J extends WorkerJob>(
    job: J,
    onEvent: (event: WorkerJobEvent) => void,
  ): Promise<WorkerJobResult<J['type']>> {
    if (this.running) return Promise.reject(new Error('the worker is already running a job'));
    return new Promise<WorkerJobResult<J['type']>>((resolve, reject) => {
      const settle = (raw: unknown) => {
        const result = parseWorkerResult(job.type, raw);
        if (result) resolve(result);
        else
          reject(new WorkerJobError(`the engine answered a ${job.type} job with another result`));
      };
      this.running = { job, onEvent, resolve: settle, reject, cancelTimer: null, cancelled: false };
      this.stopIdleTimer();
      try {
        this.process().send(job);
      } catch (err) {
        this.settle(() => reject(err instanceof Error ? err : new Error(String(err))));
      }
    });
  }

  /** Asks the running job to stop; kills the process if it has not within the grace time. */
  cancel(jobId: string): boolean {
    const r = this.running;
    if (!r || r.job.jobId !== jobId || r.cancelled) return false;
    r.cancelled = true;
    this.proc?.send({ type: 'cancel', jobId });
    r.cancelTimer = setTimeout(() => {
      this.log(`worker: job ${jobId} did not stop within ${this.graceMs} ms; killing the process`);
      const proc = this.proc;
      this.proc = null;
      this.settle(() => r.resolve({ status: 'cancelled' }));
      proc?.kill();
    }, this.graceMs);
    return true;
  }

  /** Kills the process (a running job fails). */
  dispose(): void {
    this.stopIdleTimer();
    const proc = this.proc;
    this.proc = null;
    const r = this.running;
    if (r) this.settle(() => r.reject(new WorkerJobError('the studio is shutting down')));
    proc?.kill();
  }

  private process(): WorkerProcess {
    if (this.proc) return this.proc;
    const proc = this.spawn();
    this.starts += 1;
    this.proc = proc;
    proc.onMessage((raw) => this.message(proc, raw));
    proc.onExit((exit) => this.exited(proc, exit));
    return proc;
  }

  private message(proc: WorkerProcess, raw: unknown): void {
    if (proc !== this.proc) return;
    const m = parseWorkerMessage(raw);
    if (!m) {
      this.log('worker: ignored a malformed message from the engine process');
      return;
    }
    if (m.type === 'ready') {
      this.pid = m.pid;
      return;
    }
    const r = this.running;
    if (!r || r.job.jobId !== m.jobId) return;
    if (m.type === 'event') r.onEvent(m.event);
    else if (m.type === 'done') this.settle(() => r.resolve(m.result));
    else this.settle(() => r.reject(new WorkerJobError(m.error.message, m.error.detail)));
  }

  private exited(proc: WorkerProcess, exit: WorkerExit): void {
    if (proc !== this.proc) return;
    this.proc = null;
    this.pid = null;
    const r = this.running;
    if (!r) return;
    if (r.cancelled) {
      this.settle(() => r.resolve({ status: 'cancelled' }));
      return;
    }
    const how =
      exit.signal !== null ? `was stopped by ${exit.signal}` : `exited with code ${exit.code}`;
    const likelyMemory = exit.signal === 'SIGKILL' || exit.code === 134;
    const message = likelyMemory
      ? 'The engine process stopped unexpectedly, most likely out of memory. Try a smaller crop size or network width.'
      : 'The engine process stopped unexpectedly.';
    this.settle(() => r.reject(new WorkerJobError(message, `the engine process ${how}`, true)));
  }

  private settle(finish: () => void): void {
    const r = this.running;
    if (!r) return;
    if (r.cancelTimer) clearTimeout(r.cancelTimer);
    this.running = null;
    this.startIdleTimer();
    finish();
  }

  /** With a process and no job: close the process once the idle time has passed. */
  private startIdleTimer(): void {
    this.stopIdleTimer();
    if (this.idleMs === null || !this.proc) return;
    this.idleTimer = this.clock.setTimeout(() => {
      this.idleTimer = null;
      const proc = this.proc;
      if (this.running || !proc) return;
      this.proc = null;
      this.pid = null;
      this.idleExits += 1;
      proc.kill();
    }, this.idleMs);
  }

  private stopIdleTimer(): void {
    if (this.idleTimer === null) return;
    this.clock.clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
