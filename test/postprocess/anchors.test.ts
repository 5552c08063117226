import { expect } from 'chai';
import { anchorStrides, cellAnchors, generateAnchors, numAnchorsPerLocation } from '../../postprocess/anchors.js';
import { OperatorInputError } from '../../postprocess/errors.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32 } from '../helpers/tensorArchive.js';

const ref = torchReference('box_ops_cases');
type Pair = [number, number];
const cases = (ref.meta.cases as { anchors: { name: string; sizes: number[][]; ratios: number[][]; image: Pair; grids: Pair[] }[] }).anchors;

describe('anchors (AnchorGenerator)', () => {
  for (const c of cases) {
    it(`generates the same anchors as AnchorGenerator.forward for ${c.name} (level, y, x, anchor order)`, () => {
      const out = generateAnchors({ sizes: c.sizes, aspectRatios: c.ratios }, c.grids, c.image);
      const expected = getFloat32(ref, `anchors/${c.name}/anchors`);
      expect(out.length).to.equal(expected.length);
      let maxAbsDiff = 0;
      for (let i = 0; i < expected.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(out[i] - expected[i]));
      console.log(`      ${c.name}: ${expected.length / 4} anchors, max abs diff ${maxAbsDiff}`);
      expect(maxAbsDiff).to.equal(0);
    });
  }

  it('rounds base anchors half to even, as torch.round (size 45 at ratio 1 -> ±22, not ±23)', () => {
    expect(Array.from(cellAnchors([45], [1]))).to.deep.equal([-22, -22, 22, 22]);
    expect(Array.from(cellAnchors([32], [0.5, 1, 2]))).to.deep.equal([-23, -11, 23, 11, -16, -16, 16, 16, -11, -23, 11, 23]);
  });

  it('takes strides as the padded size // grid size per axis (61, not 64, on an odd pool level)', () => {
    expect(anchorStrides([800, 1216], [[200, 304], [13, 19]])).to.deep.equal([[4, 4], [61, 64]]);
    expect(numAnchorsPerLocation({ sizes: [[32], [64, 128]], aspectRatios: [[0.5, 1, 2], [1]] })).to.deep.equal([3, 2]);
  });

  it('refuses mismatched level counts, non-positive sizes and non-integer grids', () => {
    const config = { sizes: [[32], [64]], aspectRatios: [[1], [1]] };
    expect(() => generateAnchors(config, [[4, 4]], [16, 16])).to.throw(OperatorInputError, /one entry per feature level/);
    expect(() => cellAnchors([0], [1])).to.throw(OperatorInputError, /anchor size 0/);
    expect(() => cellAnchors([32], [-1])).to.throw(OperatorInputError, /aspect ratio -1/);
    expect(() => anchorStrides([16, 16], [[0, 4]])).to.throw(OperatorInputError, /gridSizes\[0\] must be two positive integers/);
  });
});
