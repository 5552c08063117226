import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { type Detector, ImageDecodeError, type ImageInput, loadModel } from '../../src/index.js';

async function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 90, b: 30 } } }).png().toBuffer();
}

/** detect() on images whose short side resizes to 0: a named ImageDecodeError, never onnxruntime's shape error. */
describe('detect() on degenerate image sizes', () => {
  let model: Detector;
  let dir: string;
  before(async () => {
    model = await loadModel('shapes', { threads: 2 });
    dir = mkdtempSync(join(tmpdir(), 'resdet-thin-'));
    for (const [name, w, h] of [['wide.png', 5000, 1], ['tall.png', 1, 5000], ['dot.png', 1, 1], ['thin.png', 257, 1]] as const) {
      writeFileSync(join(dir, name), await png(w, h));
    }
  });
  after(() => model.release());

  const rejects = async (input: ImageInput | ImageInput[], message: RegExp) => {
    try {
      await (Array.isArray(input) ? model.detect(input) : model.detect(input));
    } catch (e) {
      expect(e).to.be.instanceOf(ImageDecodeError);
      expect((e as Error).message).to.match(message);
      expect((e as Error).message).to.not.match(/Invalid input shape/);
      return;
    }
    expect.fail('expected an ImageDecodeError');
  };

  it('names the file of a 5000x1, a 1x5000 and a 257x1 image (shapes resizes to max 256: 257x1 -> 255x0)', async () => {
    await rejects(join(dir, 'wide.png'), /wide\.png: a 5000x1 image resizes to 255x0, a side of 0 pixels: too thin/);
    await rejects(join(dir, 'tall.png'), /tall\.png: a 1x5000 image resizes to 0x255/);
    await rejects(join(dir, 'thin.png'), /thin\.png: a 257x1 image resizes to \d+x0/);
  });

  it("names a buffer 'buffer' and raw pixels 'pixels'", async () => {
    await rejects(await png(5000, 1), /^buffer: a 5000x1 image resizes/);
    await rejects({ data: new Uint8Array(5000 * 3), width: 1, height: 5000, channels: 3 }, /^pixels: a 1x5000 image resizes/);
  });

  it('detects on a 1x1 image (resized to 256x256, as torchvision does) and on 5000x20 and 1x256 (a side of 1 pixel)', async () => {
    const r = await model.detect(join(dir, 'dot.png'));
    expect([r.width, r.height]).to.deep.equal([1, 1]);
    for (const [w, h] of [[5000, 20], [1, 256]]) {
      const thin = await model.detect(await png(w, h));
      expect([thin.width, thin.height]).to.deep.equal([w, h]);
    }
  });

  it('names the failing file in a batch', async () => {
    await rejects([join(dir, 'dot.png'), join(dir, 'tall.png')], /tall\.png: a 1x5000 image/);
  });
});
