import { expect } from 'chai';
import { join } from 'node:path';
import {
  type BinaryMask, DetectOptionsError, type Detector, fullImageMask, loadModel, ModelReleasedError, ResdetError, RuntimeOptionsError,
} from '../../src/index.js';
import { repoRoot } from '../helpers/reference.js';

/** detect() options checked at run time, AbortSignal, release and `await using`; on the bundled model. */
describe('detect options, cancellation and release', () => {
  const image = join(repoRoot, 'samples', 'shapes-1.png');
  let model: Detector;
  before(async () => {
    model = await loadModel('shapes', { threads: 2 });
  });
  after(async () => model?.release());

  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a score given as text', { scoreThreshold: 'high' }, /'scoreThreshold' must be a number in \[0, 1\], got "high"/],
    ['a score above 1', { scoreThreshold: 1.5 }, /'scoreThreshold' must be a number in \[0, 1\]/],
    ['a NaN mask threshold', { maskThreshold: NaN }, /'maskThreshold' must be a number in \[0, 1\]/],
    ['a mask form that does not exist', { masks: 'polygon' }, /'masks' must be one of 'binary', 'probability', 'rle', 'none', got "polygon"/],
    ['a mask extent that does not exist', { maskExtent: 'full' }, /'maskExtent' must be one of 'box', 'image'/],
    ['a fractional maxDetections', { maxDetections: 2.5 }, /'maxDetections' must be an integer >= 0/],
    ['a class name the model lacks', { classes: ['zebra'] }, /'classes' has "zebra", not a class of this model \(circle, rectangle/],
    ['the background label', { classes: [0] }, /'classes' has 0, not a class of this model/],
    ['classes given as a string', { classes: 'circle' }, /'classes' must be an array/],
    ['a misspelt option', { scorethreshold: 0.9 }, /'scorethreshold' is not an option \(options: scoreThreshold,/],
    ['a signal that is not an AbortSignal', { signal: {} }, /'signal' must be an AbortSignal/],
    ['a non-boolean applyExifOrientation', { applyExifOrientation: 'yes' }, /'applyExifOrientation' must be true or false/],
    ['a GPU mask form that does not exist', { gpuMasks: 'rle' }, /'gpuMasks' must be one of 'probability', 'binary', 'none', got "rle"/],
    // GPU masks stay on the GPU: a cpu detector has none to give, and says what to use instead.
    ['GPU masks on the cpu provider', { gpuMasks: 'binary' }, /'gpuMasks' needs provider 'webgpu', but this detector runs on 'cpu' \(load it with \{ provider: 'webgpu' \}, or ask for CPU masks with masks: 'binary', maskExtent: 'image'\)/],
  ];
  for (const [what, options, message] of refused) {
    it(`refuses ${what} with DetectOptionsError naming the option`, async () => {
      const error = await model.detect(image, options as never).then(() => null, (e: unknown) => e);
      expect(error).to.be.instanceOf(DetectOptionsError);
      expect(error).to.be.instanceOf(ResdetError);
      expect((error as DetectOptionsError).code).to.equal('DETECT_OPTIONS');
      expect((error as Error).message).to.match(message);
    });
  }

  it("refuses loadModel's nms: 'gpu' on the cpu provider with RuntimeOptionsError, and an unknown nms value", async () => {
    for (const [nms, message] of [['gpu', /'nms' 'gpu' needs provider 'webgpu' \(got 'cpu'\)/], ['fast', /'nms' must be 'cpu' or 'gpu', got "fast"/]] as const) {
      const error = await loadModel('shapes', { nms: nms as 'gpu' }).then(async (m) => { await m.release(); return null; }, (e: unknown) => e);
      expect(error).to.be.instanceOf(RuntimeOptionsError);
      expect((error as RuntimeOptionsError).code).to.equal('RUNTIME_OPTIONS');
      expect((error as Error).message).to.match(message);
    }
  });

  it('takes class names and labels alike', async () => {
    const all = await model.detect(image, { masks: 'none', scoreThreshold: 0 });
    const byName = await model.detect(image, { masks: 'none', scoreThreshold: 0, classes: ['ring'] });
    const byLabel = await model.detect(image, { masks: 'none', scoreThreshold: 0, classes: [model.classes.indexOf('ring')] });
    expect(byName.detections.length).to.be.above(0);
    expect(byName.detections).to.deep.equal(all.detections.filter((d) => d.className === 'ring'));
    expect(byLabel.detections).to.deep.equal(byName.detections);
  });

  it('default masks are box windows whose pixels equal the whole-image masks', async () => {
    const windows = await model.detect(image);
    const whole = await model.detect(image, { maskExtent: 'image' });
    expect(windows.detections.length).to.be.above(0);
    windows.detections.forEach((d, i) => {
      const m = d.mask as BinaryMask;
      const [x1, y1, x2, y2] = d.box;
      // the window is the box grown by torchvision's paste padding (1/28 of each side) and clipped
      expect(m.left).to.be.at.most(Math.max(0, Math.floor(x1)));
      expect(m.top).to.be.at.most(Math.max(0, Math.floor(y1)));
      expect(m.left + m.width).to.be.at.least(Math.min(256, Math.floor(x2)));
      expect(m.width).to.be.at.most(Math.ceil((x2 - x1) * 30 / 28) + 2);
      expect(Array.from(fullImageMask(m))).to.deep.equal(Array.from((whole.detections[i].mask as BinaryMask).data));
    });
  });

  it('spends at most twice the RGBA bytes of a 9 MP image on its default masks', async () => {
    const { decodeImage } = await import('../../src/image/index.js');
    const small = await decodeImage(image);
    const side = 3000;
    const rgb = new Uint8Array(side * side * 3);
    for (let y = 0; y < side; y++) {
      const sy = Math.floor((y * small.height) / side);
      for (let x = 0; x < side; x++) {
        const s = 3 * (sy * small.width + Math.floor((x * small.width) / side));
        rgb.set(small.rgb.subarray(s, s + 3), 3 * (y * side + x));
      }
    }
    const r = await model.detect({ data: rgb, width: side, height: side, channels: 3 });
    expect(r.detections.length).to.be.above(2);
    const bytes = r.detections.reduce((sum, d) => sum + (d.mask as BinaryMask).data.byteLength, 0);
    expect(bytes).to.be.at.most(2 * side * side * 4);
  });

  it('stops at the next stage when the signal aborts, with the signal\'s reason', async () => {
    const already = AbortSignal.abort();
    const early = await model.detect(image, { signal: already }).then(() => null, (e: unknown) => e);
    expect((early as Error).name).to.equal('AbortError');
    const controller = new AbortController();
    const reason = new Error('user left the page');
    const call = model.detect([image, image, image], { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 5);
    const late = await call.then(() => null, (e: unknown) => e);
    expect(late).to.equal(reason);
    // the model still works afterwards
    expect((await model.detect(image)).detections.length).to.be.above(0);
  });

  it('rejects detect() after release() with ModelReleasedError, and lets running calls finish', async () => {
    const m = await loadModel('shapes', { threads: 1 });
    const running = m.detect(image);
    const released = m.release();
    expect((await running).detections.length).to.be.above(0);
    await released;
    const error = await m.detect(image).then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(ModelReleasedError);
    expect((error as Error).message).to.match(/detect\(\) after release\(\).*loadModel/);
    await m.release(); // twice is harmless
  });

  it('works with `await using` (Symbol.asyncDispose releases the sessions)', async () => {
    let kept: Detector;
    {
      await using m = await loadModel('shapes', { threads: 1 });
      kept = m;
      expect((await m.detect(image)).detections.length).to.be.above(0);
    }
    const error = await kept.detect(image).then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(ModelReleasedError);
  });
});
