/**
 * The studio as the desktop app builds it (openAppStudio, with the dialog faked): its page
 * may name the library and what the artist granted, and nothing else — a compromised page
 * asking for ~/.ssh is refused — and a folder picked in the dialog stays granted after a
 * restart.
 */
import { promises as fs } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reply } from '../../../shared/ipc';
import { openAppStudio } from '../../../main/app/app-studio';
import type { Studio } from '../../../main/services/studio/studio';
import type { WorkerHost } from '../../../main/services/worker-host';
import { useTempDir } from '../../support/temp-dir';

const tmp = useTempDir('patchwork-app-studio-', { each: true });

/** An engine host that is never asked to run anything here. */
function idleHost(host: object = { pid: null, dispose: () => undefined }): WorkerHost {
  return host as WorkerHost;
}

const open: Studio[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.dispose()));
});

async function appStudio(dialogAnswer: string[] = []) {
  const { studio, grants } = await openAppStudio({
    userDataDir: tmp.path('user-data'),
    samplesDir: null,
    version: 'test',
    host: idleHost(),
    spawnHost: () => idleHost(),
    showOpenDialog: () => Promise.resolve(dialogAnswer),
    reveal: () => undefined,
  });
  open.push(studio);
  return { studio, grants };
}

function inspect(studio: Studio, folder: string): Promise<Reply<unknown>> {
  return studio.handle({ channel: 'folder:inspect', input: { path: folder } });
}

describe('the desktop studio', () => {
  it('refuses a folder nobody granted, as a request and as a served file', async () => {
    const ssh = tmp.path('home', '.ssh');
    await fs.mkdir(ssh, { recursive: true });
    await fs.writeFile(tmp.path('home', '.ssh', 'id.png'), 'secret');
    const { studio } = await appStudio();
    expect(await inspect(studio, ssh)).toMatchObject({
      ok: false,
      error: { code: 'forbidden-path' },
    });
    expect(await studio.readableFile(tmp.path('home', '.ssh', 'id.png'))).toBeNull();
    // The library is the studio's own.
    expect(await inspect(studio, tmp.path('user-data', 'library'))).toMatchObject({ ok: true });
  });

  it('allows a folder picked in the dialog, also after a restart', async () => {
    const photos = tmp.path('photos');
    await fs.mkdir(photos);
    const first = await appStudio([photos]);
    expect(await inspect(first.studio, photos)).toMatchObject({ ok: false });
    const picked = await first.studio.handle({ channel: 'dialog:pick', input: { kind: 'folder' } });
    expect(picked).toEqual({ ok: true, value: { paths: [photos] } });
    expect(await inspect(first.studio, photos)).toMatchObject({ ok: true });
    await first.studio.dispose();

    const restarted = await appStudio();
    expect(await inspect(restarted.studio, photos)).toMatchObject({ ok: true });
    expect(await inspect(restarted.studio, tmp.path('user-data'))).toMatchObject({ ok: false });
  });
});
