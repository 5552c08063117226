import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, type OnnxModel } from '../../onnx/index.js';
import { FORMAT_NAME, FORMAT_VERSION, type ManifestDraft, readModelPackage, writeModelPackage } from '../../src/modelPackage/index.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** y = x + w, with w [1, n] computed while the model is written by `fill`. */
function addModel(n: number, fill: (chunk: Float32Array, start: number) => void): GraphBuilder {
  const g = new GraphBuilder('add');
  const x = g.input('x', 'float32', ['N', n]);
  g.output(g.add(x, g.computedInitializer('w', [1, n], { length: n, fill })), 'y', 'float32', ['N', n]);
  return g;
}

const draft: ManifestDraft = {
  format: FORMAT_NAME, formatVersion: FORMAT_VERSION, architecture: 'fasterrcnn',
  backbone: { kind: 'resnet-fpn', arch: 'resnet18', frozenBnEps: 1e-5, levels: [{ name: '0', stride: 4, channels: 8 }] },
  classes: ['__background__', 'a'], config: {},
};

describe('model package writer with streamed networks', () => {
  let work: string;
  before(() => { work = mkdtempSync(join(tmpdir(), 'resdet-streamed-')); });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('records the size and sha256 of each streamed file as serialize() would give them, and reads back checked', () => {
    const g = addModel(300000, (chunk, start) => chunk.forEach((_, i) => { chunk[i] = Math.sin(start + i); }));
    const model: OnnxModel = g.toModel();
    const bytes = g.serialize();
    const out = join(work, 'pkg');
    const manifest = writeModelPackage(out, draft, { backbone: model, rpnHead: () => model, boxHead: bytes, maskHead: undefined });
    for (const role of ['backbone', 'rpnHead', 'boxHead'] as const) {
      expect(manifest.files[role], role).to.include({ bytes: bytes.byteLength, sha256: sha256(bytes) });
      expect(sha256(readFileSync(join(out, `${role}.onnx`))), role).to.equal(sha256(bytes));
    }
    expect(readModelPackage(out).files.backbone.byteLength).to.equal(bytes.byteLength);
  });

  it('leaves neither the package nor its temporary folder when a network fails while streaming', () => {
    const failing = addModel(300000, (_, start) => {
      if (start > 0) throw new Error('weights unreadable at element ' + start);
    }).toModel();
    const out = join(work, 'broken');
    expect(() => writeModelPackage(out, draft, { backbone: failing, rpnHead: failing, boxHead: failing, maskHead: undefined }))
      .to.throw(/weights unreadable at element 65536/);
    expect(existsSync(out)).to.equal(false);
    expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).to.deep.equal([]);
  });
});
