import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, type OnnxModel, attr, writeModel } from '../../onnx/index.js';
import { serializeModelToFile } from '../../onnx/onnxFile.js';
import { buildResNetFpn } from '../../backbones/index.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getShape } from '../helpers/tensorArchive.js';
import { archiveStateDict, relativeMaxDiff, runOnnx } from '../backbones/helpers.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The bytes `writeModel` streams through a staging buffer of `stagingBytes`, joined. */
function streamed(model: OnnxModel, stagingBytes: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  const n = writeModel(model, { write: (chunk) => chunks.push(chunk.slice()) }, stagingBytes);
  const out = Buffer.concat(chunks);
  expect(out.byteLength).to.equal(n);
  return out;
}

describe('ONNX models streamed to a file (serializeModelToFile)', () => {
  let work: string;
  before(() => { work = mkdtempSync(join(tmpdir(), 'resdet-onnxfile-')); });
  after(() => rmSync(work, { recursive: true, force: true }));

  it("writes a ResNet-18 FPN backbone byte for byte as serialize() encodes it, and the file gives torchvision's levels", async () => {
    const ref = torchReference('backbone_cases', ['resnet18']);
    const backbone = buildResNetFpn(archiveStateDict(ref), { eps: ref.meta.eps as number });
    const path = join(work, 'backbone.onnx');
    const written = serializeModelToFile(backbone.model, path);
    const file = readFileSync(path);
    expect(written).to.deep.equal({ bytes: backbone.onnx.byteLength, sha256: sha256(backbone.onnx) });
    expect(sha256(file)).to.equal(written.sha256);
    expect(Buffer.compare(file, backbone.onnx)).to.equal(0);

    const input = (ref.meta.inputs as string[])[0];
    const out = await runOnnx(file, backbone.inputName, getFloat32(ref, `${input}/images`), getShape(ref, `${input}/images`), ['0', 'pool']);
    for (const level of ['0', 'pool']) {
      expect(relativeMaxDiff(getFloat32(ref, `${input}/${level}`), out.get(level)!.data), level).to.be.below(1e-4);
    }
  });

  it('gives the same bytes whatever the staging size, payloads (folded FrozenBN weights too) crossing its boundaries', () => {
    const ref = torchReference('backbone_cases', ['narrow']);
    const backbone = buildResNetFpn(archiveStateDict(ref), { eps: 1e-5 });
    const expected = sha256(backbone.onnx);
    // 16: the smallest staging (every varint flushes often); 1000 and 65539: odd sizes that split
    // framing and raw_data unevenly; 1 << 24: the whole model staged at once.
    for (const staging of [16, 1000, 65539, 1 << 24]) expect(sha256(streamed(backbone.model, staging)), `staging ${staging}`).to.equal(expected);
  });

  it('streams computed initializers, negative int64 constants and tensor attributes as serialize() encodes them', () => {
    const g = new GraphBuilder('mixed');
    const x = g.input('x', 'float32', ['N', 3]);
    const big = g.computedInitializer('big', [3, 70000], { length: 210000, fill: (chunk, start) => chunk.forEach((_, i) => { chunk[i] = (start + i) * 0.5; }) });
    const half = g.node('Constant', [], { value: attr.tensor({ name: 'half', dtype: 'float32', dims: [1], data: Float32Array.of(0.5) }) })[0];
    const y = g.mul(g.node('MatMul', [x, big])[0], half);
    g.output(g.reshape(y, g.constInt64([-1, 70000])), 'y', 'float32', ['N', 70000]);
    const model = g.toModel({ metadata: { note: 'UTF-8 ✓' } });
    const path = join(work, 'mixed.onnx');
    const written = serializeModelToFile(model, path);
    expect(written.sha256).to.equal(sha256(g.serialize({ metadata: { note: 'UTF-8 ✓' } })));
    expect(sha256(readFileSync(path))).to.equal(written.sha256);
  });
});
