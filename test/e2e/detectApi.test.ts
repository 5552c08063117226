import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rleDecode, rleFrString } from '../../postprocess/index.js';
import {
  type BinaryMask, convertCheckpoint, type Detector, DetectOptionsError, fullImageMask, ImageDecodeError, loadModel, ModelPackageError,
  type ProbabilityMask, ProviderUnavailableError, type RleMask,
} from '../../src/index.js';
import { repoRoot, torchReference } from '../helpers/reference.js';
import { type Archive } from '../helpers/tensorArchive.js';

/** The detect API's contract, on a small converted Mask R-CNN (seeded random weights). */
describe('loadModel().detect()', () => {
  let ref: Archive;
  let model: Detector;
  let work: string;
  let image: string;
  before(async () => {
    ref = torchReference('detect_cases', ['mask-r18']);
    work = mkdtempSync(join(tmpdir(), 'resdet-api-'));
    await convertCheckpoint(join(ref.folder, 'mask-r18.pth'), { out: join(work, 'pkg'), config: { transform: { minSize: 320, maxSize: 512 } } });
    model = await loadModel(join(work, 'pkg'), { threads: 2 });
    image = join(ref.folder, 'image0.png');
  });
  after(async () => {
    await model?.release();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('returns one result type: size, detections in original pixels, stage timings, the decoder', async () => {
    const r = await model.detect(image, { scoreThreshold: 0 });
    expect([r.width, r.height]).to.deep.equal([320, 240]);
    expect(r.decoder).to.match(/^libpng [\d.]+, libvips [\d.]+, sharp [\d.]+$/);
    expect(r.detections.length).to.be.above(0);
    for (const d of r.detections) {
      expect(d.box[0]).to.be.within(0, 320);
      expect(d.box[3]).to.be.within(0, 240);
      expect(d.className).to.equal(`class${d.label}`);
      expect(d.mask?.format).to.equal('binary');
    }
    for (const k of ['decode', 'transform', 'backbone', 'rpn', 'roiHeads', 'masks', 'postprocess', 'total', 'onnxRuntime'] as const) {
      expect(r.timings[k]).to.be.a('number').and.to.be.at.least(0);
    }
  });

  it('keeps score >= 0.5 by default, as the CLI', async () => {
    const all = await model.detect(image, { scoreThreshold: 0, masks: 'none' });
    const plain = await model.detect(image, { masks: 'none' });
    expect(plain.detections).to.deep.equal(all.detections.filter((d) => d.score >= 0.5));
    expect(plain.detections.length).to.be.below(all.detections.length);
  });

  it('gives the same masks as binary windows, whole-image binary, probabilities (> 0.5) and COCO RLE, and none on request', async () => {
    const opts = { scoreThreshold: 0 } as const;
    const binary = await model.detect(image, { ...opts, masks: 'binary' });
    const whole = await model.detect(image, { ...opts, masks: 'binary', maskExtent: 'image' });
    const prob = await model.detect(image, { ...opts, masks: 'probability' });
    const wholeProb = await model.detect(image, { ...opts, masks: 'probability', maskExtent: 'image' });
    const rle = await model.detect(image, { ...opts, masks: 'rle' });
    const none = await model.detect(image, { ...opts, masks: 'none' });
    expect(none.detections.every((d) => d.mask === undefined)).to.equal(true);
    let windowPixels = 0;
    binary.detections.forEach((d, i) => {
      const m = d.mask as BinaryMask;
      // the window is the pasted box clipped to the image, and holds every foreground pixel
      expect(m.left + m.width).to.be.at.most(320);
      expect(m.top + m.height).to.be.at.most(240);
      expect(m.data.length).to.equal(m.width * m.height);
      windowPixels += m.data.length;
      const b = fullImageMask(m);
      const w = whole.detections[i].mask as BinaryMask;
      expect([w.left, w.top, w.width, w.height]).to.deep.equal([0, 0, 320, 240]);
      expect(Array.from(w.data)).to.deep.equal(Array.from(b));
      const p = fullImageMask(prob.detections[i].mask as ProbabilityMask);
      expect(Array.from(p)).to.deep.equal(Array.from((wholeProb.detections[i].mask as ProbabilityMask).data));
      expect(Array.from(b)).to.deep.equal(Array.from(p, (v) => (v > 0.5 ? 1 : 0)));
      const r = rle.detections[i].mask as RleMask;
      expect(r.size).to.deep.equal([240, 320]);
      expect(Array.from(rleDecode(rleFrString(r.counts, 240, 320)))).to.deep.equal(Array.from(b));
      expect(Array.from(fullImageMask(r))).to.deep.equal(Array.from(b));
    });
    expect(windowPixels, 'windows cost less than whole-image masks').to.be.below(binary.detections.length * 320 * 240);
  });

  it('applies scoreThreshold, classes and maxDetections before the masks', async () => {
    const all = await model.detect(image, { masks: 'none', scoreThreshold: 0 });
    const label = all.detections[0].className;
    const some = await model.detect(image, { masks: 'none', scoreThreshold: 0.1, classes: [label], maxDetections: 3 });
    const expected = all.detections.filter((d) => d.score >= 0.1 && d.className === label).slice(0, 3);
    expect(some.detections.length).to.be.above(0);
    expect(some.detections).to.deep.equal(expected);
    try {
      await model.detect(image, { classes: ['zebra'] });
      expect.fail('expected an error');
    } catch (e) {
      expect(e).to.be.instanceOf(DetectOptionsError);
      expect((e as Error).message).to.match(/detect option 'classes' has "zebra", not a class of this model/);
    }
  });

  it('runs several images one after another, equal to single calls', async () => {
    const second = join(ref.folder, 'image1.png');
    const [a, b] = await model.detect([image, second], { masks: 'rle' });
    const single = await model.detect(second, { masks: 'rle' });
    expect(b.detections).to.deep.equal(single.detections);
    expect(a.width).to.equal(320);
  });

  it('takes raw RGBA pixels and gives what the file gives', async () => {
    const { decodeImage } = await import('../../src/image/index.js');
    const d = await decodeImage(image);
    const rgba = new Uint8ClampedArray(d.width * d.height * 4);
    for (let i = 0; i < d.width * d.height; i++) rgba.set([d.rgb[3 * i], d.rgb[3 * i + 1], d.rgb[3 * i + 2], 255], 4 * i);
    const fromPixels = await model.detect({ data: rgba, width: d.width, height: d.height }, { masks: 'none' });
    const fromFile = await model.detect(image, { masks: 'none' });
    expect(fromPixels.detections).to.deep.equal(fromFile.detections);
  });

  it('handles a 1x1 image: upscaled to minSize as torchvision does, boxes within the pixel', async () => {
    const r = await model.detect({ data: new Uint8Array([200, 30, 30]), width: 1, height: 1 });
    expect([r.width, r.height]).to.deep.equal([1, 1]);
    for (const d of r.detections) expect(d.box.every((v) => v >= 0 && v <= 1)).to.equal(true);
  });

  it('returns an empty list when nothing passes the filters', async () => {
    const r = await model.detect(image, { maxDetections: 0 });
    expect(r.detections).to.deep.equal([]);
  });

  it('names the file of an unreadable, truncated or oversized image', async () => {
    const truncated = join(work, 'cut.png');
    writeFileSync(truncated, readFileSync(image).subarray(0, 500));
    for (const [input, pattern, opts] of [
      [join(work, 'missing.png'), /missing\.png: cannot read file/, {}],
      [truncated, /cut\.png: /, {}],
      [join(ref.folder, 'manifest.json'), /manifest\.json: not a readable image/, {}],
      [image, /image0\.png: image is 320x240 = 76800 pixels, over the limit of 1000/, { maxPixels: 1000 }],
    ] as const) {
      try {
        await model.detect(input, opts);
        expect.fail(`expected an error for ${input}`);
      } catch (e) {
        expect(e).to.be.instanceOf(ImageDecodeError);
        expect((e as Error).message).to.match(pattern);
      }
    }
  });

  it('says why a model cannot be loaded', async () => {
    try {
      await loadModel(work);
      expect.fail('expected an error');
    } catch (e) {
      expect(e).to.be.instanceOf(ModelPackageError);
      expect((e as Error).message).to.match(/no resdet\.json/);
    }
    try {
      await loadModel(join(work, 'pkg'), { provider: 'wasm' });
      expect.fail('expected an error');
    } catch (e) {
      expect(e).to.be.instanceOf(ProviderUnavailableError);
    }
  });

  describe('resdet detect (CLI)', () => {
    const cli = (args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'detect', ...args], { encoding: 'utf8' });

    it('writes <name>.json with RLE masks and <name>.png per image, and a summary line', () => {
      const out = join(work, 'out');
      const run = cli([image, '--model', join(work, 'pkg'), '--out', out, '--score', '0.5']);
      expect(run.status, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/image0\.png: 320x240, \d+ class\d/);
      const json = JSON.parse(readFileSync(join(out, 'image0.json'), 'utf8')) as { width: number; detections: Array<{ score: number; segmentation: { size: number[]; counts: string }; bbox: number[] }> };
      expect(json.width).to.equal(320);
      expect(json.detections.length).to.be.above(0);
      expect(json.detections.every((d) => d.score >= 0.5 && d.segmentation.size[0] === 240 && typeof d.segmentation.counts === 'string')).to.equal(true);
      const png = readFileSync(join(out, 'image0.png'));
      expect(png.subarray(1, 4).toString()).to.equal('PNG');
    });

    it('reports a bad image, still writes the others, keeps what was written, exits non-zero', () => {
      const out = join(work, 'out2');
      const bad = join(work, 'broken.png');
      writeFileSync(bad, 'not an image');
      const run = cli([image, bad, join(ref.folder, 'image1.png'), '--model', join(work, 'pkg'), '--out', out, '--no-preview']);
      expect(run.status).to.equal(1);
      expect(run.stderr).to.match(/broken\.png: not a readable image/);
      expect(run.stderr).to.match(/1 of 3 images failed/);
      expect(existsSync(join(out, 'image0.json'))).to.equal(true);
      expect(existsSync(join(out, 'image1.json'))).to.equal(true);
      expect(existsSync(join(out, 'broken.json'))).to.equal(false);
    });

    it('fails with a message naming the model folder when it is not a package', () => {
      const run = cli([image, '--model', work, '--out', join(work, 'out3')]);
      expect(run.status).to.equal(1);
      expect(run.stderr).to.contain(`${work}: not a model package`);
    });
  });
});
