/**
 * The studio's one contract between the interface and the services (DESIGN.md "Process
 * architecture"): request channels with their input schemas and output types, the events
 * pushed back, and the error envelope. The Electron preload, the ipcMain handlers, the
 * `serve` HTTP/WebSocket transport and the renderer's `api` are all typed from this file;
 * everything the services receive is parsed with these schemas first (parseRequest), so a
 * malformed or unknown message fails with a specific error instead of reaching a service.
 */
import { z } from 'zod';
import { BACKEND_CHOICES, type TrainEvent } from './jobs';
import { PRESETS, SINCUT_PRESETS, sincutOptionsFields, trainOptionsFields } from './options';
import type { JobSnapshot, StudioJobEvent } from './ipc-jobs';
import type { StudioWatchEvent, WatchInfo } from './ipc-watch';
import type { HeatmapJobResult, PairCheckResult } from './ipc-worker';
import {
  MAX_UPLOAD_BYTES,
  UPLOAD_CHUNK_CHARS,
  type BrowseListing,
  type FileTally,
  type InboxUsage,
  type UploadStarted,
} from './ipc-files';
import { CONVERT_FORMAT_CHOICES, convertEncodingSchema, refineEncoding } from './convert-options';
import { plainIssues, plainSentence } from './plain-issues';
import {
  settingsPatchSchema,
  type BackendDetection,
  type SettingsView,
  type StudioSettings,
} from './ipc-settings';

export { APP_ORIGIN, ELECTRON_CHANNELS } from './ipc-channels';

// ─── inputs ────────────────────────────────────────────────────────────────────────────────

const folder = z.string().min(1, 'needs a path').max(4096);
const jobId = z.string().regex(/^[a-z0-9-]{1,64}$/, 'not a job id');
/** A folder name below <library>/styles: never "." or "..", never hidden. */
const styleId = z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,119}$/, 'not a style id');
const styleName = z.string().trim().min(1, 'needs to be filled in').max(120);

/** Options the studio exposes for training; everything else keeps its preset's value. */
export const studioTrainOptionsSchema = trainOptionsFields
  .pick({
    ngf: true,
    ndf: true,
    nBlocks: true,
    loadSize: true,
    cropSize: true,
    numPatches: true,
    lambdaNCE: true,
    lambdaGAN: true,
    lr: true,
    epochs: true,
    decayEpochs: true,
    seed: true,
  })
  .partial()
  .strict();
export type StudioTrainOptions = z.infer<typeof studioTrainOptionsSchema>;

/** What every training request names: the style, its two inputs, the length, the cadence. */
const trainingRequestFields = {
  name: styleName,
  source: folder,
  target: folder,
  /** Steps to train; absent or null: the preset's (or setting's) epoch schedule. */
  iterations: z.number().int().positive().max(10_000_000).nullable().optional(),
  backend: z.enum(BACKEND_CHOICES).optional(),
  progressEvery: z.number().int().positive().optional(),
  checkpointEvery: z.number().int().positive().optional(),
};

export const trainStartSchema = z
  .object({
    ...trainingRequestFields,
    preset: z.enum(PRESETS),
    options: studioTrainOptionsSchema.optional(),
    recursive: z.boolean().optional(),
    previewEvery: z.number().int().min(0).optional(),
  })
  .strict();
export type TrainStartInput = z.infer<typeof trainStartSchema>;

/** Options the studio exposes for SinCUT; everything else keeps its setting's value. */
export const studioSinCutOptionsSchema = sincutOptionsFields
  .pick({
    netG: true,
    ngf: true,
    ndf: true,
    nBlocks: true,
    cropSize: true,
    batchSize: true,
    lr: true,
    seed: true,
  })
  .partial()
  .strict();
export type StudioSinCutOptions = z.infer<typeof studioSinCutOptionsSchema>;

/** A SinCUT style from one source image and one target image. */
export const sincutStartSchema = z
  .object({
    // source: the image to change (a file, not a folder); target: the image with the look.
    ...trainingRequestFields,
    /** The reference's settings (64² crops) or the paper's (128² crops); default reference. */
    setting: z.enum(SINCUT_PRESETS).optional(),
    options: studioSinCutOptionsSchema.optional(),
  })
  .strict();
export type SinCutStartInput = z.infer<typeof sincutStartSchema>;

