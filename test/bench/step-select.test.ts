import { describe, expect, it } from 'vitest';
import { measuresOf, selectStep } from './step.bench';

describe('step bench --config', () => {
  it('runs every configuration with its own measures when no name is given', () => {
    const sel = selectStep(undefined);
    expect(sel.configs.map((c) => c.key)).toEqual(['paper', 'paper@96', 'small', 'sample']);
    expect(sel.measures).toBeNull();
    const sample = sel.configs.find((c) => c.key === 'sample');
    // The studio sample trains FastCUT only.
    expect(sample && measuresOf(sample, sel)).toEqual(['forward', 'fastcut']);
    expect(measuresOf(sel.configs[0], sel)).toEqual(['forward', 'fastcut', 'cut']);
  });

  it('has the studio sample configuration', () => {
    const sample = selectStep(['sample']).configs[0];
    expect(sample).toMatchObject({ size: 64, ngf: 16, nBlocks: 4, ndf: 16, numPatches: 256 });
  });

  it('takes configuration keys and measure names in any mix', () => {
    const sel = selectStep(['fastcut', 'sample', 'small']);
    expect(sel.configs.map((c) => c.key)).toEqual(['sample', 'small']);
    expect(sel.measures).toEqual(['fastcut']);
    expect(measuresOf(sel.configs[1], sel)).toEqual(['fastcut']);
  });

  it('measures alone keep every configuration', () => {
    const sel = selectStep(['forward']);
    expect(sel.configs).toHaveLength(4);
    expect(sel.measures).toEqual(['forward']);
  });

  it('refuses an unknown name, listing the known ones', () => {
    expect(() => selectStep(['sampel'])).toThrow(
      '--config: unknown name "sampel" (known: paper, paper@96, small, sample, forward, fastcut, cut)',
    );
  });
});
