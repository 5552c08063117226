/**
 * Reading COCO ground truth and results into the records the evaluation uses, with the semantics of
 * pycocotools' COCO (createIndex, annToRLE) and COCO.loadRes, and checks that name the field at fault.
 *
 * Where pycocotools would crash or drop data silently, we throw a CocoFormatError instead:
 * detections for images not in the ground truth (pycocotools asserts), detections or annotations
 * whose category is not among `categories` (pycocotools drops them), annotations of unknown images.
 * Documented differences: a missing `iscrowd` reads as 0 (pycocotools raises KeyError); an empty
 * results list evaluates as "no detections" (pycocotools raises IndexError).
 */
import { rleArea, rleToBbox } from '../../postprocess/typed.js';
import { CocoFormatError } from './errors.js';
import { segmentationToRle, type Fail } from './segmentation.js';
import type { CocoCategory, CocoImage, EvalAnn, IouType } from './types.js';

/** The ground truth, indexed. */
export interface GroundTruthIndex {
  source: string;
  images: Map<number, CocoImage>;
  categories: Map<number, CocoCategory>;
  /** Image ids, sorted ascending (COCOeval's default params.imgIds). */
  imgIds: number[];
  /** Category ids, sorted ascending (COCOeval's default params.catIds). */
  catIds: number[];
  /** Annotations in file order. */
  anns: EvalAnn[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function failer(source: string, prefix: string): Fail {
  return (field, message) => {
    throw new CocoFormatError(source, prefix && field ? `${prefix}.${field}` : prefix || field, message);
  };
}

function finite(o: Json, key: string, fail: Fail): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    return fail(key, v === undefined ? 'is missing' : `must be a finite number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function box(o: Json, fail: Fail): [number, number, number, number] {
  const b = o.bbox;
  if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    return fail('bbox', b === undefined ? 'is missing' : `must be [x, y, width, height] of finite numbers, got ${JSON.stringify(b)}`);
  }
  return [b[0], b[1], b[2], b[3]];
}

function imageSize(img: CocoImage, fail: Fail): [number, number] {
  const { height, width } = img;
  if (!Number.isSafeInteger(height) || !Number.isSafeInteger(width) || height! < 0 || width! < 0) {
    fail('image_id', `image ${img.id} needs integer height and width to read a segmentation, got ${height} x ${width}`);
  }
  return [height!, width!];
}

function list(data: Json, key: string, source: string): unknown[] {
  const v = data[key];
  if (!Array.isArray(v)) throw new CocoFormatError(source, key, v === undefined ? 'is missing (a COCO ground truth has images, annotations and categories)' : 'must be a list');
  return v;
}

function indexById<T extends { id: number }>(items: unknown[], key: string, source: string): Map<number, T> {
  const out = new Map<number, T>();
  items.forEach((item, i) => {
    const fail = failer(source, `${key}[${i}]`);
    if (!isObject(item)) fail('', 'must be an object');
    const id = finite(item as Json, 'id', fail);
    if (out.has(id)) fail('id', `duplicate ${key} id ${id}`);
    out.set(id, item as unknown as T);
  });
  return out;
}

/**
 * Indexes a COCO ground truth (the parsed JSON), checking every field the evaluation reads.
 * @param data parsed JSON of the annotation file
 * @param source the file name, for error messages
 * @param iouType which geometry to read: bbox needs `bbox`, segm needs `segmentation` and image sizes
 */
export function indexGroundTruth(data: unknown, source: string, iouType: IouType): GroundTruthIndex {
  if (!isObject(data)) throw new CocoFormatError(source, '(top level)', 'must be an object with images, annotations and categories');
  const images = indexById<CocoImage>(list(data, 'images', source), 'images', source);
  const categories = indexById<CocoCategory>(list(data, 'categories', source), 'categories', source);
  const anns = list(data, 'annotations', source).map((a, i): EvalAnn => {
    const fail = failer(source, `annotations[${i}]`);
    if (!isObject(a)) return fail('', 'must be an object');
    const ann: EvalAnn = {
      id: finite(a, 'id', fail),
      imageId: finite(a, 'image_id', fail),
      categoryId: finite(a, 'category_id', fail),
      area: finite(a, 'area', fail),
      iscrowd: crowdFlag(a.iscrowd, fail),
      score: 0,
    };
    const img = images.get(ann.imageId);
    if (!img) fail('image_id', `${ann.imageId} is not the id of any entry of images`);
    if (!categories.has(ann.categoryId)) fail('category_id', `${ann.categoryId} is not the id of any entry of categories`);
    if (iouType === 'bbox') ann.bbox = box(a, fail);
    else {
      if (a.segmentation === undefined) fail('segmentation', 'is missing (needed for segm evaluation)');
      const [h, w] = imageSize(img!, fail);
      ann.rle = segmentationToRle(a.segmentation, h, w, fail);
    }
    return ann;
  });
  const byNumber = (x: number, y: number) => x - y;
  return { source, images, categories, imgIds: [...images.keys()].sort(byNumber), catIds: [...categories.keys()].sort(byNumber), anns };
}

function crowdFlag(v: unknown, fail: Fail): boolean {
  if (v === undefined) return false;
  if (v === 0 || v === 1 || typeof v === 'boolean') return Boolean(v);
  return fail('iscrowd', `must be 0 or 1, got ${JSON.stringify(v)}`);
}

/**
 * Reads a results list as COCO.loadRes does: the first detection decides the kind. With a `bbox`
 * there, every detection needs one, its area is width * height (also for segm evaluation) and a
 * missing segmentation is the box's polygon; without one, the segmentation gives area and bbox.
 * Detections get ids 1..N in file order and iscrowd 0.
 * @param dets parsed JSON of the results file: a list
 * @param gt the indexed ground truth (image sizes, known ids)
 * @param source the file name, for error messages
 */
export function loadResults(dets: unknown, gt: GroundTruthIndex, source: string, iouType: IouType): EvalAnn[] {
  if (!Array.isArray(dets)) throw new CocoFormatError(source, '(top level)', 'results must be a list of detections');
  if (dets.length === 0) return [];
  const first = dets[0];
  const boxMode = isObject(first) && 'bbox' in first && !(Array.isArray(first.bbox) && first.bbox.length === 0);
  if (!boxMode && !(isObject(first) && 'segmentation' in first)) {
    throw new CocoFormatError(source, '[0]', 'has neither bbox nor segmentation: not a detection results file');
  }
  return dets.map((d, i): EvalAnn => {
    const fail = failer(source, `[${i}]`);
    if (!isObject(d)) return fail('', 'must be an object');
    const imageId = finite(d, 'image_id', fail);
    const categoryId = finite(d, 'category_id', fail);
    const score = d.score;
    if (typeof score !== 'number' || Number.isNaN(score)) fail('score', score === undefined ? 'is missing' : `must be a number, got ${JSON.stringify(score)}`);
    const img = gt.images.get(imageId);
    if (!img) fail('image_id', `${imageId} is not an image of the ground truth ${gt.source} (results must be for its images)`);
    if (!gt.categories.has(categoryId)) fail('category_id', `${categoryId} is not a category of the ground truth ${gt.source}`);
    const ann: EvalAnn = { id: i + 1, imageId, categoryId, area: 0, iscrowd: false, score: score as number };
    if (boxMode) {
      const b = box(d, fail);
      ann.area = b[2] * b[3];
      ann.bbox = b;
      if (iouType === 'segm') {
        const [x1, y1, x2, y2] = [b[0], b[1], b[0] + b[2], b[1] + b[3]];
        const segm = 'segmentation' in d ? d.segmentation : [[x1, y1, x1, y2, x2, y2, x2, y1]];
        ann.rle = segmentationToRle(segm, ...imageSize(img!, fail), fail);
      }
    } else {
      if (!('segmentation' in d)) fail('segmentation', 'is missing (the first detection has no bbox, so all need a segmentation)');
      const rle = segmentationToRle(d.segmentation, ...imageSize(img!, fail), fail);
      ann.area = rleArea(rle);
      ann.bbox = 'bbox' in d ? box(d, fail) : rleToBbox(rle);
      if (iouType === 'segm') ann.rle = rle;
    }
    return ann;
  });
}
