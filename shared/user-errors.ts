/**
 * Error classes whose message is written for the user (what went wrong with their options,
 * folders, files, styles or checkpoints), by class name: the CLI and the engine's process
 * show these as they are and anything else as an internal error.
 */
export const USER_ERROR_NAMES: readonly string[] = [
  'OptionsError',
  'TrainJobError',
  'DatasetError',
  'ImageReadError',
  'ImageWriteError',
  'CheckpointError',
  'StyleError',
  'InitStyleError',
  'BackendError',
  'EngineError',
];

/** A wasm heap is capped at 4 GiB; an allocation past it aborts or traps the module. */
export const WASM_OUT_OF_MEMORY =
  /Aborted\(|memory access out of bounds|out of memory|Cannot enlarge memory/i;
