/** A scripted api for component tests: records requests, answers from a table, pushes events. */
import type {
  AppInfo,
  Channel,
  PatchworkApi,
  RequestInput,
  RequestOutput,
  StudioEvent,
} from '../../shared/ipc';
import { StudioError } from '../../shared/ipc';
import type { JobSnapshot } from '../../shared/ipc-jobs';
import {
  DEFAULT_SETTINGS,
  type BackendDetection,
  type SettingsView,
} from '../../shared/ipc-settings';

/** A job as `jobs:list` and job events carry it: a running training job unless `over` says. */
export function jobSnapshot(over: Partial<JobSnapshot> = {}): JobSnapshot {
  return {
    id: 'j1',
    kind: 'train',
    title: 'Style',
    status: 'running',
    createdAt: '',
    startedAt: '',
    finishedAt: null,
    error: null,
    train: null,
    convert: null,
    ...over,
  };
}

type Answer = { [C in Channel]?: (input: RequestInput<C>) => RequestOutput<C> | StudioError };

export const INFO: AppInfo = {
  version: '0.0.0',
  transport: 'serve',
  libraryDir: '/lib',
  samples: { source: '/s/source', target: '/s/target', heldOut: '/s/held-out' },
  canPick: false,
  allowedRoots: ['/lib'],
};

export const SETTINGS: SettingsView = {
  settings: { ...DEFAULT_SETTINGS },
  libraryInUse: '/lib',
  libraryFixed: true,
  restartNeeded: false,
  backends: ['auto', 'wasm', 'cpu'],
  engines: ['auto', 'onnx', 'tfjs'],
};

export const DETECTED: BackendDetection = {
  auto: { name: 'wasm', detail: 'wasm (SIMD, 1 thread)' },
  backends: [
    { name: 'tensorflow', available: false, detail: null, reason: 'not installed' },
    { name: 'webgpu', available: false, detail: null, reason: 'no GPU device' },
    { name: 'wasm', available: true, detail: 'wasm (SIMD, 1 thread)', reason: null },
    { name: 'cpu', available: true, detail: 'cpu (plain JavaScript, slow)', reason: null },
  ],
  adapters: [],
  onnx: {
    version: '1.31.1',
    reason: null,
    auto: 'cpu (8 threads)',
    providers: [
      { name: 'cuda', available: false, detail: 'the CUDA provider is not installed' },
      { name: 'cpu', available: true, detail: '8 threads' },
    ],
  },
  adapterAsked: null,
  probedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 40,
};

export function fakeApi(answers: Answer = {}) {
  const requests: { channel: Channel; input: unknown }[] = [];
  const listeners = new Set<(e: StudioEvent) => void>();
  const defaults: Answer = {
    'app:info': () => INFO,
    'jobs:list': () => ({ jobs: [] }),
    'styles:list': () => ({ styles: [] }),
    'watch:list': () => ({ watches: [] }),
    'settings:get': () => SETTINGS,
    'train:estimate': () => ({ estimate: null }),
    'settings:detect': () => DETECTED,
    'inbox:usage': () => ({
      path: '/lib/inbox',
      total: { files: 0, bytes: 0 },
      uploads: { files: 0, bytes: 0 },
      busy: null,
      keepDays: 14,
    }),
  };
  const api: PatchworkApi = {
    async request(channel, input) {
      requests.push({ channel, input });
      const answer = (answers[channel] ?? defaults[channel]) as
        ((i: unknown) => unknown) | undefined;
      if (!answer) throw new Error(`no answer for ${channel}`);
      const out = answer(input);
      if (out instanceof StudioError) throw out;
      return out as RequestOutput<typeof channel>;
    },
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    fileUrl: (p) => `files?path=${encodeURIComponent(p)}`,
    thumbUrl: (p, size) => `thumbs?size=${size}&path=${encodeURIComponent(p)}`,
    pathOfFile: (file) => (file as { fakePath?: string }).fakePath ?? null,
  };
  return { api, requests, push: (e: StudioEvent) => listeners.forEach((l) => l(e)) };
}

/** Lets pending promises (the api's answers) settle. */
export const settle = () => new Promise((r) => setTimeout(r, 0));
