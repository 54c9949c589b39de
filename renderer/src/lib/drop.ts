/**
 * Paths from a drag and drop: the desktop app can say where a dropped file or folder lives
 * (`pathOf`); file managers also put a file:// URI or a path in the drop's text, which a
 * browser passes on. Anything else (an image dragged from a web page, a relative name) is not
 * a path the services can open: null.
 */
export function pathFromDropText(text: string): string | null {
  const line = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('#'));
  if (!line) return null;
  let p = line;
  if (line.startsWith('file://')) {
    try {
      // file:///home/a/b%20c.jpg, file://host/…, file:///C:/…
      p = decodeURIComponent(line.replace(/^file:\/\/[^/]*/, '')).replace(/^\/([A-Za-z]:)/, '$1');
    } catch {
      return null;
    }
  }
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) ? p : null;
}

export interface DropData {
  files?: ArrayLike<File> | null;
  getData(kind: string): string;
}

export function droppedPath(
  data: DropData | null | undefined,
  pathOf: (file: File) => string | null,
): string | null {
  if (!data) return null;
  const file = data.files?.[0];
  const known = file ? pathOf(file) : null;
  if (known) return known;
  return pathFromDropText(data.getData('text/uri-list') || data.getData('text/plain') || '');
}

export const NO_PATH_DROPPED =
  'The browser did not say where that file is. Type its full path, or drag it from a file manager.';
