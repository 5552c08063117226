/**
 * The annotate tests' fixture folder (test/annotate/fixtureFolder.ts) is what it says it is, and
 * the real pycocotools (test/helpers/pycocotools.ts) reads COCO files as the project's RLE code does.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ResdetError, loadModel, type Detector } from '../../src/index.js';
import { decodeImage } from '../../src/image/index.js';
import { ImageSizeError } from '../../src/transform/index.js';
import { type Rle, compressRle, rleArea, rleEncode, rleFrPoly, rleMerge, rleToBbox, rleToString } from '../../postprocess/rle.js';
import { type Fixture, makeAnnotateFixture } from './fixtureFolder.js';
import { buildPycocotoolsCommand, pycocotoolsDir, validateWithPycocotools } from '../helpers/pycocotools.js';

/** Every file under `dir`, relative and '/'-separated, with the sha256 of its bytes. */
function digests(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(relative(dir, path).split('\\').join('/'), createHash('sha256').update(readFileSync(path)).digest('hex'));
  }
  return out;
}

describe('annotate fixture folder', () => {
  let root: string;
  let fixture: Fixture;
  let wallMs: number;
  let cpuMs: number;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'resdet-fixture-'));
    const [start, cpu] = [performance.now(), process.cpuUsage()];
    fixture = await makeAnnotateFixture(join(root, 'one'));
    const used = process.cpuUsage(cpu);
    [wallMs, cpuMs] = [performance.now() - start, (used.user + used.system) / 1000];
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('holds about 40 files of every kind, exactly the files it describes, made in under 5 s of CPU', () => {
    console.log(`      ${fixture.files.length} files (${fixture.good.length} good, ${fixture.bad.length} bad, ${fixture.ignored.length} ignored) in ${wallMs.toFixed(0)} ms, ${cpuMs.toFixed(0)} ms of CPU`);
    expect(fixture.files.length).to.be.within(35, 45);
    expect(fixture.good.length).to.equal(30);
    expect([...digests(fixture.dir).keys()].sort()).to.deep.equal(fixture.files.map((f) => f.path).sort());
    const paths = fixture.files.map((f) => f.path);
    expect(paths).to.include.members(['a/b/c/deep.png', 'café/ß-图像.png', 'with space/my photo 1.jpg', 'gray16.png', 'exif-rotate-6.jpg', 'bad/empty.png', 'notes.txt']);
    // CPU time (sharp's threads included), not wall time: the CI machine's 2 cores may be shared.
    expect(cpuMs).to.be.below(5000);
  });

  it('is the same bytes on every call', async () => {
    const again = await makeAnnotateFixture(join(root, 'two'));
    expect(again.files.map((f) => [f.path, f.bytes])).to.deep.equal(fixture.files.map((f) => [f.path, f.bytes]));
    expect(digests(again.dir)).to.deep.equal(digests(fixture.dir));
  });

  it('writes as many good images as asked, the fixed variants first', async () => {
    const small = await makeAnnotateFixture(join(root, 'small'), { good: 3 });
    expect(small.good.map((f) => f.path)).to.deep.equal(['scene-01.png', 'scene-02.jpg', 'scene-03.webp']);
    const large = await makeAnnotateFixture(join(root, 'large'), { good: 25 });
    expect(large.good.filter((f) => f.path.startsWith('more/')).map((f) => f.path)).to.deep.equal(['more/001.png', 'more/002.jpg', 'more/003.png']);
  });

  it('decodeImage reads every good file at its described size (EXIF orientation applied)', async () => {
    for (const f of fixture.good) {
      const image = await decodeImage(join(fixture.dir, f.path));
      expect([image.width, image.height], f.path).to.deep.equal([f.width, f.height]);
    }
  });

  it('decodeImage rejects every bad file with a ResdetError naming the file and the problem', async () => {
    for (const f of fixture.bad.filter((b) => b.failsAt === 'decode')) {
      const path = join(fixture.dir, f.path);
      const error = await decodeImage(path).then(() => null, (e: unknown) => e);
      expect(error, `${f.path} (${f.description}) decoded`).to.be.instanceOf(ResdetError);
      expect((error as ResdetError).code, f.path).to.equal(f.code);
      expect((error as Error).message, f.path).to.satisfy((m: string) => m.startsWith(`${path}: `));
      expect((error as Error).message, f.path).to.match(f.error!);
    }
  });

  describe('with the bundled shapes model', () => {
    let model: Detector;
    before(async () => { model = await loadModel('shapes'); });
    after(async () => { await model?.release(); });

    it('finds objects in every good scene image', async () => {
      const empty: string[] = [];
      for (const f of fixture.good) {
        const r = await model.detect(join(fixture.dir, f.path), { masks: 'none' });
        if (r.detections.length === 0) empty.push(`${f.path} (${f.objects} objects drawn)`);
      }
      expect(empty).to.deep.equal([]);
    });

    it('refuses the too-thin image at the transform with an ImageSizeError', async () => {
      for (const f of fixture.bad.filter((b) => b.failsAt === 'transform')) {
        const path = join(fixture.dir, f.path);
        await decodeImage(path);
        const error = await model.detect(path).then(() => null, (e: unknown) => e);
        expect(error, f.path).to.be.instanceOf(ImageSizeError);
        expect((error as ResdetError).code).to.equal(f.code);
        expect((error as Error).message).to.match(f.error!);
      }
    });
  });
});

