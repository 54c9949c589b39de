/** The convert form: a trained style, an image or folder in, a folder out, a format. */
import { CONVERT_FORMAT_CHOICES, type AppInfo, type PatchworkApi } from '../../../../shared/ipc';
import { messageOf } from '../errors';

export type FormatChoice = (typeof CONVERT_FORMAT_CHOICES)[number];

export class ConvertForm {
  styleId = $state('');
  input = $state('');
  output = $state('');
  recursive = $state(false);
  format = $state<FormatChoice>('same');
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
    };
    try {
      if (this.watch) await this.api.request('watch:start', request);
      else await this.api.request('convert:start', request);
      return true;
    } catch (err) {
      this.error = messageOf(err);
      return false;
    } finally {
      this.busy = false;
    }
  }
}
