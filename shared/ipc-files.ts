/**
 * The studio's own file browser and upload inbox, for a browser tab under `patchwork serve`
 * (the desktop app has native dialogs and knows a dropped file's path): the listing a folder
 * request answers, and the limits of an upload — images only, in chunks that fit one request,
 * written under the library's inbox. Pure TypeScript; the channels are in shared/ipc.ts.
 */
import { FORMAT_EXTENSIONS, OUTPUT_FORMATS } from './image-formats';

/** What an entry of a listing is; 'outside': a link leading out of the allowed folders. */
export type BrowseEntryKind = 'folder' | 'image' | 'file' | 'outside';

export interface BrowseEntry {
  name: string;
  /** Full path (as listed, links not followed). */
  path: string;
  kind: BrowseEntryKind;
  /** Bytes, for files. */
  size: number | null;
}

/** A place the browser offers to start from: an allowed folder, the library, the samples. */
export interface BrowsePlace {
  label: string;
  path: string;
}

export interface BrowseListing {
  /** The folder listed; null: no folder was asked for (only `places`). */
  path: string | null;
  /** Its parent when the studio may list it, else null (the top of an allowed folder). */
  parent: string | null;
  /** From the top of the allowed folder holding it down to it. */
  crumbs: { name: string; path: string }[];
  /** Folders first, then files, each by name; hidden files are left out. */
  entries: BrowseEntry[];
  /** More entries than a listing carries: the rest were left out. */
  truncated: boolean;
  places: BrowsePlace[];
  /**
   * The folder asked for did not exist or was a file: `path` is the nearest folder holding
   * it, and this says what was asked for (so a typed path opens where it points).
   */
  asked: string | null;
}

/** Entries one listing carries at most. */
export const MAX_BROWSE_ENTRIES = 2000;

/** The image formats an upload may be: those the engine reads (by extension). */
export const UPLOAD_EXTENSIONS: readonly string[] = OUTPUT_FORMATS.flatMap(
  (f) => FORMAT_EXTENSIONS[f],
);

/** The largest file an upload takes (a 16-bit 40-megapixel TIFF is about 240 MB). */
export const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;
/** Bytes per chunk: base64 in a JSON request stays well under the server's 1 MiB body. */
export const UPLOAD_CHUNK_BYTES = 512 * 1024;
/** Base64 characters of a full chunk. */
export const UPLOAD_CHUNK_CHARS = Math.ceil(UPLOAD_CHUNK_BYTES / 3) * 4;

/** Whether a file name has an extension the studio takes as an upload. */
export function isUploadableName(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && UPLOAD_EXTENSIONS.includes(name.slice(dot).toLowerCase());
}

/** A new upload's answer: where the file will land when finished. */
export interface UploadStarted {
  uploadId: string;
  /** The inbox folder of this drop (all files of one drop share it). */
  folder: string;
}

/** Uploaded images whose conversion finished are removed once they are this many days old. */
export const INBOX_KEEP_DAYS = 14;

/** Files and their bytes (links counted as themselves, never followed). */
export interface FileTally {
  files: number;
  bytes: number;
}

/** What the library's inbox holds, for Settings ('inbox:usage'). */
export interface InboxUsage {
  /** The inbox folder, `<library>/inbox`. */
  path: string;
  /** Everything in it. */
  total: FileTally;
  /** Of which the uploaded images (the drops' own folders); the rest is mostly results. */
  uploads: FileTally;
  /** Why it cannot be emptied now (a job, a watched folder or an upload uses it), or null. */
  busy: string | null;
  /** Uploaded images converted and older than this are removed by themselves (days). */
  keepDays: number;
}
