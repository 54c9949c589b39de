import { USER_ERROR_NAMES, WASM_OUT_OF_MEMORY } from '../../shared/user-errors';

/**
 * A job's error in words for the artist, with the technical part kept apart. Errors the
 * user can act on (options, folders, files) carry their own message; a trap inside the wasm
 * module is, in practice, an allocation past its 4 GiB heap.
 */
const USER_ERRORS = new Set([...USER_ERROR_NAMES, 'PlanError', 'WatchStopped', 'HeatmapError']);

export function describeError(err: unknown): { name: string; message: string; detail?: string } {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  if (err.name === 'RuntimeError' || WASM_OUT_OF_MEMORY.test(err.message)) {
    return {
      name: 'OutOfMemory',
      message:
        'The compute backend ran out of memory. Try a smaller crop size or network width (ngf).',
      detail: err.message.split('\n')[0],
    };
  }
  if (USER_ERRORS.has(err.name)) return { name: err.name, message: err.message };
  return {
    name: err.name,
    message: `Something went wrong inside the engine: ${err.message}`,
    ...(err.stack ? { detail: err.stack } : {}),
  };
}
