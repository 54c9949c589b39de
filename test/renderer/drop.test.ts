import { describe, expect, it } from 'vitest';
import { droppedPath, pathFromDropText } from '../../renderer/src/lib/drop';

describe('paths from a drop', () => {
  it('reads file:// URIs and absolute paths, skipping comments and blank lines', () => {
    expect(pathFromDropText('# from nautilus\r\nfile:///home/a/b%20c.jpg\r\n')).toBe(
      '/home/a/b c.jpg',
    );
    expect(pathFromDropText('file:///C:/Users/a/x.png')).toBe('C:/Users/a/x.png');
    expect(pathFromDropText('file://host/share/x.png')).toBe('/share/x.png');
    expect(pathFromDropText('C:\\pics\\x.png')).toBe('C:\\pics\\x.png');
    expect(pathFromDropText('/srv/in')).toBe('/srv/in');
  });

  it('refuses what names no file here', () => {
    expect(pathFromDropText('')).toBeNull();
    expect(pathFromDropText('https://example.com/cat.jpg')).toBeNull();
    expect(pathFromDropText('cat.jpg')).toBeNull();
    expect(pathFromDropText('file:///bad%E0%A4%A.png')).toBeNull();
  });

  it('prefers the path the app knows for a dropped file, else the text', () => {
    const data = (files: object[], text: string) => ({
      files: files as unknown as File[],
      getData: (k: string) => (k === 'text/plain' ? text : ''),
    });
    const pathOf = (f: File) => (f as unknown as { p?: string }).p ?? null;
    expect(droppedPath(data([{ p: '/known/x.png' }], '/text/y.png'), pathOf)).toBe('/known/x.png');
    expect(droppedPath(data([{}], '/text/y.png'), pathOf)).toBe('/text/y.png');
    expect(droppedPath(data([], ''), pathOf)).toBeNull();
    expect(droppedPath(null, pathOf)).toBeNull();
  });
});
