// The stage list must be the generator, conv for conv, and the schedule must keep its memory
// promise (quarter-resolution maps only, a few at a time) — both checked on the plan alone.
import { describe, expect, it } from 'vitest';
import { generatorSpecs } from '../../../../main/engine/model/generator';
import { channelsAfter } from '../../../../main/engine/infer/tiling';
import {
  chooseTile,
  DEFAULT_STORE_POLICY,
  fullResHalo,
  generatorStages,
  IMAGE,
  minTile,
  passHalos,
  schedulePasses,
  sourceChannels,
  tileBytes,
  type StorePolicy,
} from '../../../../main/engine/infer/stage-plan';

const cfg = { ngf: 64, nBlocks: 9 };

describe('generatorStages', () => {
  const nodes = generatorStages(cfg);

  it('has one normalised map per instance norm: 23 at 9 blocks', () => {
    expect(nodes.filter((n) => n.normalised)).toHaveLength(23);
  });

  it('runs every conv of the generator exactly once, with its channel count', () => {
    const convs = nodes.flatMap((n) => n.ops.filter((op) => op.kind === 'conv'));
    const weights = generatorSpecs(cfg).filter((s) => s.name.endsWith('.weight'));
    expect(convs.map((c) => `${c.layer}.weight`)).toEqual(weights.map((s) => s.name));
    expect(convs.map((c) => c.outChannels)).toEqual(weights.map((s) => s.shape[3]));
  });
});

describe('schedulePasses', () => {
  const nodes = generatorStages(cfg);
  const scale = (id: string) => nodes.find((n) => n.id === id)?.scale;

  it('stores only quarter-resolution maps, each written once and freed by the end', () => {
    const passes = schedulePasses(nodes, 'quarter');
    expect(passes).toHaveLength(2 * cfg.nBlocks + 6);
    const written = passes.flatMap((p) => p.write);
    expect(new Set(written).size).toBe(written.length);
    expect(written.every((id) => scale(id) === 4)).toBe(true);
    expect(passes.flatMap((p) => p.free).sort()).toEqual([...written].sort());
  });

  it('holds at most four stored maps at once', () => {
    const live = new Set<string>();
    let peak = 0;
    for (const p of schedulePasses(nodes, 'quarter')) {
      p.write.forEach((id) => live.add(id));
      peak = Math.max(peak, live.size);
      p.free.forEach((id) => live.delete(id));
    }
    expect(peak).toBe(4);
    expect(live.size).toBe(0);
  });

  it("recomputes the full- and half-resolution stages; 'all' stores them instead", () => {
    const quarter = schedulePasses(nodes, 'quarter');
    const evaluated = quarter.flatMap((p) => p.evaluate);
    expect(evaluated.filter((id) => id === 'stem')).toHaveLength(4);
    expect(evaluated.filter((id) => id === 'up1')).toHaveLength(3);
    const all = schedulePasses(nodes, 'all');
    expect(all.flatMap((p) => p.evaluate).filter((id) => id === 'stem')).toHaveLength(1);
  });
});

