/**
 * The engine's process (DESIGN.md "Process architecture"): started by the services' worker
 * host as a Node child process (`patchwork serve`, tests) or as Electron's utilityProcess
 * (the app). It owns TF.js, runs one job at a time and speaks shared/ipc-worker.ts over
 * whichever parent port it was given, and only dispatches: each job is main/jobs/'s, run by
 * run-job.ts. If it dies, the host fails the job and starts another.
 */
import { parseToWorker, type FromWorker, type WorkerJob } from '../../shared/ipc-worker';
import { describeError } from './errors';
import { runJob } from './run-job';

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

async function run(message: WorkerJob): Promise<void> {
  const controller = new AbortController();
  const { jobId } = message;
  current = { jobId, controller };
  try {
    const result = await runJob(message, controller.signal, (event) =>
      port.post({ type: 'event', jobId, event }),
    );
    port.post({ type: 'done', jobId, result });
  } catch (err) {
    port.post({ type: 'failed', jobId, error: describeError(err) });
  } finally {
    current = null;
  }
}

port.post({ type: 'ready', pid: process.pid });
