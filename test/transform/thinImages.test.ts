import { expect } from 'chai';
import { torchvisionDefaults } from '../../src/config.js';
import { checkedResizedSize, ImageSizeError, transformImage } from '../../src/transform/index.js';
import { ImageDecodeError } from '../../src/image/index.js';
import { torchReference } from '../helpers/reference.js';
import { getInt } from '../helpers/tensorArchive.js';

/** Images whose short side resizes to 0 pixels: torchvision raises, resdet names the image. */
describe('transform: images too thin to resize', () => {
  const ref = torchReference('thin_cases');
  const sizes = getInt(ref, 'sizes');
  const configs = ref.meta.configs as Record<string, [number, number]>;

  for (const [name, [minSize, maxSize]] of Object.entries(configs)) {
    it(`refuses exactly the sizes torchvision 0.14 cannot resize (min_size ${minSize}, max_size ${maxSize}), and sizes the rest as it does`, () => {
      const cfg = { ...torchvisionDefaults.transform, minSize, maxSize };
      const resized = getInt(ref, `${name}/resized`);
      for (let i = 0; i < sizes.length / 2; i++) {
        const [h, w] = [sizes[2 * i], sizes[2 * i + 1]];
        const torch = [resized[2 * i], resized[2 * i + 1]];
        if (torch[0] === 0) {
          expect(() => checkedResizedSize(h, w, cfg, 'thin.png'), `${w}x${h}`).to.throw(ImageSizeError, new RegExp(`^thin\\.png: a ${w}x${h} image resizes to \\d+x0|^thin\\.png: a ${w}x${h} image resizes to 0x\\d+`));
        } else {
          expect(checkedResizedSize(h, w, cfg, 'thin.png'), `${w}x${h}`).to.deep.equal(torch);
        }
      }
    });
  }

  it('is an ImageDecodeError (code IMAGE_DECODE) that transformImage throws before allocating anything', () => {
    const data = new Float32Array(3 * 5000);
    try {
      transformImage({ data, height: 1, width: 5000 }, torchvisionDefaults.transform);
      expect.fail('no error');
    } catch (e) {
      expect(e).to.be.instanceOf(ImageSizeError).and.instanceOf(ImageDecodeError);
      expect((e as ImageSizeError).code).to.equal('IMAGE_DECODE');
      expect((e as Error).message).to.equal("image: a 5000x1 image resizes to 1332x0, a side of 0 pixels: too thin to detect on (torchvision fails on it too); crop or pad it");
    }
  });
});
