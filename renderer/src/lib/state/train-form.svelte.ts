/**
 * The new-style form: two folders (or, for SinCUT, two images), a preset, the length and the
 * few options that matter most; the rest keep the preset's values. Field errors come back
 * from the services (the contract's issues) and are shown next to their field. The duration
 * comes from a step time measured on this machine (train:estimate), asked from the cache as
 * the configuration changes and measured when the artist asks.
 */
import {
  estimateSchema,
  StudioError,
  type AppInfo,
  type EstimateInput,
  type FolderSummary,
  type PairSummary,
  type PatchworkApi,
  type SinCutStartInput,
  type StepEstimate,
  type StudioSinCutOptions,
  type StudioTrainOptions,
  type TrainStartInput,
} from '../../../../shared/ipc';
import { resolveSinCutJobOptions } from '../../../../shared/ipc-worker';
import type { TrainBackendChoice } from '../../../../shared/jobs';
import {
  PRESET_DEFAULTS,
  sincutStepsPerEpoch,
  type Preset,
  type SinCutPreset,
} from '../../../../shared/options';
import { messageOf } from '../errors';
import { formatDuration } from '../format';
import { pathFromDropText } from '../drop';

/** What New style offers: the two folder presets and SinCUT (one image pair). */
export type StylePreset = Preset | 'sincut';
export const STYLE_PRESETS: readonly StylePreset[] = ['cut', 'fastcut', 'sincut'];

export const SINCUT_SETTING_TEXT: Record<SinCutPreset, string> = {
  reference: 'The reference code’s settings: 64-px crops, 16 per step.',
  paper: 'The paper’s settings: 128-px crops judged in 64-px windows; slower per step.',
};

export const PRESET_TEXT: Record<StylePreset, { title: string; text: string }> = {
  cut: {
    title: 'CUT — quality',
    text: 'Keeps your images’ content most faithfully. Slower: every step also checks that images already in the target look are left alone.',
  },
  fastcut: {
    title: 'FastCUT — speed',
    text: 'Lighter and quicker; changes can be bolder. A good first try.',
  },
  sincut: {
    title: 'SinCUT — one pair',
    text: 'Learns from just one image you have and one image with the look. Small networks on many small crops; good for textures and paintings.',
  },
};

type Role = 'source' | 'target';

export class TrainForm {
  name = $state('My style');
  source = $state('');
  target = $state('');
  preset = $state<StylePreset>('fastcut');
  /** SinCUT's two images (kept apart from the folders, so switching presets loses neither). */
  sourceImage = $state('');
  targetImage = $state('');
  setting = $state<SinCutPreset>('reference');
  /** SinCUT options; null: the setting's value. */
  sincutNgf = $state<number | null>(null);
  sincutCrop = $state<number | null>(null);
  sincutBatch = $state<number | null>(null);
  /** The engine's look at the pair: sizes and warnings (or why it cannot be read). */
  pair = $state<PairSummary | { error: string } | null>(null);
  /** The measured step time of the configuration as it stands, once known. */
  estimate = $state<StepEstimate | null>(null);
  measuring = $state(false);
  estimateError = $state<string | null>(null);
  /** The configuration the estimate belongs to (a later change clears it). */
  private estimateKey = '';
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

  /** Looks at SinCUT's images (either may still be empty): sizes, grayscale, warnings. */
  async inspectPair(): Promise<void> {
    const source = this.sourceImage.trim();
    const target = this.targetImage.trim();
    if (!source && !target) {
      this.pair = null;
      return;
    }
    try {
      this.pair = await this.api.request('sincut:inspect', {
        ...(source ? { source } : {}),
        ...(target ? { target } : {}),
        cropSize: this.sincutCropSize(),
      });
    } catch (err) {
      this.pair = { error: messageOf(err) };
    }
  }

  /** A path dropped on an image's box (a file manager's file:// URI, or a typed path). */
  drop(role: Role, text: string): boolean {
    const p = pathFromDropText(text);
    if (!p) return false;
    if (role === 'source') this.sourceImage = p;
    else this.targetImage = p;
    void this.inspectPair();
    return true;
  }

  async pickImage(role: Role): Promise<void> {
    try {
      const { paths } = await this.api.request('dialog:pick', {
        kind: 'files',
        title: role === 'source' ? 'The image you have' : 'The image with the look',
      });
      if (!paths[0]) return;
      if (role === 'source') this.sourceImage = paths[0];
      else this.targetImage = paths[0];
      await this.inspectPair();
    } catch (err) {
      this.error = messageOf(err);
    }
  }

