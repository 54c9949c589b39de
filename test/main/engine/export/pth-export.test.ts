// The exported state dict must be what the reference's load_state_dict(strict=True) takes:
// its key names (blur buffers included for CUT), torch layouts, float32 — checked here by
// reading it back with the importer, bit for bit, and checked once against PyTorch itself by
// make_import_fixtures.py check-export (see test/fixtures/import/README.md).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/engine/backend';
import { exportPth, torchStateDict } from '../../../../main/engine/export/pth-export';
import {
  generatorFromRecognized,
  readGeneratorCheckpoint,
} from '../../../../main/engine/import/import-style';
import { readPth, TorchTensor } from '../../../../main/engine/import/pth';
import { recognizeGenerator } from '../../../../main/engine/import/recognize';
import { ZipReader } from '../../../../main/engine/import/zip';
import { disposeParams } from '../../../../main/engine/model/params';
import { pthBytes, pthPath } from '../import/import-fixtures';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('export to a PyTorch state dict', () => {
  for (const model of ['cut', 'cyclegan', 'cut_module']) {
    it(`${model}: the same keys, shapes and values as the original, module prefix aside`, async () => {
      const G = generatorFromRecognized(await readGeneratorCheckpoint(pthPath(model)));
      const bytes = exportPth(G, 'latest_net_G.pth');
      const original = readPth(pthBytes(model)) as Map<string, TorchTensor>;
      const exported = readPth(bytes) as Map<string, TorchTensor>;
      const strip = (k: string) => k.replace(/^module\./, '');
      expect([...exported.keys()].sort()).toEqual([...original.keys()].map(strip).sort());
      for (const [k, t] of original) {
        const e = exported.get(strip(k)) as TorchTensor;
        expect(e.shape, k).toEqual(t.shape);
        expect(Buffer.from(e.values().buffer).equals(Buffer.from(t.values().buffer)), k).toBe(true);
      }
      // and it imports again as the same generator
      const again = recognizeGenerator(exported);
      expect(again.architecture).toBe(model.startsWith('cut') ? 'cut-resnet' : 'cyclegan-resnet');
      disposeParams(G.params);
    });
  }

  it('lays the archive out as torch.save does: one folder, 64-byte aligned records', async () => {
    const G = generatorFromRecognized(await readGeneratorCheckpoint(pthPath('cut')));
    const bytes = exportPth(G, '/some/where/zebra.pth');
    const zip = new ZipReader(bytes);
    const names = [...zip.entries.keys()];
    expect(names[0]).toBe('zebra/data.pkl');
    expect(names).toContain('zebra/version');
    expect(names.filter((n) => n.startsWith('zebra/data/'))).toHaveLength(torchStateDict(G).length);
    for (const e of zip.entries.values()) {
      const nameLen = bytes.readUInt16LE(e.headerOffset + 26);
      const extraLen = bytes.readUInt16LE(e.headerOffset + 28);
      expect((e.headerOffset + 30 + nameLen + extraLen) % 64, e.name).toBe(0);
    }
    disposeParams(G.params);
    expect(tf.memory().numTensors).toBe(0);
  });
});
