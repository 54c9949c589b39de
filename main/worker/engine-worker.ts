/**
 * The engine's process (DESIGN.md "Process architecture"): started by the services' worker
 * host as a Node child process (`patchwork serve`, tests) or as Electron's utilityProcess
 * (the app). It owns TF.js, runs one job at a time and speaks shared/ipc-worker.ts over
 * whichever parent port it was given. If it dies, the host fails the job and starts another.
 */
import {
  parseToWorker,
  type FromWorker,
  type ToWorker,
  type WorkerJobEvent,
  type WorkerJobResult,
} from '../../shared/ipc-worker';
import { runTraining } from '../engine/train/train-loop';
import { runConversion } from './convert-job';
import { describeError } from './errors';
import { runEstimate } from './estimate-job';
import { runHeatmap } from './heatmap-job';
import { runPairCheck } from './pair-check-job';
import { runProbe } from './probe-job';
import { runSinCutJob } from './sincut-job';
import { runWatch } from './watch-job';

interface ParentPort {
  post(message: FromWorker): void;
  onMessage(listener: (raw: unknown) => void): void;
}

/** Electron gives a utility process `process.parentPort`; a forked Node child has `send`. */
function connect(): ParentPort {
  const electronPort = (
    process as unknown as {
      parentPort?: {
        postMessage(m: unknown): void;
        on(e: 'message', l: (e: { data: unknown }) => void): void;
      };
    }
  ).parentPort;
  if (electronPort) {
    return {
      post: (m) => electronPort.postMessage(m),
      onMessage: (l) => electronPort.on('message', (e) => l(e.data)),
    };
  }
  if (process.send) {
    const send = process.send.bind(process);
    // The parent is gone: nothing would read our results.
    process.on('disconnect', () => process.exit(0));
    return { post: (m) => void send(m), onMessage: (l) => process.on('message', l) };
  }
  throw new Error('engine-worker: started without a parent port (run it through the worker host)');
}

const port = connect();
let current: { jobId: string; controller: AbortController } | null = null;

port.onMessage((raw) => {
  const message = parseToWorker(raw);
  if (!message) {
    process.stderr.write(`engine-worker: ignored a malformed message\n`);
    return;
  }
  if (message.type === 'cancel') {
    if (current?.jobId === message.jobId) current.controller.abort();
    return;
  }
  if (current) {
    const error = { name: 'Busy', message: 'the engine is already running a job' };
    port.post({ type: 'failed', jobId: message.jobId, error });
    return;
  }
  void run(message);
});

type JobMessage = Exclude<ToWorker, { type: 'cancel' }>;

async function run(message: JobMessage): Promise<void> {
  const controller = new AbortController();
  const { jobId } = message;
  current = { jobId, controller };
  try {
    const emit = (event: WorkerJobEvent) => port.post({ type: 'event', jobId, event });
    const result = await perform(message, controller.signal, emit);
    port.post({ type: 'done', jobId, result });
  } catch (err) {
    port.post({ type: 'failed', jobId, error: describeError(err) });
  } finally {
    current = null;
  }
}

/** Runs one job to its result; what it reports on the way goes to `emit`. */
async function perform(
  message: JobMessage,
  signal: AbortSignal,
  emit: (event: WorkerJobEvent) => void,
): Promise<WorkerJobResult> {
  switch (message.type) {
    case 'train': {
      const result = await runTraining(message.spec, {
        signal,
        resume: message.resume,
        onEvent: (event) => emit({ kind: 'train', event }),
      });
      return { status: result.status, styleDir: result.styleDir };
    }
    case 'train-sincut':
      return runSinCutJob(message.spec, { signal, resume: message.resume, emit });
    case 'check-pair':
      return { status: 'completed', pair: await runPairCheck(message.spec) };
    case 'estimate':
      return { status: 'completed', estimate: await runEstimate(message.spec) };
    case 'probe':
      return { status: 'completed', probe: await runProbe(message.spec) };
    case 'heatmap':
      return { status: 'completed', heatmap: await runHeatmap(message.spec) };
    case 'watch':
      return runWatch(message.spec, signal, emit);
    case 'convert':
      return runConversion(message.spec, signal, emit);
  }
}

port.post({ type: 'ready', pid: process.pid });
