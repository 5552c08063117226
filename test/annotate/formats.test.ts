import { expect } from 'chai';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressRle, decompressRle, rleArea, rleEncodeWindow, rleToBbox } from '../../postprocess/rle.js';
import { writeDataset } from '../../src/annotate/dataset.js';
import { cocoInstances, failuresList } from '../../src/annotate/formats/coco.js';
import { labelStudioConfig, labelStudioTasks, localFilesUrl } from '../../src/annotate/formats/labelstudio.js';
import { yoloFiles } from '../../src/annotate/formats/yolo.js';
import { maskToPolygons } from '../../src/annotate/polygons.js';
import type { AnnotatedObject, Category, DoneRecord, ImageRecord } from '../../src/annotate/types.js';
import { indexGroundTruth, loadResults } from '../../src/eval/dataset.js';
import { readDataYaml, readLabelStudioConfig, readLabelStudioTasks, readYoloDataset } from './readers.js';

const categories: Category[] = [
  { id: 3, name: 'dog "rex" & <friends>' },
  { id: 1, name: 'person' },
  { id: 2, name: 'car', supercategory: 'vehicle' },
];

/** A masked detection from a picture of '#' rows placed at (left, top) of a width x height image. */
function masked(rows: string[], left: number, top: number, width: number, height: number, categoryId: number, score: number): AnnotatedObject {
  const w = rows[0].length, h = rows.length;
  const data = Uint8Array.from(rows.join(''), (c) => (c === '#' ? 1 : 0));
  const window = { data, left, top, width: w, height: h };
  const rle = rleEncodeWindow(data, window, height, width);
  const [bx, by, bw, bh] = rleToBbox(rle);
  return { bbox: [bx, by, bw, bh], score, categoryId, area: rleArea(rle), rle: compressRle(rle), polygons: maskToPolygons(window, 0) };
}

function done(id: number, fileName: string, width: number, height: number, objects: AnnotatedObject[]): DoneRecord {
  return { kind: 'done', index: id - 1, id, fileName, bytes: 1000 + id, width, height, objects };
}

const ring = ['#####', '#...#', '#.#.#', '#...#', '#####'];
const twoParts = ['##...', '##...', '....#', '...##'];
const records: ImageRecord[] = [
  done(5, 'nested/deeper/ü ñ.jpg', 50, 50, [
    masked(['.....', '.....'], 10, 10, 50, 50, 2, 0.4), // the mask came out empty
    masked(['###', '#.#', '###'], 47, 47, 50, 50, 3, 0.7), // touching the image corner
  ]),
  done(1, 'street/a.jpg', 64, 48, [masked(ring, 3, 4, 64, 48, 1, 0.9), masked(twoParts, 20, 30, 64, 48, 3, 0.8)]),
  { kind: 'failed', index: 7, id: 8, fileName: 'zero.png', bytes: 0, code: 'IMAGE_DECODE', error: 'zero.png: empty file' },
  done(2, 'b.png', 40, 30, []),
  done(7, '../outside.jpg', 30, 20, [masked(['##', '##'], 0, 0, 30, 20, 1, 0.55)]),
  { kind: 'failed', index: 2, id: 3, fileName: 'broken.jpg', bytes: 77, code: 'IMAGE_DECODE', error: 'broken.jpg: truncated JPEG' },
];
/** A model without masks: boxes only. */
const boxRecords: ImageRecord[] = [
  done(2, 'x/two.jpg', 100, 80, [{ bbox: [10.25, 20.5, 30, 40.75], score: 0.75, categoryId: 2, area: 30 * 40.75 }]),
  done(1, 'one.jpg', 640, 480, [
    { bbox: [0, 0, 640, 480], score: 0.5, categoryId: 1, area: 640 * 480 },
    { bbox: [1.5, 2.5, 3, 4], score: 0.25, categoryId: 3, area: 12 },
  ]),
];

const doneIn = (rs: readonly ImageRecord[]) => rs.filter((r): r is DoneRecord => r.kind === 'done').sort((a, b) => a.id - b.id);
const shuffled = (rs: readonly ImageRecord[]) => [...rs.slice(3), ...rs.slice(0, 3).reverse()];
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

function expectClose(got: number[], want: number[], what: string): void {
  expect(got.length, what).to.equal(want.length);
  got.forEach((v, i) => expect(close(v, want[i]), `${what}[${i}]: ${v} vs ${want[i]}`).to.equal(true));
}

