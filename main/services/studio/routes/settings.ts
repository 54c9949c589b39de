/**
 * The settings view's requests: the settings in force and what they mean here (the library
 * in use, whether a restart is needed), a validated change (saved by ../../settings.ts; a
 * new GPU adapter closes the idle engine processes), and what the engine finds on this
 * machine (../backend-detection.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { SettingsPatch, SettingsView } from '../../../../shared/ipc-settings';
import { ENGINE_CHOICES } from '../../../../shared/convert-options';
import { applyThreadSetting } from '../../settings';
import { BACKEND_CHOICES } from '../../../../shared/jobs';
import type { Handlers, StudioContext } from '../context';
import { RequestError } from '../request-error';

type SettingsChannel = 'settings:get' | 'settings:set' | 'settings:detect';

export function settingsRoutes(ctx: StudioContext): Handlers<SettingsChannel> {
  return {
    'settings:get': () => settingsView(ctx),
    'settings:set': (input) => changeSettings(ctx, input),
    'settings:detect': (input) => ctx.gpu.detect(input.refresh ?? false),
  };
}

function settingsView(ctx: StudioContext): SettingsView {
  const { opts } = ctx;
  const settings = ctx.settings();
  const inUse = path.resolve(opts.libraryDir);
  return {
    settings,
    libraryInUse: inUse,
    libraryFixed: opts.libraryFixed ?? false,
    restartNeeded:
      !opts.libraryFixed &&
      settings.libraryDir !== null &&
      path.resolve(settings.libraryDir) !== inUse,
    backends: BACKEND_CHOICES,
    engines: ENGINE_CHOICES,
  };
}

async function changeSettings(ctx: StudioContext, patch: SettingsPatch): Promise<SettingsView> {
  const store = ctx.settingsStore();
  if (!store) throw new RequestError('internal', 'the settings are not loaded');
  if (patch.libraryDir !== undefined && patch.libraryDir !== store.get().libraryDir) {
    if (ctx.opts.libraryFixed) {
      throw new RequestError(
        'rejected',
        'libraryDir: this studio’s library is given with --library when it is started',
        [{ path: 'libraryDir', message: 'set with --library' }],
      );
    }
    if (patch.libraryDir !== null) {
      const made = await fs.mkdir(patch.libraryDir, { recursive: true }).then(
        () => null,
        (err: NodeJS.ErrnoException) => err.code ?? 'error',
      );
      const stat = await fs.stat(patch.libraryDir).catch(() => null);
      if (made || !stat?.isDirectory()) {
        throw new RequestError('rejected', `libraryDir: ${patch.libraryDir} cannot be used`, [
          { path: 'libraryDir', message: 'not a folder that can be written' },
        ]);
      }
    }
  }
  const before = store.get();
  const settings = await store.update(patch);
  if (settings.threads !== before.threads) applyThreadSetting(settings.threads);
  // A new adapter or thread count: idle engines close, and detection (which names both) redoes.
  if (settings.gpuAdapter !== before.gpuAdapter || settings.threads !== before.threads) {
    ctx.gpu.apply(true);
  }
  ctx.emit({ type: 'settings', settings });
  return settingsView(ctx);
}
