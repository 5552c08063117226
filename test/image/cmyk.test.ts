import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../../src/image/index.js';
import { torchReference } from '../helpers/reference.js';
import { type Archive } from '../helpers/tensorArchive.js';

function gap(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  let max = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/** `jpeg` with `icc` spliced in after SOI as APP2 ICC_PROFILE segments (the ICC spec's chunking). */
function withIccProfile(jpeg: Uint8Array, icc: Uint8Array): Buffer {
  const chunk = 65519; // 65535 - 2 (length) - 12 ('ICC_PROFILE\0') - 2 (sequence, count)
  const count = Math.ceil(icc.length / chunk);
  const segments: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const body = icc.subarray(k * chunk, (k + 1) * chunk);
    const head = Buffer.alloc(18);
    head.writeUInt16BE(0xffe2, 0);
    head.writeUInt16BE(2 + 14 + body.length, 2);
    head.write('ICC_PROFILE\0', 4, 'latin1');
    head[16] = k + 1;
    head[17] = count;
    segments.push(head, Buffer.from(body));
  }
  return Buffer.concat([Buffer.from(jpeg.subarray(0, 2)), ...segments, Buffer.from(jpeg.subarray(2))]);
}

/** CMYK inputs decode to what torchvision users feed their models: PIL's convert('RGB'). */
describe('CMYK image decoding', () => {
  let ref: Archive;
  let files: string;
  before(() => {
    ref = torchReference('cmyk_cases');
    files = join(ref.folder, 'files');
  });

  const names = ['cmyk-adobe.jpg', 'cmyk-no-adobe.jpg', 'ycck.jpg', 'cmyk-progressive.jpg', 'cmyk-orient6.jpg', 'cmyk.tiff', 'cmyk-all-pairs.tiff'];
  for (const name of names) {
    it(`decodes ${name} to exactly the pixels of PIL's convert('RGB'), where libvips' ICC conversion is off`, async () => {
      const expected = ref.tensors.get(`${name}/rgb`)!;
      const image = await decodeImage(join(files, name));
      expect([image.height, image.width, 3]).to.deep.equal(expected.shape);
      expect(image.decoder).to.match(/CMYK to RGB as PIL$/);
      expect(gap(image.rgb, expected.data as Uint8Array).max).to.equal(0);
      // What the decoder gave before: libvips' own CMYK -> sRGB (its built-in CMYK profile).
      const vips = await sharp(join(files, name)).rotate().toColourspace('srgb').removeAlpha().raw().toBuffer();
      const before = gap(vips, expected.data as Uint8Array);
      console.log(`      libvips' CMYK -> sRGB vs PIL on ${name}: mean ${before.mean.toFixed(2)}, max ${before.max}; ours: 0`);
      expect(before.mean).to.be.above(1);
    });
  }

  it('ignores an embedded CMYK ICC profile, as PIL does', async () => {
    const probe = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
      .toColourspace('cmyk').withIccProfile('cmyk').jpeg().toBuffer();
    const icc = (await sharp(probe).metadata()).icc!;
    const file = withIccProfile(readFileSync(join(files, 'cmyk-adobe.jpg')), icc);
    expect((await sharp(file).metadata()).icc?.length).to.equal(icc.length);
    const expected = ref.tensors.get('cmyk-adobe.jpg/rgb')!.data as Uint8Array;
    const image = await decodeImage(file);
    expect(gap(image.rgb, expected).max).to.equal(0);
    const before = gap(await sharp(file).toColourspace('srgb').removeAlpha().raw().toBuffer(), expected);
    console.log(`      libvips' conversion through the embedded profile vs PIL: mean ${before.mean.toFixed(2)}, max ${before.max}; ours: 0`);
  });
});