describe('pycocotools (built from third_party/cocoapi)', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'resdet-pycoco-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A mask [H, W] row-major: a filled rectangle minus a hole. */
  function ringMask(h: number, w: number): Uint8Array {
    const m = new Uint8Array(h * w);
    for (let y = 5; y < 30; y++) for (let x = 8; x < 40; x++) m[y * w + x] = 1;
    for (let y = 12; y < 20; y++) for (let x = 15; x < 25; x++) m[y * w + x] = 0;
    return m;
  }

  it('reads compressed RLE, uncompressed RLE and polygons to the areas and boxes postprocess/rle.ts computes', async () => {
    const [h, w] = [48, 64];
    const rle = rleEncode(ringMask(h, w), h, w);
    const poly = [[10.5, 3.2, 50.7, 8.9, 40.1, 40.6, 5.3, 30.0], [55, 40, 62, 40, 62, 47, 55, 47]];
    const polyRle: Rle = rleMerge(poly.map((p) => rleFrPoly(p, h, w)));
    const ours = [rle, rle, polyRle];
    const coco = {
      images: [{ id: 7, file_name: 'a.png', width: w, height: h }],
      categories: [{ id: 1, name: 'shape', supercategory: 'object' }],
      annotations: [
        { id: 1, image_id: 7, category_id: 1, iscrowd: 0, segmentation: compressRle(rle), area: rleArea(rle), bbox: rleToBbox(rle), score: 0.9 },
        { id: 2, image_id: 7, category_id: 1, iscrowd: 1, segmentation: rle, area: rleArea(rle), bbox: rleToBbox(rle) },
        { id: 3, image_id: 7, category_id: 1, iscrowd: 0, segmentation: poly, area: rleArea(polyRle), bbox: rleToBbox(polyRle) },
      ],
    };
    expect(compressRle(rle).counts).to.equal(rleToString(rle));
    const file = join(dir, 'hand.json');
    writeFileSync(file, JSON.stringify(coco));
    const report = await validateWithPycocotools(file);
    expect(report.errors).to.deep.equal([]);
    expect([report.images, report.annotations, report.categories]).to.deep.equal([1, 3, 1]);
    expect(report.imageIds).to.deep.equal([7]);
    expect(report.annotationIds).to.deep.equal([1, 2, 3]);
    for (const [i, a] of report.perAnnotation.entries()) {
      expect(a.maskArea, `annotation ${a.id}`).to.equal(rleArea(ours[i]));
      expect(a.rleArea, `annotation ${a.id}`).to.equal(a.maskArea);
      expect(a.maskBbox, `annotation ${a.id}`).to.deep.equal(rleToBbox(ours[i]));
      expect([a.area, a.bbox]).to.deep.equal([coco.annotations[i].area, coco.annotations[i].bbox]);
    }
    expect(report.perAnnotation[0].maskArea).to.equal(25 * 32 - 8 * 10);
  });

  it('reports annotations it cannot read, and duplicate ids as COCO() indexes them', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify({
      images: [{ id: 1, file_name: 'a.png', width: 10, height: 10 }],
      categories: [{ id: 1, name: 'x' }],
      annotations: [
        { id: 1, image_id: 2, category_id: 1, iscrowd: 0, segmentation: [[0, 0, 5, 0, 5, 5]], area: 12, bbox: [0, 0, 5, 5] },
        { id: 1, image_id: 1, category_id: 1, iscrowd: 0, segmentation: { size: [20, 10], counts: [0, 200] }, area: 200, bbox: [0, 0, 10, 20] },
      ],
    }));
    const report = await validateWithPycocotools(file);
    expect(report.annotations).to.equal(1);
    expect(report.errors).to.have.length(2);
    expect(report.errors[0]).to.match(/^annotation 1: KeyError/);
    expect(report.errors[1]).to.match(/^annotation 1: mask is 10x20, image 1 is 10x10/);
  });

  it('fails naming the file when COCO() cannot load it', async () => {
    const file = join(dir, 'not.json');
    writeFileSync(file, '{"images": [');
    const error = await validateWithPycocotools(file).then(() => null, (e: unknown) => e);
    expect((error as Error).message).to.match(/pycocotools could not load .*not\.json[\s\S]*JSONDecodeError/);
  });

  it('when not built, fails saying how to build it', () => {
    const saved = process.env.PYCOCOTOOLS_DIR;
    process.env.PYCOCOTOOLS_DIR = join(dir, 'nothing-here');
    try {
      expect(() => pycocotoolsDir()).to.throw(Error, `\`${buildPycocotoolsCommand}\``);
    } finally {
      if (saved === undefined) delete process.env.PYCOCOTOOLS_DIR;
      else process.env.PYCOCOTOOLS_DIR = saved;
    }
  });
});
