// The `sincut` bench times PyTorch beside TF.js (test/bench/sincut_reference.py): its figure
// means something only while that script computes the engine's step. This runs the bench's own
// check at the smallest setting the bench has (`tiny`: G widths 16/32, 2 blocks, D judging
// random 16² windows of 32² crops, so the windows' offsets count too) with 3 crops: the same
// parameter count per network, and one step's losses from the same weights and draws within
// 1e-5 (achieved ~1e-6, float32 against float64; the script with G's window fixed at the
// corner instead of drawn differs by 4e-4). Needs Debian's python3-torch; without it the file
// is skipped, saying so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../main/engine/backend';
import { NOT_INSTALLED, torchStatus } from './pytorch';
import { sincutBenchSettings } from './sincut.bench';
import { checkAgainstTorch, tfjsParamCounts } from './sincut-torch';

const TOL = 1e-5;
const torch = torchStatus();
if (!torch.available) console.warn(`sincut bench reference skipped: ${NOT_INSTALLED}`);

describe.skipIf(!torch.available)('the sincut bench’s PyTorch step', { timeout: 180_000 }, () => {
  const [tiny] = sincutBenchSettings(true, 1);
  const figures: string[] = [];
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterAll(() => console.info(figures.join('\n')));

  it('has the engine’s parameters and losses for one step from the same start', async () => {
    const check = await checkAgainstTorch(tiny, 3, 1);
    expect(check.torchParams).toEqual(tfjsParamCounts(tiny.opts));
    const names = check.losses.map((l) => l.name);
    // Every term of the SinCUT loss is on at the bench's settings: none may go unchecked.
    expect(names).toEqual(['D_fake', 'D_real', 'D_R1', 'D', 'G_GAN', 'NCE', 'NCE_Y', 'idt', 'G']);
    for (const l of check.losses) {
      figures.push(`${l.name}: TF.js ${l.tfjs} PyTorch ${l.torch} (${l.diff.toExponential(1)})`);
      expect(l.diff, l.name).toBeLessThan(TOL);
    }
  });
});
