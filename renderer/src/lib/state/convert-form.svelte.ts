/**
 * The convert form: a trained style, an image or folder in, a folder out, a format, and the
 * encoding `patchwork convert` offers too (bit depth, colour profile, metadata, tile size),
 * at the same defaults.
 */
import {
  DEFAULT_ENCODING,
  ICC_CHOICES,
  type ConvertEncoding,
} from '../../../../shared/convert-options';
import { CONVERT_FORMAT_CHOICES, type AppInfo, type PatchworkApi } from '../../../../shared/ipc';
import { messageOf } from '../errors';

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

  async submit(): Promise<boolean> {
    this.busy = true;
    this.error = null;
    const request = {
      styleId: this.styleId,
      input: this.input.trim(),
      output: this.output.trim(),
      recursive: this.recursive,
      format: this.format,
      ...this.encoding(),
    };
    try {
      await this.api.request(this.watch ? 'watch:start' : 'convert:start', request);
      return true;
    } catch (err) {
      this.error = messageOf(err);
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
