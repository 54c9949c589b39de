/**
 * Names shared by the desktop shell and its preload, kept apart from shared/ipc.ts so the
 * sandboxed preload bundle carries no schema library.
 */

/** The IPC channels between the preload and the Electron handlers. */
export const ELECTRON_CHANNELS = {
  request: 'patchwork:request',
  event: 'patchwork:event',
  /** The path of a file the artist dropped on the window, to be granted (ipc.ts). */
  grantDrop: 'patchwork:grant-drop',
} as const;

/** The desktop app's own scheme: the interface and the files it shows come from it. */
export const APP_SCHEME = 'patchwork';
export const APP_ORIGIN = `${APP_SCHEME}://app`;
