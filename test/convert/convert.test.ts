import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { convertCheckpoint, defaultEps } from '../../src/convert/index.js';
import { readModelPackage, ModelPackageError } from '../../src/modelPackage/index.js';
import { feed, relativeMaxDiff, runOnnx } from '../helpers/onnx.js';
import { torchReference } from '../helpers/reference.js';
import { type Archive, getFloat32 } from '../helpers/tensorArchive.js';

describe('resdet convert', () => {
  let ref: Archive;
  let work: string;
  after(() => work && rmSync(work, { recursive: true, force: true }));
  before(() => {
    ref = torchReference('convert_cases');
    work = mkdtempSync(join(tmpdir(), 'resdet-convert-'));
  });

  for (const file of ['r18.pth', 'r18-legacy-nested.pth']) {
    it(`writes a package from ${file} whose networks give torchvision's outputs`, async () => {
      const out = join(work, file);
      const summary = await convertCheckpoint(join(ref.folder, file), { out, classes: undefined });
      expect(summary.architecture).to.match(/Mask R-CNN, resnet18 \(BasicBlock \[2, 2, 2, 2\]/);
      expect(summary.manifest.classes).to.deep.equal(['__background__', 'class1', 'class2', 'class3']);
      const pkg = readModelPackage(out);
      expect(pkg.manifest.architecture).to.equal('maskrcnn');
      const features = await runOnnx(pkg.files.backbone, { images: feed(ref, 'images') });
      for (const level of ['0', '1', '2', '3', 'pool']) {
        expect(relativeMaxDiff(features[level].data as Float32Array, getFloat32(ref, `features/${level}`)), level).to.be.below(1e-4);
      }
      const rpn = await runOnnx(pkg.files.rpnHead, Object.fromEntries(['0', '1', '2', '3', 'pool'].map((l) => [l, features[l]])) as Record<string, ort.Tensor>);
      expect(relativeMaxDiff(rpn.objectness.data as Float32Array, getFloat32(ref, 'rpn/objectness'))).to.be.below(1e-4);
    });
  }

  it('takes class names from a file, with or without the background', async () => {
    const names = join(work, 'names.txt');
    writeFileSync(names, 'cat\ndog\n\nbird\n');
    const s = await convertCheckpoint(join(ref.folder, 'r18.pth'), { out: join(work, 'named'), classes: names });
    expect(s.manifest.classes).to.deep.equal(['__background__', 'cat', 'dog', 'bird']);
    writeFileSync(names, JSON.stringify(['cat', 'dog']));
    try {
      await convertCheckpoint(join(ref.folder, 'r18.pth'), { out: join(work, 'named2'), classes: names });
      expect.fail('expected an error');
    } catch (e) {
      expect((e as Error).message).to.match(/names\.txt: lists 2 classes; the checkpoint predicts 4/);
    }
    expect(existsSync(join(work, 'named2'))).to.equal(false);
  });

  it('uses eps 0 for torchvision\'s published v1 COCO files and 1e-5 otherwise', () => {
    expect(defaultEps('/x/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth')).to.equal(0);
    expect(defaultEps('/x/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth')).to.equal(0);
    expect(defaultEps('/x/mine.pth')).to.equal(1e-5);
  });

  it('refuses to overwrite a package unless forced, and never leaves a half-written one', async () => {
    const out = join(work, 'again');
    await convertCheckpoint(join(ref.folder, 'r18.pth'), { out });
    try {
      await convertCheckpoint(join(ref.folder, 'r18.pth'), { out });
      expect.fail('expected an error');
    } catch (e) {
      expect(e).to.be.instanceOf(ModelPackageError);
      expect((e as Error).message).to.match(/already exists/);
    }
    await convertCheckpoint(join(ref.folder, 'r18.pth'), { out, force: true });
    expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).to.deep.equal([]);
  });

  it('names the file when it is not a checkpoint, and writes nothing', async () => {
    const bogus = join(work, 'bogus.pth');
    writeFileSync(bogus, readFileSync(join(ref.folder, 'manifest.json')));
    try {
      await convertCheckpoint(bogus, { out: join(work, 'bogus-out') });
      expect.fail('expected an error');
    } catch (e) {
      expect((e as Error).message).to.contain('bogus.pth');
    }
    expect(existsSync(join(work, 'bogus-out'))).to.equal(false);
  });
});

describe('model package loading', () => {
  let ref: Archive;
  let dir: string;
  after(() => dir && rmSync(dirname(dir), { recursive: true, force: true }));
  before(async () => {
    ref = torchReference('convert_cases');
    dir = join(mkdtempSync(join(tmpdir(), 'resdet-pkg-')), 'pkg');
    await convertCheckpoint(join(ref.folder, 'r18.pth'), { out: dir });
  });
  const broken = (edit: (manifest: Record<string, unknown>) => void): string => {
    const manifest = JSON.parse(original) as Record<string, unknown>;
    edit(manifest);
    writeFileSync(join(dir, 'resdet.json'), JSON.stringify(manifest));
    return dir;
  };
  let original: string;
  beforeEach(() => { original = readFileSync(join(dir, 'resdet.json'), 'utf8'); });
  afterEach(() => { writeFileSync(join(dir, 'resdet.json'), original); });

  it('says a folder without resdet.json is not a package', () => {
    expect(() => readModelPackage(tmpdir())).to.throw(ModelPackageError, /no resdet\.json/);
  });
  it('names a bad field', () => {
    expect(() => readModelPackage(broken((m) => { m.formatVersion = 9; }))).to.throw(/'formatVersion' is 9/);
    expect(() => readModelPackage(broken((m) => { (m.backbone as { levels: unknown[] }).levels[1] = { name: '1', stride: 6, channels: 256 }; }))).to.throw(/'backbone\.levels\[1\]\.stride' must be a power of two, found 6/);
    expect(() => readModelPackage(broken((m) => { delete (m.files as Record<string, unknown>).maskHead; }))).to.throw(/files\.maskHead' is missing/);
  });
  it('detects a corrupt or replaced network file by size and sha256', () => {
    const path = join(dir, 'rpnHead.onnx');
    const bytes = readFileSync(path);
    try {
      writeFileSync(path, bytes.subarray(0, 100));
      expect(() => readModelPackage(dir)).to.throw(/rpnHead\.onnx: is 100 bytes.*truncated/);
      const flipped = Buffer.from(bytes);
      flipped[flipped.length - 1] ^= 1;
      writeFileSync(path, flipped);
      expect(() => readModelPackage(dir)).to.throw(/rpnHead\.onnx: sha256 differs/);
    } finally {
      writeFileSync(path, bytes);
    }
  });
});
