/**
 * The new-style form: two folders (or, for SinCUT, two images), a preset, the length and the
 * few options that matter most; the rest keep the preset's values. From the first Start on,
 * every field is checked as it changes with the services' own schemas (and the services are
 * asked about the folders), each problem shown under its field in plain words; a job known to
 * fail is not started. Refusals from the services land under their fields too. The duration
 * comes from a step time measured on this machine (train:estimate), asked from the cache as
 * the configuration changes and measured when the artist asks.
 */
import {
  estimateSchema,
  sincutStartSchema,
  trainStartSchema,
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
  resolveTrainOptions,
  sincutStepsPerEpoch,
  type Preset,
  type SinCutPreset,
} from '../../../../shared/options';
import {
  byField,
  capitalise,
  issuesOf,
  messageOf,
  optionField,
  schemaProblems,
  type FieldOf,
} from '../errors';
import { FIELD_LABELS, fieldLabel } from '../../../../shared/plain-issues';
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

/** SinCUT's options live in fields of their own (empty: the setting's value). */
const SINCUT_FIELDS: Record<string, string> = {
  ngf: 'sincutNgf',
  cropSize: 'sincutCrop',
  batchSize: 'sincutBatch',
  source: 'sourceImage',
  target: 'targetImage',
};

/** Why a folder cannot be trained on though it can be read. */
export const NO_IMAGES = 'Has no images Patchwork can read (JPEG, PNG, WebP, TIFF or AVIF).';

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
  /** The discriminator's width; null: the preset's (64). */
  ndf = $state<number | null>(null);
  /** Epochs at the full learning rate, then epochs of linear decay; null: the preset's. */
  epochs = $state<number | null>(null);
  decayEpochs = $state<number | null>(null);
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
  /** The path each folder's look belongs to (a look at an older path says nothing). */
  private inspected = $state<Record<Role, string>>({ source: '', target: '' });
  busy = $state(false);
  error = $state<string | null>(null);
  /** Set by the first Start: from then on every field says what is wrong with it. */
  checked = $state(false);
  /** The services' refusals at the last Start, each with the value its field had then. */
  private refusals = $state<Record<string, { message: string; value: unknown }>>({});
  /** Each field's problem in plain words (none before the first Start). */
  readonly fieldErrors: Record<string, string> = $derived.by(() =>
    this.checked ? this.problems() : {},
  );

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
    // A first try that ends within minutes on one core (the sepia grade is a simple look):
    // FastCUT with small networks on both sides (at ndf 64 the discriminator costs more than
    // the whole ngf-16 generator), 64-px crops of the samples at their own size (160 px: a
    // smaller load size trains on a scale the conversion never sees), 300 steps whose second
    // half lowers the learning rate linearly towards zero (5 steps an epoch: 30 + 30 epochs),
    // a preview every 50. About 2.5 min on one thread of a 2-core Xeon (`patchwork train` with
    // these options); `npm run bench -- step --config sample` times its step.
    if (this.preset === 'sincut') this.preset = 'fastcut';
    this.ngf = 16;
    this.ndf = 16;
    this.nBlocks = 4;
    this.cropSize = 64;
    this.loadSize = 160;
    this.epochs = 30;
    this.decayEpochs = 30;
    this.iterations = 300;
    this.previewEvery = 50;
    void this.inspect('source');
    void this.inspect('target');
  }

  /** Looks at a folder: image count, thumbnails, warnings. */
  async inspect(field: 'source' | 'target'): Promise<void> {
    const dir = this[field].trim();
    if (!dir) {
      this.folders[field] = null;
      this.inspected[field] = '';
      return;
    }
    let look: FolderSummary | { error: string };
    try {
      look = await this.api.request('folder:inspect', { path: dir });
    } catch (err) {
      look = { error: messageOf(err) };
    }
    // A slower answer about a path since edited away says nothing about the new one.
    if (this[field].trim() !== dir) return;
    this.folders[field] = look;
    this.inspected[field] = dir;
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
    const epochs = (this.epochs ?? d.epochs) + (this.decayEpochs ?? d.decayEpochs);
    return epochs * Math.max(1, ...(counts as number[]));
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
      ...(this.ndf !== null ? { ndf: this.ndf } : {}),
      ...(this.epochs !== null ? { epochs: this.epochs } : {}),
      ...(this.decayEpochs !== null ? { decayEpochs: this.decayEpochs } : {}),
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

  /** The form's field for an issue's path (SinCUT's images and options have their own). */
  private readonly fieldOf: FieldOf = (path) => {
    const field = optionField(path);
    return this.preset === 'sincut' && (field === 'source' || field === 'target')
      ? `${field}Image`
      : field;
  };

  /** What a field holds now (to tell whether a refusal still stands). */
  private valueOf(field: string): unknown {
    const own = this.preset === 'sincut' ? (SINCUT_FIELDS[field] ?? field) : field;
    return (this as unknown as Record<string, unknown>)[own];
  }

  /**
   * Every field's problem: the request's schema, the options' cross-field rules, the folders
   * as the services last saw them, and the services' refusals for values not changed since.
   */
  problems(): Record<string, string> {
    const sincut = this.preset === 'sincut';
    const found = sincut
      ? schemaProblems(sincutStartSchema, this.sincutInput(), this.fieldOf)
      : schemaProblems(trainStartSchema, this.input(), this.fieldOf);
    if (!Object.keys(found).some((f) => !['name', 'source', 'target'].includes(f))) {
      // Each field fine alone: the rules between them (crop vs load size, multiples of 4).
      try {
        // As the services resolve them (a small crop brings D's window down with it).
        if (sincut) resolveSinCutJobOptions({ variant: this.setting, ...this.sincutOptions() });
        else resolveTrainOptions({ preset: this.input().preset, ...this.input().options });
      } catch (err) {
        Object.assign(found, byField(issuesOf(err), this.fieldOf), found);
      }
    }
    if (!sincut) {
      for (const role of ['source', 'target'] as const) {
        const look = this.folders[role];
        if (found[role] || !look || this.inspected[role] !== this[role].trim()) continue;
        if ('error' in look) found[role] = capitalise(look.error);
        else if (look.images === 0) found[role] = NO_IMAGES;
      }
    } else if (this.pair && !('error' in this.pair) && this.pair.problem) {
      found.sourceImage ??= capitalise(this.pair.problem);
    }
    for (const [field, refusal] of Object.entries(this.refusals)) {
      if (!found[field] && this.valueOf(field) === refusal.value) found[field] = refusal.message;
    }
    return found;
  }

  /**
   * Starts the job unless a field is known to be wrong; the services are asked about the
   * folders (or images) as they are now first. A second Start while one is on its way, or
   * an Enter pressed again, starts nothing.
   */
  async submit(): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    this.error = null;
    this.refusals = {};
    this.checked = true;
    try {
      if (this.preset === 'sincut') await this.inspectPair();
      else await Promise.all([this.inspect('source'), this.inspect('target')]);
      const found = this.problems();
      const problems = Object.keys(found);
      if (problems.length) {
        // A field the form shows by its label; any other with what is wrong with it.
        const names = problems.map((f) => {
          const own = f.replace(/Image$/, '');
          return own in FIELD_LABELS ? fieldLabel(own) : `${f} (${found[f]})`;
        });
        this.error = `Not started: check ${names.filter((n, i) => names.indexOf(n) === i).join(', ')}.`;
        return false;
      }
      if (this.preset === 'sincut') await this.api.request('train:sincut', this.sincutInput());
      else await this.api.request('train:start', this.input());
      // The job is on its way: the form is quiet until the next Start.
      this.checked = false;
      return true;
    } catch (err) {
      this.error = messageOf(err);
      const refusals: Record<string, { message: string; value: unknown }> = {};
      for (const i of issuesOf(err)) {
        const field = this.fieldOf(i.path);
        refusals[field] ??= { message: capitalise(i.message), value: this.valueOf(field) };
      }
      this.refusals = refusals;
      return false;
    } finally {
      this.busy = false;
    }
  }
}