describe("the 'half' store policy (the default)", () => {
  const nodes = generatorStages(cfg);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  /** Multiply-adds per full-resolution pixel of every conv the passes evaluate. */
  const convWork = (evaluate: string[]) =>
    evaluate.reduce((sum, id) => {
      const node = byId.get(id);
      if (!node) throw new Error(id);
      let c = sourceChannels(nodes, node.source);
      for (const op of node.ops) {
        if (op.kind === 'conv') sum += (op.size * op.size * c * op.outChannels) / node.scale ** 2;
        c = channelsAfter(op, c);
      }
      return sum;
    }, 0);
  const untiled = convWork(nodes.map((n) => n.id));

  it('is the default, and stores the quarter- and half-resolution maps, never a full one', () => {
    expect(DEFAULT_STORE_POLICY).toBe('half');
    const written = schedulePasses(nodes, 'half').flatMap((p) => p.write);
    expect(written.filter((id) => byId.get(id)?.scale === 2).sort()).toEqual(['down2', 'up1']);
    expect(written.every((id) => (byId.get(id)?.scale ?? 1) >= 2)).toBe(true);
  });

  it('cuts the recomputed convolution work from 48% over untiled to 17%', () => {
    const work = (policy: StorePolicy) =>
      convWork(schedulePasses(nodes, policy).flatMap((p) => p.evaluate)) / untiled;
    expect(work('all')).toBeCloseTo(1, 6);
    expect(work('quarter')).toBeCloseTo(1.48, 2);
    expect(work('half')).toBeCloseTo(1.17, 2);
  });

  it('holds at most 1.5 ngf floats per image pixel in stored maps at once', () => {
    const perPixel = (id: string) => {
      const n = byId.get(id);
      return n ? n.channels / n.scale ** 2 : 0;
    };
    const peak = (policy: StorePolicy) => {
      const live = new Set<string>();
      let most = 0;
      for (const p of schedulePasses(nodes, policy)) {
        p.write.forEach((id) => live.add(id));
        most = Math.max(
          most,
          [...live].reduce((s, id) => s + perPixel(id), 0),
        );
        p.free.forEach((id) => live.delete(id));
      }
      return most / cfg.ngf;
    };
    expect(peak('quarter')).toBe(1);
    expect(peak('half')).toBe(1.5);
  });
});

describe('passHalos', () => {
  const nodes = generatorStages({ ngf: 4, nBlocks: 2 });
  const passes = schedulePasses(nodes, 'quarter');
  const halos = (target: string) =>
    passHalos(nodes, passes.find((p) => p.target === target) ?? passes[0], 64);

  it('is each stage’s own receptive field, at that stage’s resolution', () => {
    expect(halos('stem').get(IMAGE)).toBe(3); // conv7
    expect(halos('block1.conv2').get('block1.conv1')).toBe(1); // conv3 at H/4
    expect(halos('block2.conv1').get('block1.conv2')).toBe(1);
    // Decoder: (upsample, conv3) twice reaches back 2 pixels at H/4.
    expect(halos('up2').get('up1')).toBe(1);
    expect(halos('up2').get('res2')).toBe(2);
    // The first quarter-resolution pass recomputes the encoder: halos add up down the chain
    // (conv3 at H/4; blur-down reads 2 rows before; conv3 at H/2; blur-down; conv3; conv7).
    const enc = halos('block1.conv1');
    expect([enc.get('res0'), enc.get('down2'), enc.get('down1'), enc.get(IMAGE)]).toEqual([
      1, 4, 12, 16,
    ]);
  });
});

describe('chooseTile', () => {
  const nodes = generatorStages(cfg);
  const passes = schedulePasses(nodes, 'quarter');
  const size = { height: 4000, width: 6000 };

  it('grows with the budget, from the smallest tile worth running to the whole image', () => {
    const tiles = [1e3, 64e6, 512e6, 4e9, 1e15].map((b) => chooseTile(nodes, passes, size, b));
    expect(tiles[0]).toBe(16); // not 4: a 4-px tile would be mostly its 16-px halo
    expect(tiles.every((t, i) => i === 0 || t >= tiles[i - 1])).toBe(true);
    expect(tiles.every((t) => t % 4 === 0)).toBe(true);
    expect(tiles[4]).toBe(6000);
  });
});

describe('the smallest tile worth running', () => {
  const nodes = generatorStages(cfg);
  const passes = schedulePasses(nodes, 'quarter');

  it("is the widest halo: the first residual pass recomputes the encoder from the image's 16 px", () => {
    expect(fullResHalo(nodes, passes)).toBe(16);
    expect(minTile(nodes, passes, { height: 4000, width: 6000 })).toBe(16);
    // An image smaller than that is a single tile, with no halo inside it.
    expect(minTile(nodes, passes, { height: 8, width: 12 })).toBe(12);
  });

  it('is what a budget too small for it gets, although it exceeds the budget', () => {
    const size = { height: 4000, width: 6000 };
    const tight = tileBytes(nodes, passes, 16, size) - 1;
    expect(chooseTile(nodes, passes, size, tight)).toBe(16);
    expect(chooseTile(nodes, passes, size, tileBytes(nodes, passes, 20, size))).toBe(20);
  });
});
