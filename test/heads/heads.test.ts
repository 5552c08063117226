import { expect } from 'chai';
import type { StateDict } from '../../onnx/index.js';
import { buildBoxHead } from '../../heads/boxHead.js';
import { buildMaskHead } from '../../heads/maskHead.js';
import { postprocessDetections } from '../../heads/roiHeads.js';
import { proposeRegions } from '../../heads/rpn.js';
import { buildRpnHead } from '../../heads/rpnHead.js';
import { torchvisionDefaults } from '../../src/config.js';
import { feed, relativeMaxDiff, runOnnx, stateDictFromArchive } from '../helpers/onnx.js';
import { torchReference } from '../helpers/reference.js';
import { type Archive, getFloat32, getInt } from '../helpers/tensorArchive.js';

/** The same weights under the names torchvision used before 0.13. */
function withOldKeyNames(sd: StateDict): StateDict {
  const renamed: StateDict = new Map();
  for (const [k, v] of sd) {
    const old = k
      .replace(/^rpn\.head\.conv\.0\.0\./, 'rpn.head.conv.')
      .replace(/^roi_heads\.mask_head\.(\d)\.0\./, (_, i: string) => `roi_heads.mask_head.mask_fcn${Number(i) + 1}.`);
    renamed.set(old, v);
  }
  return renamed;
}

describe('R-CNN head networks equal torchvision', () => {
  let ref: Archive;
  let sd: StateDict;
  before(() => {
    ref = torchReference('head_cases');
    sd = stateDictFromArchive(ref);
  });

  for (const names of ['0.14', 'pre-0.13'] as const) {
    it(`RPN head: objectness and deltas in anchor order (${names} key names)`, async () => {
      const weights = names === '0.14' ? sd : withOldKeyNames(sd);
      const head = buildRpnHead(weights, { levelNames: ['0', '1', '2', '3', 'pool'] });
      expect(head.anchorsPerLocation).to.equal(3);
      const feeds = Object.fromEntries(['0', '1', '2', '3', 'pool'].map((n) => [n, feed(ref, `features/${n}`)]));
      const out = await runOnnx(head.onnx, feeds);
      expect(out.objectness.dims).to.deep.equal([2, (16 * 24 + 8 * 12 + 4 * 6 + 2 * 3 + 2) * 3]);
      expect(relativeMaxDiff(out.objectness.data as Float32Array, getFloat32(ref, 'rpn/objectness'))).to.be.below(1e-4);
      expect(relativeMaxDiff(out.deltas.data as Float32Array, getFloat32(ref, 'rpn/deltas'))).to.be.below(1e-4);
    });
  }

  it('box head: class logits and per-class deltas', async () => {
    const head = buildBoxHead(sd, 256);
    expect([head.numClasses, head.pooledSize, head.representationSize]).to.deep.equal([7, 7, 1024]);
    const out = await runOnnx(head.onnx, { pooled: feed(ref, 'box/pooled') });
    expect(relativeMaxDiff(out.classLogits.data as Float32Array, getFloat32(ref, 'box/classLogits'))).to.be.below(1e-4);
    expect(relativeMaxDiff(out.boxDeltas.data as Float32Array, getFloat32(ref, 'box/boxDeltas'))).to.be.below(1e-4);
  });

  for (const names of ['0.14', 'pre-0.13'] as const) {
    it(`mask head: sigmoid of each RoI's label channel (${names} key names)`, async () => {
      const head = buildMaskHead(names === '0.14' ? sd : withOldKeyNames(sd), 256);
      expect([head.numClasses, head.layers]).to.deep.equal([7, 4]);
      const out = await runOnnx(head.onnx, { pooled: feed(ref, 'mask/pooled'), labels: feed(ref, 'mask/labels') });
      expect(out.maskProbs.dims).to.deep.equal([9, 1, 28, 28]);
      expect(relativeMaxDiff(out.maskProbs.data as Float32Array, getFloat32(ref, 'mask/probs'))).to.be.below(1e-4);
    });
  }

  it('names the missing key when a head weight is absent', () => {
    const partial = new Map(sd);
    partial.delete('roi_heads.box_predictor.cls_score.weight');
    expect(() => buildBoxHead(partial, 256)).to.throw(/roi_heads\.box_predictor\.cls_score\.weight/);
    const noRpn = new Map([...sd].filter(([k]) => !k.startsWith('rpn.head.conv')));
    expect(() => buildRpnHead(noRpn, { levelNames: ['0'] })).to.throw(/rpn\.head\.conv\.0\.0\.weight/);
  });

  it('names the key whose shape is wrong', () => {
    const bad = new Map(sd);
    bad.set('roi_heads.box_predictor.bbox_pred.weight', { dtype: 'float32', shape: [5, 1024], data: new Float32Array(5 * 1024) });
    expect(() => buildBoxHead(bad, 256)).to.throw(/bbox_pred\.weight' has shape \[5,1024\], expected \[28,1024\]/);
  });
});

describe('RPN and RoI head post-processing equal torchvision', () => {
  let ref: Archive;
  before(() => { ref = torchReference('head_cases'); });

  it('proposals: per-level top-k, decode, clip, small-box and score filters, NMS per level', () => {
    const r = ref.tensors.get('rpn/objectness')!.shape[1];
    const objectness = getFloat32(ref, 'rpn/objectness');
    const deltas = getFloat32(ref, 'rpn/deltas');
    const gridSizes: Array<[number, number]> = [[16, 24], [8, 12], [4, 6], [2, 3], [1, 2]];
    const imageSizes: Array<[number, number]> = [[60, 90], [64, 80]];
    imageSizes.forEach((imageSize, i) => {
      const head = { objectness: objectness.subarray(i * r, (i + 1) * r), deltas: deltas.subarray(i * r * 4, (i + 1) * r * 4), gridSizes };
      const ours = proposeRegions(head, torchvisionDefaults.rpn, [64, 96], imageSize);
      const expected = getFloat32(ref, `rpn/proposals${i}`);
      expect(ours.boxes.length).to.equal(expected.length);
      expect(relativeMaxDiff(ours.boxes, expected)).to.be.below(1e-5);
    });
  });

  it('detections: softmax, per-class decode, background and score filters, NMS per class', () => {
    const proposals = getFloat32(ref, 'box/proposals');
    const logits = getFloat32(ref, 'box/classLogits').map((v) => v * 3);
    const det = postprocessDetections(logits, getFloat32(ref, 'box/boxDeltas'), proposals, [60, 90], torchvisionDefaults.roiHeads);
    expect(Array.from(det.labels)).to.deep.equal(Array.from(getInt(ref, 'det/labels')));
    expect(det.labels.length).to.be.above(5);
    expect(relativeMaxDiff(det.boxes, getFloat32(ref, 'det/boxes'))).to.be.below(1e-5);
    expect(relativeMaxDiff(det.scores, getFloat32(ref, 'det/scores'))).to.be.below(1e-5);
  });
});
