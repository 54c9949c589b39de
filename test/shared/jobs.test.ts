// The job spec is validated where it enters, like the options: a bad field fails before any
// backend loads or folder is read, with a message naming the field.
import { describe, expect, it } from 'vitest';
import { resolveTrainJob, TRAIN_JOB_DEFAULTS, type TrainJobSpec } from '../../shared/jobs';
import { OptionsError } from '../../shared/options';

const spec: TrainJobSpec = { source: 'a', target: 'b', out: 'o', options: { preset: 'fastcut' } };

describe('resolveTrainJob', () => {
  it('fills in defaults and resolves the options against the preset', () => {
    const job = resolveTrainJob(spec);
    expect(job).toMatchObject({ ...TRAIN_JOB_DEFAULTS, iterations: null, untilStopped: false });
    expect(job.options.preset).toBe('fastcut');
    expect(job.options.lambdaNCE).toBe(10);
    expect(job.name).toBeNull();
  });

  it('keeps what the caller set', () => {
    const job = resolveTrainJob({
      ...spec,
      options: { preset: 'cut', ngf: 8 },
      iterations: 100,
      checkpointEvery: 7,
      previewCount: 0,
      backend: 'cpu',
      name: 'Monet',
    });
    expect(job).toMatchObject({ iterations: 100, checkpointEvery: 7, previewCount: 0 });
    expect(job.options.ngf).toBe(8);
    expect(job.backend).toBe('cpu');
  });

  it.each([
    [{ checkpointEvery: 0 }, 'checkpointEvery'],
    [{ iterations: 1.5 }, 'iterations'],
    [{ iterations: 10, untilStopped: true }, 'iterations'],
    [{ backend: 'gpu' }, 'backend'],
    [{ source: '' }, 'source'],
    [{ surprise: 1 }, '(job)'],
  ])('rejects %o naming %s', (patch, field) => {
    const bad = { ...spec, ...patch } as TrainJobSpec;
    expect(() => resolveTrainJob(bad)).toThrow(OptionsError);
    try {
      resolveTrainJob(bad);
    } catch (err) {
      expect((err as OptionsError).issues[0].option).toBe(field);
    }
  });

  it('rejects bad training options with the options message', () => {
    const bad = { ...spec, options: { preset: 'cut' as const, cropSize: 30 } };
    expect(() => resolveTrainJob(bad)).toThrow(/option "cropSize": must be a multiple of 4/);
  });
});
