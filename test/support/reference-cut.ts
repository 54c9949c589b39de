// The `cut-small` reference fixture from the tests' own folder, with its model, patch draws
// and error measure bound to it (test/support/reference-model.ts), for the parity tests of
// every backend.
import type { Preset } from '../../shared/options';
import type { CutModel } from '../../main/engine/train/cut-model';
import type { StepSampling } from '../../main/engine/train/train-step';
import { Fixture } from './fixture';
import {
  buildReferenceModel,
  REFERENCE_LR,
  referenceConfig,
  referenceSampling,
} from './reference-model';

export { stepErrorRatio } from './reference-model';

export const fx = Fixture.load('cut-small');
export const cfg = referenceConfig(fx);
/** The learning rate of the fixture's optimisation step. */
export const lr = REFERENCE_LR;

export const buildModel = (preset: Preset): CutModel => buildReferenceModel(fx, preset);
export const sampling = (preset: Preset): StepSampling => referenceSampling(fx, preset);
