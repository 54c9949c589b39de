/**
 * The Settings view's form: the saved settings as editable fields, saved together; refusals
 * are shown next to the field they concern. The theme is applied to the page as soon as the
 * settings are known or saved (system: follows the operating system's light or dark mode).
 * What the engine detected on this machine (backends, auto's choice, GPUs) is asked for when
 * the view is first shown, and again on request.
 */
import type { PatchworkApi } from '../../../../shared/ipc';
import type {
  BackendDetection,
  SettingsView,
  StudioSettings,
} from '../../../../shared/ipc-settings';
import { StudioError } from '../../../../shared/ipc';
import { messageOf } from '../errors';

export class SettingsForm {
  view = $state<SettingsView | null>(null);
  theme = $state<StudioSettings['theme']>('dark');
  backend = $state<StudioSettings['backend']>('auto');
  engine = $state<StudioSettings['engine']>('auto');
  memoryBudgetMB = $state(3072);
  defaultFormat = $state<StudioSettings['defaultFormat']>('same');
  /** Empty: the default place. */
  libraryDir = $state('');
  /** Empty: the system's choice of GPU. */
  gpuAdapter = $state('');
  /** 'auto' or a count, as the select holds it. */
  threads = $state('auto');
  detection = $state<BackendDetection | null>(null);
  detecting = $state(false);
  detectError = $state<string | null>(null);
  busy = $state(false);
  error = $state<string | null>(null);
  fieldErrors = $state<Record<string, string>>({});
  saved = $state(false);

  constructor(
    private readonly api: PatchworkApi,
    private readonly applied: (settings: StudioSettings) => void,
  ) {}

  async load(): Promise<void> {
    this.show(await this.api.request('settings:get', {}));
  }

  /** The services' answer (or another tab's change) becomes the form's values. */
  show(view: SettingsView): void {
    this.view = view;
    this.fill(view.settings);
  }

  fill(s: StudioSettings): void {
    this.theme = s.theme;
    this.backend = s.backend;
    this.engine = s.engine;
    this.memoryBudgetMB = s.memoryBudgetMB;
    this.defaultFormat = s.defaultFormat;
    this.libraryDir = s.libraryDir ?? '';
    this.gpuAdapter = s.gpuAdapter ?? '';
    this.threads = String(s.threads);
    this.applied(s);
  }

  /** Asks what the engine finds here (kept by the services; `refresh` asks it again). */
  async detect(refresh = false): Promise<void> {
    if (this.detecting) return;
    this.detecting = true;
    this.detectError = null;
    try {
      this.detection = await this.api.request('settings:detect', refresh ? { refresh } : {});
    } catch (err) {
      this.detectError = messageOf(err);
    } finally {
      this.detecting = false;
    }
  }

  async save(): Promise<boolean> {
    this.busy = true;
    this.error = null;
    this.fieldErrors = {};
    this.saved = false;
    try {
      const library = this.libraryDir.trim();
      this.show(
        await this.api.request('settings:set', {
          theme: this.theme,
          backend: this.backend,
          engine: this.engine,
          memoryBudgetMB: this.memoryBudgetMB,
          defaultFormat: this.defaultFormat,
          gpuAdapter: this.gpuAdapter === '' ? null : this.gpuAdapter,
          threads: this.threads === 'auto' ? 'auto' : Number(this.threads),
          ...(this.view?.libraryFixed ? {} : { libraryDir: library === '' ? null : library }),
        }),
      );
      this.saved = true;
      return true;
    } catch (err) {
      this.error = messageOf(err);
      if (err instanceof StudioError) {
        this.fieldErrors = Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
      }
      return false;
    } finally {
      this.busy = false;
    }
  }
}

/** The page's colours for a theme: the data-theme attribute app.css reads. */
export function applyTheme(theme: StudioSettings['theme'], root: HTMLElement): void {
  const light =
    theme === 'light' ||
    (theme === 'system' &&
      typeof matchMedia === 'function' &&
      matchMedia('(prefers-color-scheme: light)').matches);
  root.dataset.theme = light ? 'light' : 'dark';
}
