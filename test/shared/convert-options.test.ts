/**
 * The conversion options the studio's request, the engine's job spec and the CLI share: the
 * same choices, absent meaning today's behaviour, and 16 bits only where a format holds them.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ENCODING, holdsSixteenBits } from '../../shared/convert-options';
import { convertStartSchema } from '../../shared/ipc';
import { convertJobSpecSchema, parseToWorker } from '../../shared/ipc-worker';

const request = { styleId: 'sepia', input: '/in', output: '/out' };

describe('conversion options', () => {
  it('a request may leave them out, or give the CLI’s choices', () => {
    expect(convertStartSchema.safeParse(request).success).toBe(true);
    const full = {
      ...request,
      format: 'tiff',
      bitDepth: 16,
      icc: 'source',
      metadata: 'copy',
      tile: 512,
    };
    expect(convertStartSchema.parse(full)).toEqual(full);
    expect(DEFAULT_ENCODING).toEqual({ bitDepth: 8, icc: 'srgb', metadata: 'strip' });
  });

  it('refuses 16 bits for a format that cannot hold them, and unknown choices', () => {
    for (const format of ['jpeg', 'webp', 'avif', 'same'] as const) {
      expect(holdsSixteenBits(format)).toBe(false);
      const r = convertStartSchema.safeParse({ ...request, format, bitDepth: 16 });
      expect(r.success, format).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(['bitDepth']);
    }
    for (const bad of [{ bitDepth: 12 }, { icc: 'p3' }, { metadata: 'all' }, { tile: 4 }]) {
      expect(
        convertStartSchema.safeParse({ ...request, ...bad }).success,
        JSON.stringify(bad),
      ).toBe(false);
    }
  });

  it('the job spec carries them to the engine process unchanged', () => {
    const spec = {
      styleDir: '/s',
      input: '/in',
      output: '/out',
      recursive: false,
      format: 'png' as const,
      backend: 'wasm' as const,
      bitDepth: 16 as const,
      icc: 'none' as const,
      metadata: 'copy' as const,
      tile: 256,
    };
    expect(convertJobSpecSchema.parse(spec)).toEqual(spec);
    expect(parseToWorker({ type: 'convert', jobId: 'c1', spec })).toEqual({
      type: 'convert',
      jobId: 'c1',
      spec,
    });
  });
});
