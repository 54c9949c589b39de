/**
 * Which inference engine a conversion translates with (issue 18): ONNX Runtime where it loads
 * (every generator kind: CUT/FastCUT, CycleGAN, SinCUT's StyleGAN2 and ResNet), TF.js
 * otherwise. `auto` falls back with the reason, which the job prints among its opening lines;
 * `onnx` named explicitly fails with it instead.
 *
 * The execution provider is chosen like compute backends (runtime.ts): hardware first, cpu
 * always; PATCHWORK_ORT_PROVIDER names one (cuda, dml, coreml, webgpu, cpu).
 */
import type { EngineChoice } from '../../../shared/convert-options';
import {
  ORT_PROVIDERS,
  ortRuntime,
  type OrtProvider,
  type OrtProviderPreference,
  type OrtRuntime,
} from './runtime';

export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

export type ChosenEngine =
  { engine: 'onnx'; provider: OrtProvider; detail: string } | { engine: 'tfjs'; detail: string };

/** What kind of generator the style has, as far as the engines differ on it. */
export type GeneratorKind = 'resnet' | 'sincut';

function providerPreference(): OrtProviderPreference {
  const named = process.env.PATCHWORK_ORT_PROVIDER?.trim();
  if (!named || named === 'auto') return 'auto';
  if ((ORT_PROVIDERS as readonly string[]).includes(named)) return named as OrtProvider;
  throw new EngineError(
    `PATCHWORK_ORT_PROVIDER must be one of auto, ${ORT_PROVIDERS.join(', ')}; got "${named}"`,
  );
}

export async function chooseEngine(
  pref: EngineChoice,
  kind: GeneratorKind,
  runtime: OrtRuntime = ortRuntime,
): Promise<ChosenEngine> {
  if (pref === 'tfjs') return { engine: 'tfjs', detail: 'TF.js (asked for)' };
  void kind; // every kind runs on ONNX Runtime (SinCUT's through export/onnx-stylegan2.ts)
  const loaded = await runtime.load();
  if (!loaded.ok) {
    if (pref === 'onnx') throw new EngineError(`ONNX Runtime is not usable: ${loaded.reason}`);
    return { engine: 'tfjs', detail: `TF.js: ${loaded.reason}` };
  }
  const named = providerPreference();
  const version = `ONNX Runtime ${loaded.version}`;
  try {
    const report = await runtime.chooseProvider(named);
    return { engine: 'onnx', provider: report.name, detail: `${version}, ${report.detail}` };
  } catch (err) {
    // Only a named provider can fail here (cpu is always there once the module loads).
    const reason = err instanceof Error ? err.message : String(err);
    if (pref === 'onnx') throw new EngineError(reason);
    const cpu = await runtime.chooseProvider('cpu');
    return { engine: 'onnx', provider: 'cpu', detail: `${version}, ${cpu.detail} (${reason})` };
  }
}
