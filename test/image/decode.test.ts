import { expect } from 'chai';
import { Jimp } from 'jimp';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, ImageDecodeError, toRgbImage } from '../../src/image/index.js';
import { torchReference } from '../helpers/reference.js';
import { type Archive } from '../helpers/tensorArchive.js';

function diff(a: Uint8Array, b: Uint8Array): { max: number; mean: number; over2: number } {
  let max = 0, sum = 0, over2 = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d); sum += d; if (d > 2) over2++;
  }
  return { max, mean: sum / a.length, over2: over2 / a.length };
}

describe('image decoding', () => {
  let ref: Archive;
  let files: string;
  before(() => {
    ref = torchReference('image_cases');
    files = join(ref.folder, 'files');
  });

  const names = [
    'photo-q90-420.jpg', 'photo-q75-444.jpg', 'photo-progressive.jpg', 'gray.jpg', 'orient6.jpg',
    'orient3.png', 'rgb.png', 'rgba.png', 'gray.png', 'gray16.png', 'palette.png', 'rgb.bmp', 'rgb.tiff',
    'palette.gif', 'one-pixel.png',
  ];
  for (const name of names) {
    it(`decodes ${name} to the pixels PIL gives (exif_transpose, convert('RGB'))`, async () => {
      const expected = ref.tensors.get(`${name}/rgb`)!;
      const image = await decodeImage(join(files, name));
      expect([image.height, image.width, 3]).to.deep.equal(expected.shape);
      expect(diff(image.rgb, expected.data as Uint8Array).max).to.equal(0);
    });
  }

  it('decodes JPEG as libjpeg-turbo does, where jimp is measurably off', async () => {
    const path = join(files, 'photo-q90-420.jpg');
    const expected = ref.tensors.get('photo-q90-420.jpg/rgb')!.data as Uint8Array;
    const ours = await decodeImage(path);
    expect(ours.decoder).to.match(/libjpeg-turbo/);
    const jimp = await decodeImage(await Jimp.read(path));
    const gap = diff(jimp.rgb, expected);
    console.log(`      jimp vs libjpeg-turbo on a 720x477 JPEG: mean ${gap.mean.toFixed(2)}, max ${gap.max}, ${(gap.over2 * 100).toFixed(1)}% off by > 2; ours: max ${diff(ours.rgb, expected).max}`);
    expect(gap.max).to.be.above(0);
  });

  it('can leave the EXIF orientation alone', async () => {
    const image = await decodeImage(join(files, 'orient6.jpg'), { applyExifOrientation: false });
    expect([image.width, image.height]).to.deep.equal([97, 61]);
  });

  it('takes a Buffer, raw RGBA and RGB pixels', async () => {
    const path = join(files, 'rgb.png');
    const expected = ref.tensors.get('rgb.png/rgb')!.data as Uint8Array;
    const fromBuffer = await decodeImage(readFileSync(path));
    expect(diff(fromBuffer.rgb, expected).max).to.equal(0);
    const rgba = new Uint8ClampedArray(97 * 61 * 4);
    for (let i = 0; i < 97 * 61; i++) rgba.set([expected[3 * i], expected[3 * i + 1], expected[3 * i + 2], 7], 4 * i);
    expect(diff((await decodeImage({ data: rgba, width: 97, height: 61 })).rgb, expected).max).to.equal(0);
    expect(diff((await decodeImage({ data: expected, width: 97, height: 61 })).rgb, expected).max).to.equal(0);
  });

  it('converts to planar float [3, H, W] in [0, 1] as to_tensor does', () => {
    const t = toRgbImage({ rgb: Uint8Array.from([255, 0, 51, 0, 255, 102]), width: 2, height: 1, decoder: 'raw' });
    expect(Array.from(t.data)).to.deep.equal([1, 0, 0, 1, 51 / 255, 102 / 255].map(Math.fround));
  });

  describe('bad input names the file and the problem', () => {
    const rejects = async (input: Parameters<typeof decodeImage>[0], pattern: RegExp, options = {}) => {
      try {
        await decodeImage(input, options);
      } catch (e) {
        expect(e).to.be.instanceOf(ImageDecodeError);
        expect((e as Error).message).to.match(pattern);
        return;
      }
      throw new Error('expected an ImageDecodeError');
    };
    it('a missing file', () => rejects('/nonexistent/x.jpg', /\/nonexistent\/x\.jpg: cannot read file \(ENOENT\)/));
    it('a truncated JPEG', () => rejects(join(files, 'truncated.jpg'), /truncated\.jpg: cannot decode/));
    it('a file that is not an image', () => rejects(join(ref.folder, 'manifest.json'), /manifest\.json: not a readable image \(its bytes are in no image format resdet reads, e\.g\. JPEG, PNG/));
    it('an empty buffer', () => rejects(new Uint8Array(0), /buffer: empty file/));
    it('raw pixels of the wrong length', () => rejects({ data: new Uint8Array(10), width: 2, height: 2 }, /pixels: pixel data has 10 bytes/));
    it('pixels that are not 8-bit (0-1 floats would decode to black)', () =>
      rejects({ data: new Float32Array(12), width: 2, height: 2 } as never, /^pixels: data is a Float32Array: raw pixels are 8-bit, 0-255/));
    it('an object that is no image input, e.g. a decoded image passed back', () =>
      rejects({ rgb: new Uint8Array(12), width: 2, height: 2 } as never, /^image: an object with keys rgb, width, height is not an image input: give a file path/));
    for (const [what, value, message] of [
      ['null', null, /^image: null is not an image input/], ['undefined', undefined, /^image: undefined is not an image input/],
      ['a number', 42, /^image: a number is not an image input/], ['an ArrayBuffer', new ArrayBuffer(8), /^image: an ArrayBuffer is not an image input: wrap it as new Uint8Array\(buffer\)/],
      ['a jimp-like object without bytes', { bitmap: { width: 2, height: 2 } }, /^jimp image: its bitmap.data is undefined/],
    ] as const) {
      it(`${what}, as an ImageDecodeError and not a TypeError`, () => rejects(value as never, message));
    }
    it('an image over the pixel limit, before decoding', () =>
      rejects(join(files, 'photo-q90-420.jpg'), /720x477 = 343440 pixels, over the limit of 100000/, { maxPixels: 100000 }));
  });
});
