/**
 * The desktop app's main process: orchestration only (DESIGN.md "Process architecture").
 * One instance, one window; the page comes from the app's own scheme; every IPC request
 * goes through bindIpc to the Studio (validated against shared/ipc.ts), which allows only the
 * library, the samples and what the artist granted (app-studio.ts); the page gets no web
 * permission; the engine runs in a utilityProcess. Quitting while a job runs stops it gracefully first (a checkpoint and
 * the style are written), then quits.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Notification,
  protocol,
  session,
  shell,
} from 'electron';
import { APP_ORIGIN, APP_SCHEME } from '../../shared/ipc-channels';
import type { Studio } from '../services/studio/studio';
import { WorkerHost, type EngineHostOptions } from '../services/worker-host';
import { openAppStudio } from './app-studio';
import { bindDropGrants, bindIpc } from './ipc';
import { jobFeedback } from './job-feedback';
import { appProtocolHandler } from './protocol';
import { denyPermissions, hardenContents, windowPreferences } from './security';
import { utilityWorkerSpawner } from './utility-worker';

// Built layout (vite.app.config.ts): out/app/{main.js, preload.cjs, worker.js}, out/renderer/.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const RENDERER_DIR = path.join(HERE, '..', 'renderer');
const SAMPLES_DIR = app.isPackaged
  ? path.join(process.resourcesPath, 'samples')
  : path.join(HERE, '..', '..', 'resources', 'samples');

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

if (!app.requestSingleInstanceLock()) app.quit();

let win: BrowserWindow | null = null;
let studio: Studio | null = null;
let quitting = false;

app.on('web-contents-created', (_e, contents) =>
  hardenContents(contents, (url) => void shell.openExternal(url)),
);

app.on('second-instance', () => {
  if (!win) return;
  if (win.isMinimized()) win.restore();
  win.focus();
});

app.on('window-all-closed', () => app.quit());

app.on('before-quit', (event) => {
  if (quitting || !studio) return;
  quitting = true;
  event.preventDefault();
  void studio.stopAll().finally(() => app.quit());
});

void app.whenReady().then(async () => {
  const newHost = (opts: EngineHostOptions = {}) =>
    new WorkerHost(utilityWorkerSpawner(path.join(HERE, 'worker.js')), opts);
  denyPermissions(session.defaultSession);
  const opened = await openAppStudio({
    userDataDir: app.getPath('userData'),
    samplesDir: SAMPLES_DIR,
    version: app.getVersion(),
    host: newHost(),
    spawnHost: newHost,
    showOpenDialog: async (kind, title) => {
      const properties: ('openDirectory' | 'createDirectory' | 'openFile' | 'multiSelections')[] =
        kind === 'folder' ? ['openDirectory', 'createDirectory'] : ['openFile', 'multiSelections'];
      const r = win
        ? await dialog.showOpenDialog(win, { title, properties })
        : await dialog.showOpenDialog({ title, properties });
      return r.canceled ? [] : r.filePaths;
    },
    reveal: (folder) => shell.showItemInFolder(folder),
  });
  studio = opened.studio;
  protocol.handle(APP_SCHEME, appProtocolHandler(RENDERER_DIR, studio));
  bindIpc(ipcMain, studio, () => win?.webContents ?? null);
  bindDropGrants(ipcMain, opened.grants, () => win?.webContents ?? null);
  studio.subscribe(
    jobFeedback(() => win, {
      isSupported: () => Notification.isSupported(),
      show: (title, body) => new Notification({ title, body }).show(),
    }),
  );
  win = new BrowserWindow({
    width: 1200,
    height: 860,
    backgroundColor: '#15161a',
    title: 'Patchwork',
    show: false,
    webPreferences: windowPreferences(path.join(HERE, 'preload.cjs')),
  });
  win.once('ready-to-show', () => win?.show());
  win.on('closed', () => (win = null));
  void win.loadURL(`${APP_ORIGIN}/`);
});