/** Measure a training step of this configuration on this machine (cached in the library). */
export const estimateSchema = z.discriminatedUnion('preset', [
  z
    .object({
      preset: z.enum(PRESETS),
      options: studioTrainOptionsSchema.optional(),
      backend: z.enum(BACKEND_CHOICES).optional(),
      /** Measure again even if this configuration was measured before. */
      remeasure: z.boolean().optional(),
      /** Answer only from the cache (null when never measured): measuring takes a while. */
      cachedOnly: z.boolean().optional(),
    })
    .strict(),
  z
    .object({
      preset: z.literal('sincut'),
      setting: z.enum(SINCUT_PRESETS).optional(),
      options: studioSinCutOptionsSchema.optional(),
      backend: z.enum(BACKEND_CHOICES).optional(),
      remeasure: z.boolean().optional(),
      cachedOnly: z.boolean().optional(),
    })
    .strict(),
]);
export type EstimateInput = z.infer<typeof estimateSchema>;

export { CONVERT_FORMAT_CHOICES };

/** A conversion, with the same encoding choices as `patchwork convert` (convert-options.ts). */
/**
 * A conversion, once or watched: a style, an image or folder in (the watched folder), a folder
 * out, and the encoding choices `patchwork convert` and `watch` offer (absent: the defaults).
 */
const conversionRequestSchema = refineEncoding(
  convertEncodingSchema
    .extend({
      styleId,
      /** An image or a folder of images; for a watch, the folder to watch. */
      input: folder,
      output: folder,
      recursive: z.boolean().optional(),
      backend: z.enum(BACKEND_CHOICES).optional(),
    })
    .strict(),
);
export const convertStartSchema = conversionRequestSchema;
export type ConvertStartInput = z.infer<typeof convertStartSchema>;
export const watchStartSchema = conversionRequestSchema;

const empty = z.object({}).strict();
/** What every heatmap request names: the style, the image, the encoder tap, the overlay. */
const heatmapFields = {
  styleId,
  image: folder,
  tap: z
    .string()
    .regex(/^[a-z0-9]{1,16}$/, 'not a tap name')
    .optional(),
  opacity: z.number().min(0).max(1).optional(),
};
const watchId = z.string().regex(/^[a-z0-9-]{1,64}$/, 'not a watch id');
const uploadId = z.string().regex(/^[a-z0-9-]{1,64}$/, 'not an upload id');

