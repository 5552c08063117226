import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeModelToFile } from '../../onnx/onnxFile.js';
import type { OnnxNetwork, StateDict } from '../../onnx/index.js';
import { buildBoxHead } from '../../heads/boxHead.js';
import { buildMaskHead } from '../../heads/maskHead.js';
import { buildRpnHead } from '../../heads/rpnHead.js';
import { feed, relativeMaxDiff, runOnnx, stateDictFromArchive } from '../helpers/onnx.js';
import { torchReference } from '../helpers/reference.js';
import { type Archive, getFloat32 } from '../helpers/tensorArchive.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('head networks streamed to files equal their serialized bytes', () => {
  let ref: Archive;
  let sd: StateDict;
  let work: string;
  before(() => {
    ref = torchReference('head_cases');
    sd = stateDictFromArchive(ref);
    work = mkdtempSync(join(tmpdir(), 'resdet-headfiles-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  /** Streams `head` to a file and checks it against `head.onnx`; returns the file's bytes. */
  function streamAndCompare(name: string, head: OnnxNetwork): Uint8Array {
    const path = join(work, `${name}.onnx`);
    const written = serializeModelToFile(head.model, path);
    const file = readFileSync(path);
    expect(written, name).to.deep.equal({ bytes: head.onnx.byteLength, sha256: sha256(head.onnx) });
    expect(sha256(file), name).to.equal(written.sha256);
    return file;
  }

  it('RPN head: same sha256 both ways, and the file gives torchvision\'s objectness', async () => {
    const file = streamAndCompare('rpnHead', buildRpnHead(sd, { levelNames: ['0', '1', '2', '3', 'pool'] }));
    const out = await runOnnx(file, Object.fromEntries(['0', '1', '2', '3', 'pool'].map((n) => [n, feed(ref, `features/${n}`)])));
    expect(relativeMaxDiff(out.objectness.data as Float32Array, getFloat32(ref, 'rpn/objectness'))).to.be.below(1e-4);
  });

  it('box head: same sha256 both ways, and the file gives torchvision\'s class logits', async () => {
    const file = streamAndCompare('boxHead', buildBoxHead(sd, 256));
    const out = await runOnnx(file, { pooled: feed(ref, 'box/pooled') });
    expect(relativeMaxDiff(out.classLogits.data as Float32Array, getFloat32(ref, 'box/classLogits'))).to.be.below(1e-4);
  });

  it('mask head: same sha256 both ways, and the file gives torchvision\'s mask probabilities', async () => {
    const file = streamAndCompare('maskHead', buildMaskHead(sd, 256));
    const out = await runOnnx(file, { pooled: feed(ref, 'mask/pooled'), labels: feed(ref, 'mask/labels') });
    expect(relativeMaxDiff(out.maskProbs.data as Float32Array, getFloat32(ref, 'mask/probs'))).to.be.below(1e-4);
  });
});
