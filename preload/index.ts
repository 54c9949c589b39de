/**
 * The desktop app's preload: exposes the studio's bridge (shared/ipc.ts PatchworkBridge) to
 * the sandboxed page with contextBridge, and nothing else. Requests go to main as the same
 * { channel, input } envelope the serve transport carries; main validates them.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { PatchworkBridge, RequestEnvelope, Reply, StudioEvent } from '../shared/ipc';
import { APP_ORIGIN, ELECTRON_CHANNELS } from '../shared/ipc-channels';
import { resourceUrl } from '../shared/resource-urls';

const bridge: PatchworkBridge = {
  invoke: (envelope: RequestEnvelope) =>
    ipcRenderer.invoke(ELECTRON_CHANNELS.request, envelope) as Promise<Reply<unknown>>,
  onEvent(listener: (event: StudioEvent) => void) {
    const wrapped = (_e: IpcRendererEvent, event: StudioEvent) => listener(event);
    ipcRenderer.on(ELECTRON_CHANNELS.event, wrapped);
    return () => void ipcRenderer.off(ELECTRON_CHANNELS.event, wrapped);
  },
  fileUrl: (path: string) => resourceUrl(`${APP_ORIGIN}/`, { route: 'files', path }),
  thumbUrl: (path: string, size: number) =>
    resourceUrl(`${APP_ORIGIN}/`, { route: 'thumbs', path, size }),
  // Electron no longer puts a path on a dropped File; it answers for files it handed the page
  // (a File the page makes has none). The artist chose that file, so main grants it before
  // the page can name it in a request.
  pathOfFile: (file: object) => {
    const path = webUtils.getPathForFile(file as File);
    if (path) ipcRenderer.send(ELECTRON_CHANNELS.grantDrop, path);
    return path;
  },
};

contextBridge.exposeInMainWorld('patchwork', bridge);