  private sincutCropSize(): number {
    return this.sincutCrop ?? (this.setting === 'paper' ? 128 : 64);
  }

  /** SinCUT's options as the form holds them (the seed left out for a step's cost). */
  sincutOptions(seed = true): StudioSinCutOptions {
    return {
      ...(this.sincutNgf ? { ngf: this.sincutNgf } : {}),
      ...(this.sincutCrop ? { cropSize: this.sincutCrop } : {}),
      ...(this.sincutBatch ? { batchSize: this.sincutBatch } : {}),
      ...(seed ? { seed: this.seed } : {}),
    };
  }

  sincutInput(): SinCutStartInput {
    return {
      name: this.name,
      source: this.sourceImage.trim(),
      target: this.targetImage.trim(),
      setting: this.setting,
      options: this.sincutOptions(),
      iterations: this.iterations || null,
      backend: this.backend,
    };
  }

  /** What train:estimate is asked for the configuration as it stands. */
  estimateInput(): EstimateInput {
    if (this.preset === 'sincut') {
      const options = this.sincutOptions(false);
      return { preset: 'sincut', setting: this.setting, options, backend: this.backend };
    }
    const options = { ...this.input().options };
    delete options.seed;
    return { preset: this.preset, options, backend: this.backend };
  }

  /**
   * Steps the job will run: the steps field, or the preset's whole schedule (SinCUT: epochs
   * of 100,000 crops; CUT: epochs over the larger folder, once both are known); null: unknown.
   */
  totalSteps(): number | null {
    if (this.iterations) return this.iterations;
    if (this.preset === 'sincut') {
      try {
        const o = resolveSinCutJobOptions({ variant: this.setting, ...this.sincutOptions() });
        return (o.epochs + o.decayEpochs) * sincutStepsPerEpoch(o);
      } catch {
        return null;
      }
    }
    const counts = [this.folders.source, this.folders.target].map((f) =>
      f && 'images' in f ? f.images : null,
    );
    if (counts.some((c) => c === null)) return null;
    const d = PRESET_DEFAULTS[this.preset];
    return (d.epochs + d.decayEpochs) * Math.max(1, ...(counts as number[]));
  }

  /** "about 2 h 10 min on this machine (measured)", or null while no step time is known. */
  durationText(): string | null {
    const e = this.estimate;
    const steps = this.totalSteps();
    if (!e || steps === null) return null;
    const how = e.contended ? 'measured while another job ran: likely less' : 'measured';
    return `about ${formatDuration(e.secondsPerStep * steps)} on this machine (${how})`;
  }

  /**
   * The estimate for the configuration as it stands: from the library's cache (cheap, asked
   * whenever the configuration changes), or measured (`measure`: a few real training steps,
   * seconds to a minute) when the artist asks.
   */
  async refreshEstimate(how: 'cached' | 'measure' | 'remeasure' = 'cached'): Promise<void> {
    const ask = this.estimateInput();
    const key = JSON.stringify(ask);
    if (key !== this.estimateKey) this.estimate = null;
    this.estimateKey = key;
    this.estimateError = null;
    // A field mid-edit (empty, out of range): nothing to look up yet.
    if (how === 'cached' && !estimateSchema.safeParse(ask).success) return;
    if (how !== 'cached') this.measuring = true;
    try {
      const { estimate } = await this.api.request('train:estimate', {
        ...ask,
        ...(how === 'cached' ? { cachedOnly: true } : {}),
        ...(how === 'remeasure' ? { remeasure: true } : {}),
      });
      if (this.estimateKey === key) this.estimate = estimate;
    } catch (err) {
      // A cache lookup that fails says nothing worth showing; a measurement says why.
      if (this.estimateKey === key && how !== 'cached') this.estimateError = messageOf(err);
    } finally {
      if (how !== 'cached') this.measuring = false;
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

  /** The folder presets' request (SinCUT's is sincutInput). */
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
      preset: this.preset === 'sincut' ? 'fastcut' : this.preset,
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
      if (this.preset === 'sincut') await this.api.request('train:sincut', this.sincutInput());
      else await this.api.request('train:start', this.input());
      return true;
    } catch (err) {
      this.error = messageOf(err);
      if (err instanceof StudioError) {
        const fields: Record<string, string> = {};
        for (const i of err.issues) {
          const field = i.path.replace(/^options\./, '');
          // SinCUT's images have fields of their own.
          const own = this.preset === 'sincut' && (field === 'source' || field === 'target');
          fields[own ? `${field}Image` : field] = i.message;
        }
        this.fieldErrors = fields;
      }
      return false;
    } finally {
      this.busy = false;
    }
  }
}
