/**
 * The desktop app's granted folders: what the artist picked or dropped is remembered in
 * grants.json and read again at the next start, so a restart neither loses a grant nor lets
 * the page name anything else.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GrantedRoots } from '../../../main/services/granted-roots';
import { PathPolicy } from '../../../main/services/path-policy';
import { useTempDir } from '../../support/temp-dir';

const tmp = useTempDir('patchwork-grants-', { each: true });

describe('GrantedRoots', () => {
  it('keeps a grant across a restart', async () => {
    const file = tmp.path('user-data', 'grants.json');
    const first = (await GrantedRoots.open(file)).grants;
    expect(first.list()).toEqual([]);
    await first.grant([tmp.path('photos'), tmp.path('photos', 'inner'), 'relative/folder']);
    const again = await GrantedRoots.open(file);
    expect(again.warning).toBeNull();
    expect(again.grants.list()).toEqual([tmp.path('photos')]);
  });

  it('holds a grant at once, before it is saved', async () => {
    const { grants } = await GrantedRoots.open(tmp.path('grants.json'));
    const saved = grants.grant([tmp.path('dropped.png')]);
    expect(grants.list()).toEqual([tmp.path('dropped.png')]);
    await saved;
  });

  it('drops entries that are not full paths, and says so', async () => {
    const file = tmp.path('grants.json');
    await fs.writeFile(file, JSON.stringify({ paths: ['/ok', 'rel', 3] }));
    const { grants, warning } = await GrantedRoots.open(file);
    expect(grants.list()).toEqual([path.resolve('/ok')]);
    expect(warning).toMatch(/not full paths/);
    await fs.writeFile(file, '{ not json');
    const broken = await GrantedRoots.open(file);
    expect(broken.grants.list()).toEqual([]);
    expect(broken.warning).toMatch(/could not be read/);
  });

  it('widens a PathPolicy while it runs', async () => {
    const { grants } = await GrantedRoots.open(tmp.path('grants.json'));
    const policy = new PathPolicy([tmp.path('library')], grants);
    expect(await policy.resolve(tmp.path('photos', 'a.png'))).toBeNull();
    await grants.grant([tmp.path('photos')]);
    expect(await policy.resolve(tmp.path('photos', 'a.png'))).toBe(tmp.path('photos', 'a.png'));
  });
});
