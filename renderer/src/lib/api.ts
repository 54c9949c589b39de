/**
 * The page's one way to the services: the preload's `window.patchwork` in the desktop app,
 * otherwise the `patchwork serve` client. Both are a PatchworkBridge; createApi gives them
 * the contract's types.
 */
import { createApi, type PatchworkApi, type PatchworkBridge } from '../../../shared/ipc';
import { serveBridge } from './serve-client';

declare global {
  interface Window {
    /** Exposed by preload/ in the desktop app. */
    patchwork?: PatchworkBridge;
  }
}

export function connectApi(): PatchworkApi {
  return createApi(window.patchwork ?? serveBridge(window.location));
}
