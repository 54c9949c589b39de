/**
 * The new-style form: two folders, a preset, the length and the few options that matter
 * most; the rest keep the preset's values. Field errors come back from the services (the
 * contract's issues) and are shown next to their field.
 */
import {
  StudioError,
  type AppInfo,
  type FolderSummary,
  type PatchworkApi,
  type StudioTrainOptions,
  type TrainStartInput,
} from '../../../../shared/ipc';
import type { TrainBackendChoice } from '../../../../shared/jobs';
import type { Preset } from '../../../../shared/options';
import { messageOf } from '../errors';

export const PRESET_TEXT: Record<Preset, { title: string; text: string }> = {
  cut: {
    title: 'CUT — quality',
    text: 'Keeps your images’ content most faithfully. Slower: every step also checks that images already in the target look are left alone.',
  },
  fastcut: {
    title: 'FastCUT — speed',
    text: 'Lighter and quicker; changes can be bolder. A good first try.',
  },
};

export class TrainForm {
  name = $state('My style');
  source = $state('');
  target = $state('');
  preset = $state<Preset>('fastcut');
  /** Steps to train; empty: the preset's full schedule. */
  iterations = $state<number | null>(2000);
  ngf = $state(64);
  nBlocks = $state(9);
  cropSize = $state(256);
  loadSize = $state(286);
  lambdaNCE = $state<number | null>(null);
  seed = $state(0);
  previewEvery = $state(100);
  backend = $state<TrainBackendChoice>('auto');
  /** What is in each folder (or why it cannot be read), once looked at. */
  folders = $state<Record<'source' | 'target', FolderSummary | { error: string } | null>>({
    source: null,
    target: null,
  });
  busy = $state(false);
  error = $state<string | null>(null);
  fieldErrors = $state<Record<string, string>>({});

  constructor(
    private readonly api: PatchworkApi,
    private readonly info: () => AppInfo | null,
  ) {}

  useSamples(): void {
    const s = this.info()?.samples;
    if (!s) return;
    this.source = s.source;
    this.target = s.target;
    this.name = 'Sepia samples';
    void this.inspect('source');
    void this.inspect('target');
  }

  /** Looks at a folder: image count, thumbnails, warnings. */
  async inspect(field: 'source' | 'target'): Promise<void> {
    const dir = this[field].trim();
    if (!dir) {
      this.folders[field] = null;
      return;
    }
    try {
      this.folders[field] = await this.api.request('folder:inspect', { path: dir });
    } catch (err) {
      this.folders[field] = { error: messageOf(err) };
    }
  }

  /** A network small enough to see a result within minutes on a laptop. */
  quickSettings(): void {
    this.ngf = 16;
    this.nBlocks = 4;
    this.cropSize = 128;
    this.loadSize = 143;
    this.iterations = 500;
  }

  input(): TrainStartInput {
    const options: StudioTrainOptions = {
      ngf: this.ngf,
      nBlocks: this.nBlocks,
      cropSize: this.cropSize,
      loadSize: this.loadSize,
      seed: this.seed,
      ...(this.lambdaNCE !== null ? { lambdaNCE: this.lambdaNCE } : {}),
    };
    return {
      name: this.name,
      source: this.source.trim(),
      target: this.target.trim(),
      preset: this.preset,
      options,
      iterations: this.iterations || null,
      previewEvery: this.previewEvery,
      backend: this.backend,
    };
  }

  async pick(field: 'source' | 'target'): Promise<void> {
    const { paths } = await this.api.request('dialog:pick', {
      kind: 'folder',
      title: field === 'source' ? 'Images you have' : 'The look you want',
    });
    if (paths[0]) {
      this[field] = paths[0];
      await this.inspect(field);
    }
  }

  async submit(): Promise<boolean> {
    this.busy = true;
    this.error = null;
    this.fieldErrors = {};
    try {
      await this.api.request('train:start', this.input());
      return true;
    } catch (err) {
      this.error = messageOf(err);
      if (err instanceof StudioError) {
        const fields: Record<string, string> = {};
        for (const i of err.issues) fields[i.path.replace(/^options\./, '')] = i.message;
        this.fieldErrors = fields;
      }
      return false;
    } finally {
      this.busy = false;
    }
  }
}
