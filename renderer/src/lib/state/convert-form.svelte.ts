/**
 * The convert form: a trained style, an image or folder in, a folder out, a format, and the
 * encoding `patchwork convert` offers too (bit depth, colour profile, metadata, tile size),
 * at the same defaults. From the first Start on, the fields are checked as they change with
 * the services' own schema, and before a conversion starts the services are asked about the
 * input (an empty folder converts nothing) and the output (never the input itself).
 */
import {
  DEFAULT_ENCODING,
  ICC_CHOICES,
  type ConvertEncoding,
} from '../../../../shared/convert-options';
import {
  CONVERT_FORMAT_CHOICES,
  convertStartSchema,
  type AppInfo,
  type ConvertStartInput,
  type PatchworkApi,
} from '../../../../shared/ipc';
import { fieldLabel } from '../../../../shared/plain-issues';
import { capitalise, issuesOf, messageOf, schemaProblems } from '../errors';

export type FormatChoice = (typeof CONVERT_FORMAT_CHOICES)[number];
export type IccChoice = (typeof ICC_CHOICES)[number];

export class ConvertForm {
  styleId = $state('');
  input = $state('');
  output = $state('');
  recursive = $state(false);
  format = $state<FormatChoice>('same');
  bitDepth = $state<8 | 16>(DEFAULT_ENCODING.bitDepth);
  icc = $state<IccChoice>(DEFAULT_ENCODING.icc);
  /** Copy EXIF and XMP from each input (orientation reset). */
  keepMetadata = $state(false);
  /** Tile side in pixels; null: the largest that fits the memory budget, large images only. */
  tile = $state<number | null>(null);
  /** Watch the input folder instead of converting it once. */
  watch = $state(false);
  busy = $state(false);
  error = $state<string | null>(null);
  /** Set by the first Start: from then on every field says what is wrong with it. */
  checked = $state(false);
  /** Problems the services found at the last Start, each with the value its field had then. */
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
    if (s) this.input = s.heldOut;
  }

  async pick(field: 'input' | 'output'): Promise<void> {
    const { paths } = await this.api.request('dialog:pick', {
      kind: 'folder',
      title: field === 'input' ? 'Images to convert' : 'Where the results go',
    });
    if (paths[0]) this[field] = paths[0];
  }

  request(): ConvertStartInput {
    return {
      styleId: this.styleId,
      input: this.input.trim(),
      output: this.output.trim(),
      recursive: this.recursive,
      format: this.format,
      ...this.encoding(),
    };
  }

  private valueOf(field: string): unknown {
    return (this as unknown as Record<string, unknown>)[field];
  }

  /** Every field's problem: the schema's, the two folders', the services' still standing. */
  problems(): Record<string, string> {
    const found = schemaProblems(convertStartSchema, this.request());
    if (found.styleId) found.styleId = 'Choose a style (train one first if the list is empty).';
    const input = this.input.trim();
    const output = this.output.trim();
    if (!found.output && input && samePath(input, output)) {
      found.output = 'Must differ from the input: Patchwork never writes over your images.';
    }
    for (const [field, refusal] of Object.entries(this.refusals)) {
      if (!found[field] && this.valueOf(field) === refusal.value) found[field] = refusal.message;
    }
    return found;
  }

  /** Asks the services what the input holds: an empty or unreadable folder converts nothing. */
  private async inspectInput(): Promise<void> {
    const input = this.input.trim();
    if (!input || this.watch) return;
    try {
      const look = await this.api.request('folder:inspect', {
        path: input,
        recursive: this.recursive,
      });
      if (look.images === 0) {
        const where = this.recursive ? 'this folder or its subfolders' : 'this folder';
        this.refuse('input', `No images in ${where} (JPEG, PNG, WebP, TIFF or AVIF).`);
      }
    } catch (err) {
      // A single image is not a folder: the conversion itself reads it.
      if (/not a folder|is a file/i.test(messageOf(err))) return;
      this.refuse('input', capitalise(messageOf(err)));
    }
  }

  private refuse(field: string, message: string): void {
    this.refusals = { ...this.refusals, [field]: { message, value: this.valueOf(field) } };
  }

  /**
   * Starts the conversion (or the watch) unless a field is known to be wrong; a second Start
   * while one is on its way starts nothing.
   */
  async submit(): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    this.error = null;
    this.refusals = {};
    this.checked = true;
    try {
      // The services look at the input too, so every problem shows at once.
      if (!this.problems().input) await this.inspectInput();
      // In the form's order, top to bottom.
      const order = ['styleId', 'input', 'output'];
      const rank = (f: string) => (order.includes(f) ? order.indexOf(f) : order.length);
      const problems = Object.keys(this.problems()).sort((a, b) => rank(a) - rank(b));
      if (problems.length) {
        this.error = `Not started: check ${problems.map(fieldLabel).join(', ')}.`;
        return false;
      }
      await this.api.request(this.watch ? 'watch:start' : 'convert:start', this.request());
      this.checked = false;
      return true;
    } catch (err) {
      this.error = messageOf(err);
      for (const i of issuesOf(err)) this.refuse(i.path, capitalise(i.message));
      return false;
    } finally {
      this.busy = false;
    }
  }

  /** The encoding choices beyond the format that differ from the defaults (the services'). */
  encoding(): Omit<ConvertEncoding, 'format' | 'quality'> {
    const metadata = this.keepMetadata ? 'copy' : 'strip';
    return {
      ...(this.bitDepth !== DEFAULT_ENCODING.bitDepth ? { bitDepth: this.bitDepth } : {}),
      ...(this.icc !== DEFAULT_ENCODING.icc ? { icc: this.icc } : {}),
      ...(metadata !== DEFAULT_ENCODING.metadata ? { metadata } : {}),
      ...(typeof this.tile === 'number' ? { tile: this.tile } : {}),
    };
  }
}

/** The same folder, written either way ("a/b/", "a/b", "a//b"). */
function samePath(a: string, b: string): boolean {
  const norm = (p: string) => p.replace(/[\\/]+/g, '/').replace(/\/$/, '');
  return norm(a) === norm(b);
}
