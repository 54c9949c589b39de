// The `sincut-small` fixture from the tests' own folder, with its networks and recorded
// step bound to it (test/support/reference-sincut-model.ts), for the SinCUT parity tests of
// every backend.
import { Fixture } from './fixture';
import {
  buildReferenceD,
  buildReferenceG,
  buildReferenceSinCut,
  referenceSinCutSampling,
  sincutReferenceConfig,
} from './reference-sincut-model';

export const fx = Fixture.load('sincut-small', 'sincut');
export const cfg = sincutReferenceConfig(fx);

export const buildG = () => buildReferenceG(fx);
export const buildD = () => buildReferenceD(fx);
export const buildModel = () => buildReferenceSinCut(fx);
export const stepSampling = () => referenceSinCutSampling(fx);
