// Engines may skip the crops wholeCrops names (ONNX Runtime copies even a crop that cuts
// nothing), so the rule must hold for every tile of every pass: checked against the geometry
// the tiles actually get, at the image's corners, edges and middle.
import { describe, expect, it } from 'vitest';
import {
  cycleganStages,
  generatorStages,
  passWindows,
  schedulePasses,
  type MapNode,
  type StorePolicy,
} from '../../../../main/engine/infer/stage-plan';
import { passGeometry, wholeCrops, type Crop } from '../../../../main/engine/infer/tile-geometry';
import { spanLength, tileGrid, type Rect } from '../../../../main/engine/infer/tiling';

const isWhole = (crop: Crop, window: Rect | undefined) =>
  window !== undefined &&
  crop.dy === 0 &&
  crop.dx === 0 &&
  crop.h === spanLength(window.y) &&
  crop.w === spanLength(window.x);

const cases: [string, MapNode[]][] = [
  ['CUT ngf 8, 3 blocks', generatorStages({ ngf: 8, nBlocks: 3 })],
  ['CycleGAN ngf 6, 2 blocks', cycleganStages({ ngf: 6, nBlocks: 2 })],
];

describe('wholeCrops', () => {
  for (const [label, nodes] of cases) {
    for (const policy of ['quarter', 'half', 'all'] as StorePolicy[]) {
      it(`${label}, store ${policy}: every crop it names is whole on every tile`, () => {
        const size = { height: 100, width: 148 };
        let named = 0;
        let cut = 0;
        for (const pass of schedulePasses(nodes, policy)) {
          const whole = wholeCrops(nodes, pass);
          for (const tile of tileGrid(size, 40)) {
            const windows = passWindows(nodes, pass, tile, size);
            for (const g of passGeometry(nodes, pass, tile, windows, size)) {
              for (const s of g.sources) {
                if (whole.source(s.id)) {
                  named++;
                  expect(isWhole(s.crop, windows.get(s.id)), `${s.id} → ${g.node.id}`).toBe(true);
                } else if (!isWhole(s.crop, windows.get(s.id))) cut++;
              }
              if (g.tile && whole.tile(g.node.id)) {
                named++;
                expect(isWhole(g.tile, windows.get(g.node.id)), `tile of ${g.node.id}`).toBe(true);
              } else if (g.tile && !isWhole(g.tile, windows.get(g.node.id))) cut++;
            }
          }
        }
        // Not vacuous: most crops are skipped, and some that cut remain.
        expect(named).toBeGreaterThan(0);
        expect(cut).toBeGreaterThan(0);
      });
    }
  }
});