/** Every request channel: its input schema. Outputs are typed in RequestOutputs. */
export const requestSchemas = {
  'app:info': empty,
  'jobs:list': empty,
  'styles:list': empty,
  'train:start': trainStartSchema,
  'convert:start': convertStartSchema,
  'job:cancel': z.object({ jobId }).strict(),
  /** A stopped or interrupted training job continues from its last checkpoint. */
  'train:resume': z.object({ jobId }).strict(),
  /** A SinCUT style from one image pair; a job like the others. */
  'train:sincut': sincutStartSchema,
  /** A running training job writes a checkpoint and gives the engine back; Resume continues. */
  'train:pause': z.object({ jobId }).strict(),
  /** Seconds per training step of a configuration, measured on this machine. */
  'train:estimate': estimateSchema,
  /** A first look at a SinCUT pair (either image may be left out): sizes and warnings. */
  'sincut:inspect': z
    .object({
      source: folder.optional(),
      target: folder.optional(),
      cropSize: z.number().int().positive().max(1024).optional(),
    })
    .strict(),
  /** A first look at a folder: image count, thumbnails, warnings. */
  'folder:inspect': z.object({ path: folder, recursive: z.boolean().optional() }).strict(),
  'dialog:pick': z
    .object({ kind: z.enum(['folder', 'files']), title: z.string().max(200).optional() })
    .strict(),
  /** A new display name; the style's id and folder stay as they are. */
  'style:rename': z.object({ styleId, name: styleName }).strict(),
  /** Removes the style's folder from the library; `confirm` says the artist was asked. */
  'style:delete': z
    .object({
      styleId,
      confirm: z.literal(true, { error: 'deleting a style needs confirm: true' }),
    })
    .strict(),
  /** A copy of a trained style under "<name> copy". */
  'style:duplicate': z.object({ styleId }).strict(),
  /** Shows the style's folder in the file manager (desktop); elsewhere answers its path. */
  'style:reveal': z.object({ styleId }).strict(),
  'watch:list': empty,
  /** Switches a folder's watch on: images arriving in it are converted with the style. */
  'watch:start': watchStartSchema,
  /** Switches it off; the files in flight finish first. */
  'watch:stop': z.object({ watchId }).strict(),
  /** Forgets a watch that is off. */
  'watch:remove': z.object({ watchId }).strict(),
  'settings:get': empty,
  /** An image's full size and tile pyramid, for the before/after viewer's zoom (/tiles). */
  'image:tiles': z.object({ path: folder }).strict(),
  /** Changes some settings (validated field by field); answers all of them. */
  'settings:set': settingsPatchSchema,
  /** What the engine finds on this machine: backends, auto's choice, GPUs (kept; `refresh`). */
  'settings:detect': z.object({ refresh: z.boolean().optional() }).strict(),
  /** Translates the image with the style (once) for heatmaps: both images for the page. */
  'heatmap:open': z.object({ styleId, image: folder }).strict(),
  /** The heatmap over the input for a point of the output (full-image pixels) and a tap. */
  'heatmap:query': z
    .object({
      ...heatmapFields,
      x: z.number().min(0).max(1_000_000),
      y: z.number().min(0).max(1_000_000),
    })
    .strict(),
  /** Grid mode: N×N points of the output at once, one small map over the input each. */
  'heatmap:grid': z.object({ ...heatmapFields, n: z.number().int().min(2).max(8) }).strict(),
  /** A folder's listing for the studio's own browser (serve); no path: only the places. */
  'folder:browse': z.object({ path: folder.optional() }).strict(),
  /**
   * Starts uploading a dropped image into the library's inbox; `folder`: a previous answer's,
   * so the files of one drop land together.
   */
  'inbox:begin': z
    .object({
      name: z.string().min(1, 'a file name is required').max(255),
      size: z
        .number()
        .int()
        .min(1, 'the file is empty')
        .max(MAX_UPLOAD_BYTES, `larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB`),
      folder: folder.optional(),
    })
    .strict(),
  /** The next bytes of an upload, base64, at `offset` (the bytes received so far). */
  'inbox:chunk': z
    .object({
      uploadId,
      offset: z.number().int().min(0),
      data: z
        .string()
        .min(1)
        .max(UPLOAD_CHUNK_CHARS)
        .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64'),
    })
    .strict(),
  /** All bytes are there: checked as an image and given its (unique) name in the inbox. */
  'inbox:finish': z.object({ uploadId }).strict(),
  /** Gives up an upload: its partial file is removed. */
  'inbox:abort': z.object({ uploadId }).strict(),
  /** What the inbox holds (uploads and what was converted from them), and whether it is busy. */
  'inbox:usage': empty,
  /**
   * Removes everything in the inbox, uploads and results alike; `confirm` says the artist was
   * asked. Refused while a job, a watched folder or an upload uses it.
   */
  'inbox:empty': z
    .object({
      confirm: z.literal(true, { error: 'emptying the inbox needs confirm: true' }),
    })
    .strict(),
  /** Takes finished jobs off the list: one (`jobId`), or every finished one (of `kind`). */
  'jobs:clear': z
    .object({ jobId: jobId.optional(), kind: z.enum(['train', 'convert']).optional() })
    .strict(),
} as const;

export type Channel = keyof typeof requestSchemas;
export type RequestInput<C extends Channel> = z.input<(typeof requestSchemas)[C]>;

// ─── outputs ───────────────────────────────────────────────────────────────────────────────

export interface AppInfo {
  version: string;
  /** Which transport answers: the desktop shell or `patchwork serve` in a browser. */
  transport: 'electron' | 'serve';
  /** Where trained styles live. */
  libraryDir: string;
  /** The bundled sample folders, for "Try it with samples" (null when not shipped). */
  samples: { source: string; target: string; heldOut: string } | null;
  /** Native file dialogs exist (Electron); in a browser paths are typed. */
  canPick: boolean;
  /** Folders requests may name (serve); empty: any folder (the desktop app). */
  allowedRoots: string[];
}

/** 'paused': its training job is paused (the style folder holds the paused step's result). */
export type StyleStatus = 'training' | 'paused' | 'ready' | 'failed';

