import { expect } from 'chai';
import { BBOX_XFORM_CLIP, decodeBoxes, encodeBoxes } from '../../postprocess/boxCoder.js';
import { OperatorInputError } from '../../postprocess/errors.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32 } from '../helpers/tensorArchive.js';

const ref = torchReference('box_ops_cases');

/**
 * Largest |ours - torchvision| over a flat array, with each box's error measured against its own
 * coordinate scale (2^-20 of the largest |coordinate| of the 4, at least 1): exp/log in torch are
 * SLEEF's (within 1 ulp), so a decoded corner may differ by an ulp of the box's size.
 * Non-finite values must be identical (same infinity, NaN where torch has NaN).
 */
function compare(actual: Float32Array, expected: Float32Array): { maxAbsDiff: number; worstRatio: number; exact: number } {
  expect(actual.length).to.equal(expected.length);
  let maxAbsDiff = 0, worstRatio = 0, exact = 0;
  for (let b = 0; b < expected.length; b += 4) {
    let scale = 1;
    for (let c = b; c < b + 4; c++) if (Number.isFinite(expected[c])) scale = Math.max(scale, Math.abs(expected[c]));
    for (let c = b; c < b + 4; c++) {
      const a = actual[c], e = expected[c];
      if (!Number.isFinite(e)) {
        expect(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `element ${c}: ours ${a}, torchvision ${e}`).to.equal(true);
        continue;
      }
      const d = Math.abs(a - e);
      if (d === 0) exact++;
      maxAbsDiff = Math.max(maxAbsDiff, d);
      worstRatio = Math.max(worstRatio, d / (scale * 2 ** -20));
    }
  }
  return { maxAbsDiff, worstRatio, exact };
}

describe('decodeBoxes (BoxCoder.decode_single)', () => {
  it('decodes RPN deltas against anchors with weights (1, 1, 1, 1) and clips dw/dh at log(1000/16), as torchvision', () => {
    const out = decodeBoxes(getFloat32(ref, 'decode/rpn/rel_codes'), getFloat32(ref, 'decode/rpn/boxes'), [1, 1, 1, 1]);
    const r = compare(out, getFloat32(ref, 'decode/rpn/pred'));
    console.log(`      rpn decode: max abs diff ${r.maxAbsDiff}, ${r.exact}/${out.length} bit-exact`);
    expect(r.worstRatio).to.be.at.most(1);
  });

  it('decodes 91 classes of deltas [N, K*4] per proposal with weights (10, 10, 5, 5), as roi_heads does', () => {
    const out = decodeBoxes(getFloat32(ref, 'decode/roi/rel_codes'), getFloat32(ref, 'decode/roi/boxes'), [10, 10, 5, 5]);
    const r = compare(out, getFloat32(ref, 'decode/roi/pred'));
    console.log(`      roi decode: max abs diff ${r.maxAbsDiff}, ${r.exact}/${out.length} bit-exact`);
    expect(r.worstRatio).to.be.at.most(1);
  });

  it('uses log(1000/16) as the default clip and returns empty for no boxes', () => {
    expect(BBOX_XFORM_CLIP).to.equal(Math.log(1000 / 16));
    expect(decodeBoxes(new Float32Array(0), new Float32Array(0), [1, 1, 1, 1]).length).to.equal(0);
  });

  it('refuses deltas that are not [N, K*4] for the boxes given, and bad weights', () => {
    const boxes = new Float32Array([0, 0, 10, 10, 5, 5, 20, 20]);
    expect(() => decodeBoxes(new Float32Array(12), boxes, [1, 1, 1, 1])).to.throw(OperatorInputError, /relCodes has 12 numbers, not \[N, K\*4\] for N = 2/);
    expect(() => decodeBoxes(new Float32Array(4), new Float32Array(0), [1, 1, 1, 1])).to.throw(OperatorInputError, /boxes is empty/);
    expect(() => decodeBoxes(new Float32Array(8), boxes, [1, 1, 0, 1])).to.throw(OperatorInputError, /weights must be 4 finite non-zero/);
    expect(() => decodeBoxes(new Float32Array(8), boxes.subarray(0, 6), [1, 1, 1, 1])).to.throw(OperatorInputError, /boxes has 6 numbers/);
  });
});

describe('encodeBoxes (encode_boxes)', () => {
  for (const w of [1, 10]) {
    const weights = w === 1 ? [1, 1, 1, 1] as const : [10, 10, 5, 5] as const;
    it(`encodes reference boxes against proposals with weights (${weights.join(', ')}) as torchvision`, () => {
      const out = encodeBoxes(getFloat32(ref, 'encode/reference_boxes'), getFloat32(ref, 'encode/proposals'), weights);
      const r = compare(out, getFloat32(ref, `encode/targets_${w}`));
      console.log(`      encode (${weights.join(',')}): max abs diff ${r.maxAbsDiff}, ${r.exact}/${out.length} bit-exact`);
      expect(r.worstRatio).to.be.at.most(1);
    });
  }

  it('refuses reference boxes and proposals of different counts', () => {
    expect(() => encodeBoxes(new Float32Array(8), new Float32Array(4), [1, 1, 1, 1])).to.throw(OperatorInputError, /referenceBoxes has 2 boxes but proposals has 1/);
  });
});
