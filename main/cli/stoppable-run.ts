/**
 * A training command's life around the engine call: a progress line, Ctrl-C (or SIGTERM)
 * that asks the run to stop after the current step — it checkpoints and writes the style —
 * and a second Ctrl-C that quits at once; then the closing line and the exit code.
 */
import { EXIT } from './errors';
import { formatDuration, progressLine, type ProgressLine } from './progress';

export interface StoppableResult {
  status: 'completed' | 'cancelled';
  iteration: number;
  styleDir: string;
  durationSeconds: number;
}

export async function runStoppable(
  start: (signal: AbortSignal, line: ProgressLine) => Promise<StoppableResult>,
): Promise<number> {
  const line = progressLine();
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    line.log('stopping after this step (a checkpoint is written; Ctrl-C again to quit now)…');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await start(controller.signal, line);
    line.done();
    const where = `style: ${result.styleDir}`;
    if (result.status === 'cancelled') {
      process.stdout.write(
        `stopped at step ${result.iteration}; ${where}\nresume with the same command and --resume\n`,
      );
      return EXIT.interrupted;
    }
    process.stdout.write(
      `finished ${result.iteration} steps in ${formatDuration(result.durationSeconds)}; ${where}\n`,
    );
    return EXIT.ok;
  } finally {
    line.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
