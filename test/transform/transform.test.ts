import { expect } from 'chai';
import { torchvisionDefaults } from '../../src/config.js';
import { resizedSize, transformImage } from '../../src/transform/index.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getInt, getShape } from '../helpers/tensorArchive.js';

describe('transform (GeneralizedRCNNTransform)', () => {
  const ref = torchReference('transform_cases');
  const sizes = ref.meta.sizes as string[];
  const cfg = torchvisionDefaults.transform;

  for (const name of sizes) {
    it(`resizes, normalises and pads a ${name} image as torchvision 0.14 does`, () => {
      const [, h, w] = getShape(ref, `${name}/image`);
      const out = transformImage({ data: getFloat32(ref, `${name}/image`), height: h, width: w }, cfg);
      expect(out.imageSize).to.deep.equal(Array.from(getInt(ref, `${name}/image_size`)));
      const expected = getFloat32(ref, `${name}/tensors`);
      expect([3, ...out.paddedSize]).to.deep.equal(getShape(ref, `${name}/tensors`));
      let maxDiff = 0;
      for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i] - out.data[i]));
      expect(maxDiff).to.be.below(1e-5);
    });
  }

  it('computes the scale in float32 as 0.14 does (427x640 -> 799x1199), or in double on request', () => {
    expect(resizedSize(427, 640, cfg)).to.deep.equal([799, 1199]);
    expect(resizedSize(427, 640, { ...cfg, resizeScaleRule: 'float64' })).to.deep.equal([800, 1199]);
  });
});
