/**
 * Exit codes and the one place that turns an error into words for the terminal. Errors the
 * user can fix (options, folders, files) print their message alone; anything unexpected
 * prints its stack too, since it is a bug.
 */
import { USER_ERROR_NAMES, WASM_OUT_OF_MEMORY } from '../../shared/user-errors';
import { OptionsError } from '../../shared/options';

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** Some files of a batch failed; the rest were done. */
  partial: 3,
  interrupted: 130,
} as const;

/** Errors whose message is meant for the user, by class name (engine classes stay engine-side). */
const USER_ERRORS = new Set([...USER_ERROR_NAMES, 'UsageError']);

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function reportError(err: unknown, stream: NodeJS.WriteStream = process.stderr): number {
  // A trap inside the wasm module (out of bounds, divide by zero, abort) follows a failed
  // allocation in practice: TF.js's wasm backend does not report those itself.
  const wasmTrap = err instanceof Error && err.name === 'RuntimeError';
  if (err instanceof Error && (wasmTrap || WASM_OUT_OF_MEMORY.test(err.message))) {
    stream.write(
      'error: the compute backend ran out of memory (the wasm backend is limited to 4 GiB). ' +
        'Use a smaller --crop-size or --ngf, or a native backend (@tensorflow/tfjs-node).\n' +
        `detail: ${err.message.split('\n')[0]}\n`,
    );
    return EXIT.failed;
  }
  if (err instanceof Error && USER_ERRORS.has(err.name)) {
    stream.write(`error: ${err.message}\n`);
    return err instanceof OptionsError || err.name === 'UsageError' ? EXIT.usage : EXIT.failed;
  }
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  stream.write(`error (unexpected, please report): ${text}\n`);
  return EXIT.failed;
}
