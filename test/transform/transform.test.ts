import { expect } from 'chai';
import { torchvisionDefaults } from '../../src/config.js';
import { resizedSize, transformImage } from '../../src/transform/index.js';
import { torchReference } from '../helpers/reference.js';
import { Prng } from '../../src/dataset/prng.js';
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

  it('gives 8-bit images the float path\'s tensor to the bit, already at the model\'s size (no resampling) or not', () => {
    const prng = new Prng(3);
    for (const [h, w] of [[256, 256], [256, 200], [300, 310]]) {
      const rgb = Uint8Array.from({ length: h * w * 3 }, () => Math.floor(prng.next() * 256));
      const planar = new Float32Array(3 * h * w);
      for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) planar[c * h * w + i] = Math.fround(rgb[3 * i + c] / 255);
      const sized = { ...cfg, minSize: 256, maxSize: 256 };
      const a = transformImage({ rgb, height: h, width: w }, sized);
      const b = transformImage({ data: planar, height: h, width: w }, sized);
      expect(a.imageSize, `${h}x${w}`).to.deep.equal(b.imageSize);
      expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer)), `${h}x${w}: same bits`).to.equal(true);
    }
  });

  it('computes the scale in float32 as 0.14 does (427x640 -> 799x1199), or in double on request', () => {
    expect(resizedSize(427, 640, cfg)).to.deep.equal([799, 1199]);
    expect(resizedSize(427, 640, { ...cfg, resizeScaleRule: 'float64' })).to.deep.equal([800, 1199]);
  });
});
