/**
 * What the studio's parts share: the options a transport opens it with (StudioOptions), and
 * the context every group of request handlers (routes/) works in — the paths it may use, the
 * job queue, the engine processes beside it, the settings and the event stream. Handlers are
 * typed per channel from the one contract (shared/ipc.ts), so a channel without a handler, or
 * a handler answering the wrong shape, does not compile.
 */
import type {
  AppInfo,
  Channel,
  ParsedInput,
  RequestOutputs,
  StudioEvent,
} from '../../../shared/ipc';
import type { StudioSettings } from '../../../shared/ipc-settings';
import type { CacheRoot } from '../cache-folder';
import type { EstimateCache } from '../estimates';
import type { ImagePyramid } from '../image-pyramid';
import type { Inbox } from '../inbox';
import type { InboxUpkeep } from '../inbox-upkeep';
import type { RootSource } from '../path-policy';
import type { SettingsStore } from '../settings';
import type { Watches } from '../watches';
import type { EngineHostOptions, WorkerHost } from '../worker-host';
import type { GpuBackends } from './backend-detection';
import type { JobQueue } from './job-queue';
import type { SideEngine } from './side-engine';
import type { StudioPaths } from './studio-paths';

export interface StudioOptions {
  libraryDir: string;
  host: WorkerHost;
  transport: AppInfo['transport'];
  version: string;
  /** resources/samples (with source/, target/, held-out/), or null. */
  samplesDir: string | null;
  /** Folders requests may name (besides the library, the samples and grantedRoots); null: any. */
  allowedRoots: string[] | null;
  /**
   * Folders granted while the studio runs (the desktop app's GrantedRoots: what the artist
   * picked, dropped or set), asked on every check; moot when allowedRoots is null.
   */
  grantedRoots?: RootSource;
  /** Native pickers (Electron); absent: 'unsupported'. */
  pick?: (kind: 'folder' | 'files', title?: string) => Promise<string[]>;
  /** Shows a folder in the file manager (Electron's shell.showItemInFolder); absent: none. */
  reveal?: (path: string) => void | Promise<void>;
  /**
   * The caches' root: thumbnails, pyramid tiles, heatmap pictures (default: `cache` in the
   * library; cache-folder.ts).
   */
  cacheDir?: string;
  /**
   * A fresh engine process host for a side task (each watched folder gets one, so it never
   * waits behind a training job); absent: watching answers 'unsupported'.
   */
  spawnHost?: (opts?: EngineHostOptions) => WorkerHost;
  /** How long a watched file's size must hold still before it is converted (ms). */
  watchStableMs?: number;
  /** Where the settings are kept (default: settings.json in the library). */
  settingsFile?: string;
  /** The library is given from outside (`serve --library`): the settings cannot move it. */
  libraryFixed?: boolean;
}

export interface StudioContext {
  readonly opts: StudioOptions;
  readonly paths: StudioPaths;
  readonly jobs: JobQueue;
  /** The viewer's image pyramids ('image:tiles'). */
  readonly pyramid: ImagePyramid;
  readonly estimates: EstimateCache;
  readonly gpu: GpuBackends;
  /**
   * The engine process for short requests answered directly (a SinCUT pair check, a step
   * measurement), so New style never waits behind a training job; null without spawnHost.
   */
  readonly shortJobs: SideEngine | null;
  /** The engine process for heatmaps (it keeps the translated image between requests). */
  readonly heatmaps: SideEngine | null;
  /** The caches' root; heatmap pictures are written to its `heatmaps` folder. */
  readonly cache: CacheRoot;
  /** Images dropped on a browser tab, uploaded into `<library>/inbox` ('inbox:*'). */
  readonly inbox: Inbox;
  /** The inbox's size, emptying and pruning ('inbox:usage', 'inbox:empty'). */
  readonly inboxUpkeep: InboxUpkeep;
  /** The settings in force (defaults until they are read). */
  settings(): StudioSettings;
  /** The settings on disk; null until the studio has opened them. */
  settingsStore(): SettingsStore | null;
  /** The watched folders; null where watching is not available. */
  watches(): Watches | null;
  emit(event: StudioEvent): void;
}

/** The handlers of some channels: each takes its channel's validated input. */
export type Handlers<C extends Channel> = {
  [K in C]: (input: ParsedInput<K>) => RequestOutputs[K] | Promise<RequestOutputs[K]>;
};
