import { expect } from 'chai';
import { boxArea, boxIou, clipBoxesToImage, removeSmallBoxes } from '../../postprocess/boxes.js';
import { OperatorInputError } from '../../postprocess/errors.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getInt } from '../helpers/tensorArchive.js';

const ref = torchReference('box_ops_cases');

/** Bit-exact equality with NaN equal to NaN: these ops have no transcendental functions. */
function expectBitExact(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const same = Object.is(actual[i], expected[i]) || (Number.isNaN(actual[i]) && Number.isNaN(expected[i]));
    expect(same, `element ${i}: ours ${actual[i]}, torchvision ${expected[i]}`).to.equal(true);
  }
}

describe('box utilities (torchvision.ops.boxes)', () => {
  it('clips [N, K*4] boxes to (height, width) bit-exactly as clip_boxes_to_image, NaN kept', () => {
    expectBitExact(clipBoxesToImage(getFloat32(ref, 'clip/boxes'), [600, 800]), getFloat32(ref, 'clip/clipped'));
  });

  it('removes boxes with a side below min_size as remove_small_boxes, float32 sides against a float32 min_size', () => {
    const boxes = getFloat32(ref, 'small/boxes');
    for (const m of ['0.001', '0.01']) {
      expect(Array.from(removeSmallBoxes(boxes, Number(m)))).to.deep.equal(Array.from(getInt(ref, `small/keep_${m}`)));
    }
  });

  it('computes box_area and box_iou bit-exactly, inverted and zero-area boxes included', () => {
    const b1 = getFloat32(ref, 'iou/boxes1');
    const b2 = getFloat32(ref, 'iou/boxes2');
    expectBitExact(boxArea(b1), getFloat32(ref, 'iou/area1'));
    expectBitExact(boxIou(b1, b2), getFloat32(ref, 'iou/iou'));
  });

  it('refuses a box array whose length is not a multiple of 4 and a bad image size', () => {
    expect(() => boxArea(new Float32Array(5))).to.throw(OperatorInputError, /boxes has 5 numbers/);
    expect(() => clipBoxesToImage(new Float32Array(4), [NaN, 3])).to.throw(OperatorInputError, /imageSize/);
    expect(() => removeSmallBoxes(new Float32Array(4), NaN)).to.throw(OperatorInputError, /minSize is NaN/);
  });

  it('returns empty results for no boxes', () => {
    expect(clipBoxesToImage(new Float32Array(0), [10, 10]).length).to.equal(0);
    expect(removeSmallBoxes(new Float32Array(0), 1).length).to.equal(0);
    expect(boxIou(new Float32Array(0), new Float32Array(8)).length).to.equal(0);
  });
});