let tmp: string;
beforeEach(() => { tmp = mkdtempSync(join(tmpdir(), 'resdet-formats-')); });
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('annotate dataset formats', () => {
  describe('COCO instances', () => {
    it('lists every done image once, sorted by id, with annotation ids 1..M in (image, detection) order', () => {
      const coco = cocoInstances(records, categories, { polygons: false, info: { description: 'test' } });
      expect(coco.images.map((i) => i.id)).to.deep.equal([1, 2, 5, 7]);
      expect(coco.images[0]).to.deep.equal({ id: 1, file_name: 'street/a.jpg', width: 64, height: 48 });
      expect(coco.annotations.map((a) => a.id)).to.deep.equal([1, 2, 3, 4, 5]);
      expect(coco.annotations.map((a) => [a.image_id, a.category_id, a.score])).to.deep.equal([[1, 1, 0.9], [1, 3, 0.8], [5, 2, 0.4], [5, 3, 0.7], [7, 1, 0.55]]);
      expect(coco.annotations.every((a) => a.iscrowd === 0)).to.equal(true);
      expect(coco.categories).to.deep.equal([
        { id: 1, name: 'person', supercategory: 'object' }, { id: 2, name: 'car', supercategory: 'vehicle' },
        { id: 3, name: 'dog "rex" & <friends>', supercategory: 'object' },
      ]);
      expect(coco.info).to.deep.equal({ description: 'test' });
      expect(cocoInstances(shuffled(records), categories, { polygons: false, info: { description: 'test' } })).to.deep.equal(coco);
    });

    it("loads in resdet's COCO reader as ground truth and as results, masks equal to the detections' RLEs", () => {
      for (const polygons of [false, true]) {
        const coco = JSON.parse(JSON.stringify(cocoInstances(records, categories, { polygons }))) as unknown;
        const gt = indexGroundTruth(coco, 'instances.json', 'segm');
        // with polygons the empty mask has no annotation (pycocotools refuses an empty polygon list)
        const wanted = doneIn(records).flatMap((r) => r.objects.filter((o) => !polygons || o.polygons!.length > 0));
        expect(gt.anns.map((a) => a.id)).to.deep.equal(wanted.map((_, i) => i + 1));
        expect(gt.imgIds).to.deep.equal([1, 2, 5, 7]);
        gt.anns.forEach((a, i) => expect(a.rle, `${polygons ? 'polygons' : 'rle'} annotation ${a.id}`).to.deep.equal(decompressRle(wanted[i].rle!)));
        const dets = (coco as { annotations: unknown[] }).annotations;
        for (const iouType of ['segm', 'bbox'] as const) {
          const results = loadResults(dets, indexGroundTruth(coco, 'instances.json', iouType), 'instances.json annotations', iouType);
          expect(results.map((r) => r.score)).to.deep.equal(wanted.map((o) => o.score));
        }
      }
    });

    it('keeps boxes without a segmentation for a model without masks', () => {
      const coco = cocoInstances(boxRecords, categories, { polygons: true });
      expect(coco.annotations.map((a) => 'segmentation' in a)).to.deep.equal([false, false, false]);
      const gt = indexGroundTruth(JSON.parse(JSON.stringify(coco)), 'instances.json', 'bbox');
      expect(gt.anns.map((a) => a.bbox)).to.deep.equal([[0, 0, 640, 480], [1.5, 2.5, 3, 4], [10.25, 20.5, 30, 40.75]]);
    });

    it('lists the failures sorted by id, and refuses two records of one image', () => {
      expect(failuresList(records)).to.deep.equal([
        { id: 3, file_name: 'broken.jpg', code: 'IMAGE_DECODE', error: 'broken.jpg: truncated JPEG' },
        { id: 8, file_name: 'zero.png', code: 'IMAGE_DECODE', error: 'zero.png: empty file' },
      ]);
      expect(() => cocoInstances([...records, done(2, 'again.png', 1, 1, [])], categories, { polygons: false })).to.throw(/two records for image id 2/);
    });
  });

  describe('YOLO segmentation', () => {
    it('round-trips through a reader of the Ultralytics layout: classes, polygons per part, empty files for no detections', async () => {
      await writeDataset(tmp, records, { categories, formats: ['yolo'], polygons: false });
      const read = readYoloDataset(join(tmp, 'yolo'));
      expect([...read.names]).to.deep.equal([[0, 'person'], [1, 'car'], [2, 'dog "rex" & <friends>']]);
      const want = doneIn(records);
      expect(read.images.map((i) => i.image.slice(tmp.length))).to.deep.equal(
        ['/yolo/images/street/a.jpg', '/yolo/images/b.png', '/yolo/images/nested/deeper/ü ñ.jpg', '/yolo/images/_outside/7-outside.jpg'],
      );
      read.images.forEach(({ lines }, i) => {
        const r = want[i];
        const expected = r.objects.flatMap((o) => o.polygons!.map((p) => ({ classIndex: o.categoryId - 1, p })));
        expect(lines.map((l) => l.classIndex), r.fileName).to.deep.equal(expected.map((e) => e.classIndex));
        lines.forEach((l, j) => expectClose(l.points.map((v, k) => v * (k % 2 === 0 ? r.width : r.height)), expected[j].p, `${r.fileName} line ${j}`));
      });
      expect(readFileSync(join(tmp, 'yolo/labels/b.txt'), 'utf8')).to.equal('');
      // the two-part mask is two lines, its ring's hole bridged into one
      expect(read.images[0].lines).to.have.length(4);
      expect(readFileSync(join(tmp, 'yolo/classes.txt'), 'utf8')).to.equal('person\ncar\ndog "rex" & <friends>\n');
      const yaml = readDataYaml(readFileSync(join(tmp, 'yolo/data.yaml'), 'utf8'));
      expect(yaml).to.include({ train: 'train.txt', path: undefined, val: undefined });
    });

    it('writes a box as its 4-corner polygon for a model without masks', () => {
      const files = yoloFiles(boxRecords, categories);
      expect(files.map((f) => f.path)).to.deep.equal(['data.yaml', 'classes.txt', 'train.txt', 'labels/one.txt', 'labels/x/two.txt']);
      expect(files[3].data).to.equal('0 0 0 1 0 1 1 0 1\n2 0.00234375 0.005208333 0.00703125 0.005208333 0.00703125 0.01354167 0.00234375 0.01354167\n');
      expect(files[4].data).to.equal('1 0.1025 0.25625 0.4025 0.25625 0.4025 0.765625 0.1025 0.765625\n');
    });

    it('is the same for the records in any order', () => {
      expect(yoloFiles(shuffled(records), categories)).to.deep.equal(yoloFiles(records, categories));
    });
  });

  describe('Label Studio', () => {
    it('round-trips through a reader of the task format, against its labeling config', async () => {
      await writeDataset(tmp, records, { categories, formats: ['labelstudio'], polygons: false, modelVersion: 'shapes-v1' });
      const config = readLabelStudioConfig(readFileSync(join(tmp, 'labelstudio-config.xml'), 'utf8'));
      expect([...config.controls]).to.deep.equal([['box', 'rectanglelabels'], ['polygon', 'polygonlabels']]);
      expect(config.labels.get('polygon')).to.deep.equal(['person', 'car', 'dog "rex" & <friends>']);
      const raw = JSON.parse(readFileSync(join(tmp, 'labelstudio.json'), 'utf8')) as Array<{ predictions: Array<{ model_version: string; score: number }> }>;
      expect(raw.map((t) => t.predictions[0].model_version)).to.deep.equal(['shapes-v1', 'shapes-v1', 'shapes-v1', 'shapes-v1']);
      expect(raw[0].predictions[0].score).to.be.closeTo(0.85, 1e-12);
      const tasks = readLabelStudioTasks(raw, config.controls);
      const want = doneIn(records);
      expect(tasks.map((t) => t.image)).to.deep.equal(want.map((r) => localFilesUrl(r.fileName)));
      expect(tasks[2].image).to.equal('/data/local-files/?d=nested/deeper/%C3%BC%20%C3%B1.jpg');
      const names = new Map(categories.map((c) => [c.id, c.name]));
      tasks.forEach((t, i) => {
        const expected = want[i].objects.flatMap((o, k) => o.polygons!.map((p, j) => ({ id: `${k}.${j}`, label: names.get(o.categoryId), score: o.score, p })));
        expect(t.regions.map((g) => [g.id, g.label, g.score])).to.deep.equal(expected.map((e) => [e.id, e.label, e.score]));
        t.regions.forEach((g, j) => expectClose(g.polygon!, expected[j].p, `task ${i} region ${j}`));
      });
    });

    it('gives rectangles for a model without masks, and uses the image URL asked for', () => {
      const config = readLabelStudioConfig(labelStudioConfig(categories));
      const tasks = readLabelStudioTasks(labelStudioTasks(boxRecords, categories, { imageUrl: (f) => `https://data.example/${f}` }), config.controls);
      expect(tasks.map((t) => t.image)).to.deep.equal(['https://data.example/one.jpg', 'https://data.example/x/two.jpg']);
      const boxes = tasks.flatMap((t) => t.regions.map((g) => g.box!));
      const want = doneIn(boxRecords).flatMap((r) => r.objects.map((o) => o.bbox));
      boxes.forEach((b, i) => expectClose(b, want[i], `box ${i}`));
    });
  });

  describe('writeDataset', () => {
    it('always writes instances.json and failures.json, and the formats asked for, the same bytes for records in any order', async () => {
      const summary = await writeDataset(tmp, records, { categories, formats: ['yolo', 'labelstudio'], polygons: true });
      expect(summary).to.deep.include({ images: 4, annotations: 4, failed: 2 });
      expect(summary.files.slice(0, 5)).to.deep.equal(['instances.json', 'failures.json', 'yolo/data.yaml', 'yolo/classes.txt', 'yolo/train.txt']);
      expect(summary.files.slice(-2)).to.deep.equal(['labelstudio.json', 'labelstudio-config.xml']);
      const first = new Map(summary.files.map((f) => [f, readFileSync(join(tmp, f), 'utf8')]));
      const gt = indexGroundTruth(JSON.parse(first.get('instances.json')!), 'instances.json', 'segm');
      expect(gt.anns).to.have.length(4);
      expect(JSON.parse(first.get('failures.json')!)).to.deep.equal(failuresList(records));
      const other = join(tmp, 'again');
      mkdirSync(other);
      await writeDataset(other, shuffled(records), { categories, formats: ['labelstudio', 'yolo'], polygons: true });
      for (const [f, text] of first) expect(readFileSync(join(other, f), 'utf8'), f).to.equal(text);
      const onlyCoco = join(tmp, 'coco');
      mkdirSync(onlyCoco);
      expect((await writeDataset(onlyCoco, records, { categories, formats: [], polygons: false })).files).to.deep.equal(['instances.json', 'failures.json']);
    });

    it('rewrites at a checkpoint only the label files that changed', async () => {
      const meta = { categories, formats: ['yolo'] as const, polygons: false };
      await writeDataset(tmp, records.slice(0, 3), meta);
      const inode = (f: string) => lstatSync(join(tmp, 'yolo/labels', f)).ino;
      const before = { a: inode('street/a.txt'), b: inode('nested/deeper/ü ñ.txt') };
      writeFileSync(join(tmp, 'yolo/labels/street/a.txt'), 'stale\n');
      const stale = inode('street/a.txt');
      await writeDataset(tmp, records, meta);
      expect(inode('nested/deeper/ü ñ.txt')).to.equal(before.b);
      expect(inode('street/a.txt')).to.not.equal(stale);
      expect(readFileSync(join(tmp, 'yolo/labels/street/a.txt'), 'utf8')).to.match(/^0 /);
      expect(readFileSync(join(tmp, 'yolo/labels/b.txt'), 'utf8')).to.equal('');
    });

    it('refuses a link where a folder of the dataset belongs', async () => {
      const elsewhere = join(tmp, 'elsewhere');
      mkdirSync(elsewhere);
      const out = join(tmp, 'out');
      mkdirSync(join(out, 'yolo'), { recursive: true });
      symlinkSync(elsewhere, join(out, 'yolo', 'labels'));
      let error: unknown;
      try {
        await writeDataset(out, records, { categories, formats: ['yolo'], polygons: false });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(Error).with.property('code', 'OUTPUT');
      expect((error as Error).message).to.match(/labels: is a link where the dataset needs a folder/);
    });
  });

  describe('YOLO label names', () => {
    it('gives a label file shared by two images (a.png, a.jpg) to the first by id and leaves the other out, saying so', () => {
      const shared: ImageRecord[] = [done(3, 'x/a.png', 8, 8, []), done(2, 'x/a.jpg', 8, 8, []), done(4, 'x/b.png', 8, 8, [])];
      const warnings: string[] = [];
      const files = yoloFiles(shared, categories, (w) => warnings.push(w));
      expect(files.find((f) => f.path === 'train.txt')!.data).to.equal('./images/x/a.jpg\n./images/x/b.png\n');
      expect(files.filter((f) => f.path.startsWith('labels/')).map((f) => f.path)).to.deep.equal(['labels/x/a.txt', 'labels/x/b.txt']);
      expect(warnings).to.deep.equal(["yolo: x/a.png left out: its label file labels/x/a.txt is x/a.jpg's (Ultralytics pairs images and labels by name without extension); rename one of them to have both"]);
    });
  });
});
