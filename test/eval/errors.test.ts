import { expect } from 'chai';
import { CocoFormatError, evaluateCoco, type CocoDataset, type CocoDetection } from '../../src/eval/index.js';

function gt(): CocoDataset {
  return {
    images: [{ id: 1, height: 10, width: 10 }],
    categories: [{ id: 1, name: 'a' }],
    annotations: [{ id: 1, image_id: 1, category_id: 1, area: 16, iscrowd: 0, bbox: [1, 1, 4, 4], segmentation: [[1, 1, 5, 1, 5, 5, 1, 5]] }],
  };
}
const dt = (): CocoDetection[] => [{ image_id: 1, category_id: 1, score: 0.5, bbox: [1, 1, 4, 4] }];

/** Runs and expects a CocoFormatError naming `source` and `field`. */
function expectError(run: () => unknown, source: string, field: string, message: RegExp): void {
  try {
    run();
  } catch (e) {
    expect(e).to.be.instanceOf(CocoFormatError);
    const err = e as CocoFormatError;
    expect(err.source).to.equal(source);
    expect(err.field).to.equal(field);
    expect(err.message).to.match(message);
    return;
  }
  expect.fail('no error thrown');
}

const src = { groundTruth: 'gt.json', detections: 'dt.json' };
// JSON from a file is untyped: the casts stand for malformed files.
const bad = <T>(v: unknown) => v as T;

describe('COCO evaluation input checks', () => {
  it('refuses a ground truth without images, annotations or categories, naming the key', () => {
    for (const key of ['images', 'annotations', 'categories'] as const) {
      const g = gt() as unknown as Record<string, unknown>;
      delete g[key];
      expectError(() => evaluateCoco(bad<CocoDataset>(g), dt(), 'bbox', {}, src), 'gt.json', key, /missing/);
    }
  });

  it('refuses annotations missing id, area or bbox, naming the annotation and field', () => {
    for (const key of ['id', 'area', 'bbox', 'image_id', 'category_id']) {
      const g = gt();
      delete (g.annotations[0] as unknown as Record<string, unknown>)[key];
      expectError(() => evaluateCoco(g, dt(), 'bbox', {}, src), 'gt.json', `annotations[0].${key}`, /missing/);
    }
  });

  it('refuses a segm evaluation of annotations without segmentation or images without size', () => {
    const g = gt();
    delete g.annotations[0].segmentation;
    expectError(() => evaluateCoco(g, dt(), 'segm', {}, src), 'gt.json', 'annotations[0].segmentation', /missing/);
    const h = gt();
    delete h.images[0].height;
    expectError(() => evaluateCoco(h, dt(), 'segm', {}, src), 'gt.json', 'annotations[0].image_id', /height and width/);
  });

  it('refuses annotations of unknown images or categories', () => {
    const g = gt();
    g.annotations[0].image_id = 7;
    expectError(() => evaluateCoco(g, dt(), 'bbox', {}, src), 'gt.json', 'annotations[0].image_id', /7 is not the id/);
    const h = gt();
    h.annotations[0].category_id = 3;
    expectError(() => evaluateCoco(h, dt(), 'bbox', {}, src), 'gt.json', 'annotations[0].category_id', /3 is not the id/);
  });

  it('refuses duplicate image ids and non-0/1 iscrowd', () => {
    const g = gt();
    g.images.push({ id: 1 });
    expectError(() => evaluateCoco(g, dt(), 'bbox', {}, src), 'gt.json', 'images[1].id', /duplicate/);
    const h = gt();
    h.annotations[0].iscrowd = 2;
    expectError(() => evaluateCoco(h, dt(), 'bbox', {}, src), 'gt.json', 'annotations[0].iscrowd', /0 or 1/);
  });

  it('refuses detections for images not in the ground truth (pycocotools asserts the same)', () => {
    const d = dt();
    d[0].image_id = 42;
    expectError(() => evaluateCoco(gt(), d, 'bbox', {}, src), 'dt.json', '[0].image_id', /42 is not an image of the ground truth gt\.json/);
  });

  it('refuses detections of unknown categories (pycocotools would drop them silently)', () => {
    const d = dt();
    d[0].category_id = 99;
    expectError(() => evaluateCoco(gt(), d, 'bbox', {}, src), 'dt.json', '[0].category_id', /99 is not a category/);
  });

  it('refuses detections without score, or without bbox when the first has one', () => {
    const d = [...dt(), { image_id: 1, category_id: 1, score: 0.4 } as CocoDetection];
    expectError(() => evaluateCoco(gt(), d, 'bbox', {}, src), 'dt.json', '[1].bbox', /missing/);
    const e = dt();
    delete (e[0] as unknown as Record<string, unknown>).score;
    expectError(() => evaluateCoco(gt(), e, 'bbox', {}, src), 'dt.json', '[0].score', /missing/);
  });

  it('refuses results that are not a list or have neither bbox nor segmentation', () => {
    expectError(() => evaluateCoco(gt(), bad<CocoDetection[]>({}), 'bbox', {}, src), 'dt.json', '(top level)', /list/);
    expectError(() => evaluateCoco(gt(), bad<CocoDetection[]>([{ image_id: 1, category_id: 1, score: 1 }]), 'bbox', {}, src), 'dt.json', '[0]', /neither bbox nor segmentation/);
  });

  it('refuses masks of another size than their image, and malformed RLE strings and counts', () => {
    const seg = (segmentation: unknown) => [{ image_id: 1, category_id: 1, score: 1, segmentation } as CocoDetection];
    expectError(() => evaluateCoco(gt(), seg({ size: [20, 10], counts: '0' }), 'segm', {}, src), 'dt.json', '[0].segmentation.size', /image is \[10, 10\]/);
    expectError(() => evaluateCoco(gt(), seg({ size: [10, 10], counts: [5, 5] }), 'segm', {}, src), 'dt.json', '[0].segmentation.counts', /sum to 10/);
    expectError(() => evaluateCoco(gt(), seg({ size: [10, 10], counts: '!!' }), 'segm', {}, src), 'dt.json', '[0].segmentation', /rleFrString/);
    expectError(() => evaluateCoco(gt(), seg([[1, 2, 3, 4]]), 'segm', {}, src), 'dt.json', '[0].segmentation[0]', /at least 3 points/);
  });

  it('refuses parameters summarize cannot read', () => {
    expect(() => evaluateCoco(gt(), dt(), 'bbox', { maxDets: [1, 10] })).to.throw(RangeError, /maxDets needs 3/);
    expect(() => evaluateCoco(gt(), dt(), bad<'bbox'>('keypoints'))).to.throw(RangeError, /iouType/);
  });
});
