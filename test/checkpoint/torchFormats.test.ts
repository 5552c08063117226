/**
 * Every tensor read from files that torch 1.13 wrote equals, bit for bit, what torch saved:
 * zip and legacy formats, pickle protocols 2 and 4, DEFLATE and zip64 archives, nested training
 * checkpoints, DataParallel prefixes, a real torchvision backbone, and hand-written safetensors.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import type { StateDict } from '../../onnx/tensor.js';
import { loadCheckpoint, loadCheckpointBuffer } from '../../src/checkpoint/index.js';
import { caseBytes, caseFile, caseMeta, expected, expectSameTensor } from './helpers.js';

function expectCase(name: string, sd: StateDict): void {
  const keys = caseMeta(name).keys!;
  expect([...sd.keys()], `${name}: keys in the checkpoint's order`).to.deep.equal(keys);
  for (const key of keys) expectSameTensor(sd.get(key), expected(name, key), `${name}: '${key}'`);
}

describe('checkpoint: torch formats', function () {
  const small = ['small_zip', 'small_legacy', 'small_zip_p4', 'small_legacy_p4'];
  for (const name of small) {
    it(`${name}: every dtype, strided, expanded, shared-storage and empty tensor equals what torch saved (file)`, async function () {
      expectCase(name, await loadCheckpoint(caseFile(name)));
    });
    it(`${name}: the same from a Buffer`, async function () {
      expectCase(name, await loadCheckpointBuffer(caseBytes(name), name));
    });
  }

  for (const name of ['small_deflate', 'small_zip64', 'small_deflate_zip64']) {
    it(`${name}: a re-packed archive (DEFLATE entries / zip64 sizes and offsets) reads the same values`, async function () {
      expectCase(name, await loadCheckpoint(caseFile(name)));
      expectCase(name, await loadCheckpointBuffer(caseBytes(name), name));
    });
  }

  for (const name of ['nested_zip', 'nested_legacy']) {
    it(`${name}: a training checkpoint's state dict is found under 'model' despite optimizer, scheduler and argparse args`, async function () {
      expectCase(name, await loadCheckpoint(caseFile(name)));
    });
  }

  it("dataparallel_zip: the 'module.' prefix that DataParallel adds to every key is removed", async function () {
    expectCase('dataparallel_zip', await loadCheckpoint(caseFile('dataparallel_zip')));
  });

  it('safetensors: a hand-written file reads every dtype, the scalar and the empty tensor exactly', async function () {
    expectCase('safetensors', await loadCheckpoint(caseFile('safetensors', undefined, '.safetensors')));
  });

  it('zip format from a Buffer: float32 tensors are views of the Buffer, not copies', async function () {
    const bytes = caseBytes('small_zip');
    const sd = await loadCheckpointBuffer(bytes, 'small_zip');
    const weight = sd.get('0.weight')!;
    expect(weight.data.buffer, 'aligned float32 storage is viewed in place').to.equal(bytes.buffer);
    expect(sd.get('shared.a')!.data.buffer, 'tensors sharing a storage share memory').to.equal(sd.get('shared.full')!.data.buffer);
  });

  for (const name of ['model_zip', 'model_legacy']) {
    it(`${name}: a torchvision ResNet-18 FPN backbone state dict equals torch's (sha256 of every tensor)`, async function () {
      const { keys, hashes } = caseMeta(name);
      for (const sd of [await loadCheckpoint(caseFile(name)), await loadCheckpointBuffer(caseBytes(name), name)]) {
        expect([...sd.keys()]).to.deep.equal(keys);
        for (const key of keys!) {
          const t = sd.get(key)!;
          const [dtype, shape, sha] = hashes![key]!;
          expect([t.dtype, t.shape], key).to.deep.equal([dtype, shape]);
          const hash = createHash('sha256').update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).digest('hex');
          expect(hash, `${name}: '${key}' values`).to.equal(sha);
        }
      }
    });
  }
});
