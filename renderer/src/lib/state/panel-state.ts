/**
 * A panel's own state, kept per StudioState: made on the panel's first showing and the same
 * object after, so switching views loses nothing — without a field in StudioState for every
 * panel (a new panel registers in views/views.ts and keeps its state here).
 */
import type { StudioState } from './studio.svelte';

/** `make`, called once per studio; later calls answer the state it made. */
export function panelState<T extends object>(
  make: (studio: StudioState) => T,
): (studio: StudioState) => T {
  const made = new WeakMap<StudioState, T>();
  return (studio) => {
    let state = made.get(studio);
    if (!state) {
      state = make(studio);
      made.set(studio, state);
    }
    return state;
  };
}
