/**
 * The studio as the desktop app opens it, with Electron's dialogs and file manager injected so
 * tests build the very same studio without Electron. Its page may name only the library, the
 * samples and what the artist granted (granted-roots.ts): every folder or file picked in a
 * native dialog is granted as the dialog answers, and drops are granted through the preload
 * (ipc.ts bindDropGrants).
 */
import path from 'node:path';
import { GRANTS_FILE, GrantedRoots } from '../services/granted-roots';
import { SETTINGS_FILE, SettingsStore } from '../services/settings';
import { Studio } from '../services/studio/studio';
import type { EngineHostOptions, WorkerHost } from '../services/worker-host';

export interface AppStudioOptions {
  /** Electron's user-data folder: settings.json and grants.json live there. */
  userDataDir: string;
  samplesDir: string | null;
  version: string;
  host: WorkerHost;
  spawnHost: (opts?: EngineHostOptions) => WorkerHost;
  /** The native open dialog: the paths chosen, none when cancelled. */
  showOpenDialog: (kind: 'folder' | 'files', title?: string) => Promise<string[]>;
  reveal: (folder: string) => void;
}

export async function openAppStudio(
  o: AppStudioOptions,
): Promise<{ studio: Studio; grants: GrantedRoots }> {
  // The settings live in the user-data folder, so they can say where the library is; the
  // library they name is allowed as the library.
  const settingsFile = path.join(o.userDataDir, SETTINGS_FILE);
  const { store } = await SettingsStore.open(settingsFile);
  const { grants, warning } = await GrantedRoots.open(path.join(o.userDataDir, GRANTS_FILE));
  if (warning) process.stderr.write(`warning: ${warning}\n`);
  const studio = await Studio.open({
    libraryDir: store.get().libraryDir ?? path.join(o.userDataDir, 'library'),
    settingsFile,
    host: o.host,
    transport: 'electron',
    version: o.version,
    samplesDir: o.samplesDir,
    // Nothing beyond the library and the samples until the artist grants it.
    allowedRoots: [],
    grantedRoots: grants,
    pick: async (kind, title) => {
      const paths = await o.showOpenDialog(kind, title);
      await grants.grant(paths);
      return paths;
    },
    reveal: o.reveal,
    spawnHost: o.spawnHost,
  });
  return { studio, grants };
}
