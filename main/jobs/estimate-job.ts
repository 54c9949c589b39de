/**
 * How long a training step takes on this machine: the model of the chosen configuration
 * built on the chosen backend, one warm-up step (kernels compile, memory is laid out), then
 * a few timed steps on random crops of the configuration's size. Random pixels cost what
 * real ones do: a step's work depends on the shapes, not the values. (TF.js itself stays in
 * the engine: the crops are made by its padToMultipleOf4 and shaped with tensor methods.)
 */
import {
  resolveSinCutJobOptions,
  type EstimateJobResult,
  type EstimateJobSpec,
  type SinCutJobOptions,
} from '../../shared/ipc-worker';
import { resolveTrainOptions } from '../../shared/options';
import { initBackend } from '../engine/backend';
import { padToMultipleOf4 } from '../engine/infer/translate';
import { Rng } from '../engine/rng';
import { CutModel } from '../engine/train/cut-model';
import { SinCutModel } from '../engine/train/sincut-model';
import { drawSinCutSampling, sincutTrainStep } from '../engine/train/sincut-step';
import { drawSampling, trainStepAsync } from '../engine/train/train-step';

interface Stepper {
  step(): Promise<void>;
  dispose(): void;
}

export async function runEstimate(spec: EstimateJobSpec): Promise<EstimateJobResult> {
  const backend = await initBackend(spec.backend);
  const steps = spec.steps ?? 2;
  const stepper = spec.preset === 'sincut' ? sincutStepper(spec) : cutStepper(spec);
  try {
    let t = performance.now();
    await stepper.step();
    const warmupSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    for (let i = 0; i < steps; i++) await stepper.step();
    const secondsPerStep = (performance.now() - t) / 1000 / steps;
    return {
      secondsPerStep,
      warmupSeconds,
      steps,
      backend: backend.name,
      backendDetail: backend.detail,
    };
  } finally {
    stepper.dispose();
  }
}

type Crops = ReturnType<typeof padToMultipleOf4>;

/** `n` crops of side × side of uniform noise in [−1, 1], as one [n, side, side, 3] tensor. */
function crops(n: number, side: number, rng: Rng): Crops {
  const data = new Float32Array(n * side * side * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() * 2 - 1;
  // The n crops stacked as one tall image; padding (to a multiple of 4) is cut off again.
  const tall = padToMultipleOf4({ data, width: side, height: n * side });
  const cut = tall.slice([0, 0, 0, 0], [1, n * side, side, 3]);
  const stacked = cut.reshape([n, side, side, 3]) as Crops;
  tall.dispose();
  if (cut !== stacked) cut.dispose();
  return stacked;
}

function cutStepper(spec: EstimateJobSpec): Stepper {
  const opts = resolveTrainOptions({ ...spec.options, preset: spec.preset });
  const model = CutModel.create(opts);
  const rng = new Rng(opts.seed);
  const side = opts.cropSize;
  return {
    async step() {
      const a = crops(opts.batchSize, side, rng);
      const b = crops(opts.batchSize, side, rng);
      try {
        await trainStepAsync(model, a, b, drawSampling(model, side, side, rng));
      } finally {
        a.dispose();
        b.dispose();
      }
    },
    dispose: () => model.dispose(),
  };
}

function sincutStepper(spec: EstimateJobSpec): Stepper {
  const opts = resolveSinCutJobOptions(spec.options as unknown as SinCutJobOptions);
  const model = SinCutModel.create(opts);
  const rng = new Rng(opts.seed);
  const { batchSize: n, cropSize: side } = opts;
  return {
    async step() {
      const a = crops(n, side, rng);
      const b = crops(n, side, rng);
      try {
        await sincutTrainStep(model, a, b, drawSinCutSampling(model, n, side, side, rng));
      } finally {
        a.dispose();
        b.dispose();
      }
    },
    dispose: () => model.dispose(),
  };
}