export interface StyleInfo {
  id: string;
  name: string;
  status: StyleStatus;
  /** The style folder (holds style.json once ready). */
  dir: string;
  preset: string | null;
  /** Absolute path of the thumbnail, or null. */
  thumbnail: string | null;
  previews: { source: string; output: string }[];
  created: string | null;
  iterations: number | null;
  /** The job training it, while it trains. */
  jobId: string | null;
}

export interface FolderSummary {
  path: string;
  images: number;
  /** Files that are not images (left out). */
  others: number;
  bytes: number;
  /** A few images a page can show as thumbnails. */
  samples: string[];
  /** Plain-words problems: too few images, files left out. */
  warnings: string[];
}

/** The engine's look at a SinCUT image pair. */
export type PairSummary = PairCheckResult;

export interface StepEstimate {
  secondsPerStep: number;
  /** The backend that was measured, in words (e.g. "wasm (SIMD, 2 threads)"). */
  backend: string;
  /** ISO 8601. */
  measuredAt: string;
  /** Read from the library's cache rather than measured by this request. */
  cached: boolean;
  /** Another job was running in the engine while it was measured: likely slower than alone. */
  contended: boolean;
}

export interface RequestOutputs {
  'app:info': AppInfo;
  'jobs:list': { jobs: JobSnapshot[] };
  'styles:list': { styles: StyleInfo[] };
  'train:start': { job: JobSnapshot };
  'convert:start': { job: JobSnapshot };
  'job:cancel': { job: JobSnapshot };
  'train:resume': { job: JobSnapshot };
  'train:sincut': { job: JobSnapshot };
  'train:pause': { job: JobSnapshot };
  /** Null: never measured, and the request asked only for the cache. */
  'train:estimate': { estimate: StepEstimate | null };
  'sincut:inspect': PairSummary;
  'folder:inspect': FolderSummary;
  'dialog:pick': { paths: string[] };
  'style:rename': { style: StyleInfo };
  'style:delete': { styleId: string };
  'style:duplicate': { style: StyleInfo };
  /** `revealed`: a file manager was opened; otherwise the page shows `path`. */
  'style:reveal': { path: string; revealed: boolean };
  'watch:list': { watches: WatchInfo[] };
  'watch:start': { watch: WatchInfo };
  'watch:stop': { watch: WatchInfo };
  'watch:remove': { watchId: string };
  'settings:get': SettingsView;
  'image:tiles': PyramidInfo;
  'settings:set': SettingsView;
  'settings:detect': BackendDetection;
  'heatmap:open': HeatmapView;
  'heatmap:query': HeatmapView;
  'heatmap:grid': HeatmapView;
  'folder:browse': BrowseListing;
  'inbox:begin': UploadStarted;
  'inbox:chunk': { received: number };
  /** `path`: the image in the inbox, under its final name. */
  'inbox:finish': { path: string };
  'inbox:abort': { uploadId: string };
  'inbox:usage': InboxUsage;
  /** What went, and what is left (nothing, unless something arrived meanwhile). */
  'inbox:empty': { removed: FileTally; usage: InboxUsage };
  /** The jobs taken off the list. */
  'jobs:clear': { cleared: string[] };
}

/** Input and output at the working size; with `map` after a query (see shared/ipc-worker.ts). */
export type HeatmapView = HeatmapJobResult;
export type RequestOutput<C extends Channel> = RequestOutputs[C];

/** An image as the viewer's zoom sees it (main/services/image-pyramid.ts): tiles of a pyramid. */
export interface PyramidInfo {
  width: number;
  height: number;
  tileSize: number;
  /** Level 0 is the full resolution, each level halves it; levels − 1 fits one tile. */
  levels: number;
}

// ─── envelopes and errors ──────────────────────────────────────────────────────────────────

