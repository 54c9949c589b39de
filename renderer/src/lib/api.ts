/**
 * The page's one way to the services: the preload's `window.patchwork` in the desktop app,
 * otherwise the `patchwork serve` client. Both are a PatchworkBridge; createApi gives them
 * the contract's types.
 */
import { createApi, type PatchworkApi, type PatchworkBridge } from '../../../shared/ipc';
import { serveBridge, type ServePage } from './serve-client';

declare global {
  interface Window {
    /** Exposed by preload/ in the desktop app. */
    patchwork?: PatchworkBridge;
  }
}

export function connectApi(): PatchworkApi {
  return createApi(window.patchwork ?? serveBridge(servePage()));
}

/** The page as the serve client needs it; storage kept in memory where sessionStorage is off. */
function servePage(): ServePage {
  let storage: ServePage['storage'];
  try {
    storage = window.sessionStorage;
  } catch {
    const kept = new Map<string, string>();
    storage = { getItem: (k) => kept.get(k) ?? null, setItem: (k, v) => void kept.set(k, v) };
  }
  return { location: window.location, history: window.history, storage };
}