export const ERROR_CODES = [
  /** Not a request at all, or an unknown channel. */
  'invalid-message',
  /** A known channel with an input that does not fit its schema. */
  'invalid-input',
  /** The input is well formed but the job cannot run (options, folders). */
  'rejected',
  /** A path outside the folders this transport may touch. */
  'forbidden-path',
  'not-found',
  /** Not available on this transport (e.g. native dialogs in a browser). */
  'unsupported',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface IpcError {
  code: ErrorCode;
  message: string;
  /** Field-level problems: the field's path and what is wrong with it. */
  issues?: { path: string; message: string }[];
}

export type Reply<T> = { ok: true; value: T } | { ok: false; error: IpcError };

/** A request as it crosses a process boundary (ipcRenderer.invoke, POST /api). */
export interface RequestEnvelope<C extends Channel = Channel> {
  channel: C;
  input: RequestInput<C>;
}

/** Raised by a client when a reply is an error; keeps the code and issues. */
export class StudioError extends Error {
  readonly code: ErrorCode;
  readonly issues: { path: string; message: string }[];
  constructor(error: IpcError) {
    super(error.message);
    this.name = 'StudioError';
    this.code = error.code;
    this.issues = error.issues ?? [];
  }
}

const envelopeSchema = z.object({ channel: z.string(), input: z.unknown() }).strict();

/** A channel's input as validated (defaults applied): what the studio's handlers take. */
export type ParsedInput<C extends Channel> = z.output<(typeof requestSchemas)[C]>;

export type ParsedRequest = {
  [C in Channel]: { channel: C; input: ParsedInput<C> };
}[Channel];

/** Validates a raw message: a ParsedRequest, or the error to answer with. */
export function parseRequest(raw: unknown): ParsedRequest | IpcError {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) {
    return {
      code: 'invalid-message',
      message: 'a request is an object with exactly "channel" and "input"',
    };
  }
  const { channel, input } = envelope.data;
  if (!Object.hasOwn(requestSchemas, channel)) {
    return { code: 'invalid-message', message: `unknown channel ${JSON.stringify(channel)}` };
  }
  const schema = requestSchemas[channel as Channel];
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    // In the words of the form that sent it: the studio shows both under its fields.
    const issues = plainIssues(parsed.error.issues);
    return { code: 'invalid-input', message: plainSentence(issues), issues };
  }
  return { channel, input: parsed.data } as ParsedRequest;
}

export function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as IpcError).code === 'string' &&
    (ERROR_CODES as readonly string[]).includes((value as IpcError).code) &&
    typeof (value as IpcError).message === 'string'
  );
}

// ─── events ────────────────────────────────────────────────────────────────────────────────

/**
 * Pushed from the services to every window or browser tab. 'resync' comes from a transport
 * itself, after a dropped connection may have lost events: reload the lists.
 */
export type StudioEvent =
  | StudioJobEvent
  | StudioWatchEvent
  | { type: 'styles-changed' }
  | { type: 'settings'; settings: StudioSettings }
  | { type: 'resync' };

export type { TrainEvent };

// ─── the api object ────────────────────────────────────────────────────────────────────────

/**
 * What crosses into the page: `window.patchwork` from the preload, or the serve client over
 * HTTP and a WebSocket. Plain data and functions only (contextBridge copies values, so no
 * class instances); `fileUrl` turns a path the services returned (a preview, a thumbnail)
 * into a URL the page may load.
 */
export interface PatchworkBridge {
  invoke(envelope: RequestEnvelope): Promise<Reply<unknown>>;
  /** Listens to every event; returns the way to stop listening. */
  onEvent(listener: (event: StudioEvent) => void): () => void;
  fileUrl(path: string): string;
  /** A small WebP of an image (long side about `size`, at most 2048), made by the services. */
  thumbUrl(path: string, size: number): string;
  /**
   * Where a file dropped on the page lives (a DOM File): the desktop app knows; a browser
   * never says, so the serve transport has no such function.
   */
  pathOfFile?(file: object): string;
}

/** The typed api the renderer uses, over either bridge: errors become StudioError. */
export interface PatchworkApi {
  request<C extends Channel>(channel: C, input: RequestInput<C>): Promise<RequestOutput<C>>;
  subscribe(listener: (event: StudioEvent) => void): () => void;
  fileUrl(path: string): string;
  thumbUrl(path: string, size: number): string;
  /** A dropped file's path, where the transport can know it (the desktop app); else null. */
  pathOfFile(file: object): string | null;
}

export function createApi(bridge: PatchworkBridge): PatchworkApi {
  return {
    async request(channel, input) {
      const reply = await bridge.invoke({ channel, input });
      if (!reply.ok) throw new StudioError(reply.error);
      return reply.value as RequestOutput<typeof channel>;
    },
    subscribe: (listener) => bridge.onEvent(listener),
    fileUrl: (path) => bridge.fileUrl(path),
    thumbUrl: (path, size) => bridge.thumbUrl(path, size),
    pathOfFile: (file) => bridge.pathOfFile?.(file) || null,
  };
}
