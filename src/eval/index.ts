/**
 * COCO detection evaluation equal to pycocotools' COCOeval (cocodataset/cocoapi): evaluateCoco
 * reads a ground truth and a results list as COCO / COCO.loadRes do, then runs evaluate,
 * accumulate and summarize, for boxes ('bbox') or masks ('segm').
 *
 * Exports: evaluateCoco, indexGroundTruth, loadResults, CocoFormatError and the COCO types.
 */
import { accumulate } from './accumulate.js';
import { indexGroundTruth, loadResults, type GroundTruthIndex } from './dataset.js';
import { computeIou, evaluateImg, sortDetections, type ImageEval } from './evaluateImg.js';
import { resolveParams } from './params.js';
import { summarizeDets } from './summarize.js';
import type { CocoDataset, CocoDetection, CocoEvalParams, CocoEvalResult, EvalAnn, IouType, ResolvedParams } from './types.js';

export { CocoFormatError } from './errors.js';
export { indexGroundTruth, loadResults, type GroundTruthIndex } from './dataset.js';
export { formatFixed } from './summarize.js';
export { categoryIdsByName, toCocoResults } from './results.js';
export type * from './types.js';

/** Where the data came from, for error messages. */
export interface EvaluateSources {
  groundTruth?: string;
  detections?: string;
}

/**
 * Evaluates detections against a COCO ground truth exactly as pycocotools' COCOeval does.
 * @param groundTruth the annotation file's JSON (images, annotations, categories)
 * @param detections the results file's JSON: [{ image_id, category_id, score, bbox | segmentation }]
 * @param iouType 'bbox' (boxes [x, y, w, h]) or 'segm' (masks as RLE or polygons)
 * @param params COCOeval parameters; pycocotools' defaults when omitted
 * @param sources file names used in error messages
 * @throws CocoFormatError naming the file and field of a value that cannot be evaluated faithfully
 */
export function evaluateCoco(
  groundTruth: CocoDataset, detections: readonly CocoDetection[], iouType: IouType, params: CocoEvalParams = {}, sources: EvaluateSources = {},
): CocoEvalResult {
  if (iouType !== 'bbox' && iouType !== 'segm') throw new RangeError(`iouType must be 'bbox' or 'segm', got ${String(iouType)}`);
  const gt = indexGroundTruth(groundTruth, sources.groundTruth ?? 'groundTruth', iouType);
  const dt = loadResults(detections, gt, sources.detections ?? 'detections', iouType);
  return evaluateIndexed(gt, dt, iouType, params);
}

/** The evaluation on already indexed data (lets a caller read the ground truth once for bbox and segm). */
export function evaluateIndexed(gt: GroundTruthIndex, dt: readonly EvalAnn[], iouType: IouType, params: CocoEvalParams = {}): CocoEvalResult {
  const p = resolveParams(iouType, gt.imgIds, gt.catIds, params);
  checkParams(p);
  const evalImgs = evaluate(gt.anns, dt, p);
  const K = p.useCats ? p.catIds.length : 1;
  const acc = accumulate(evalImgs, { K, A: p.areaRng.length, I: p.imgIds.length }, p.iouThrs, p.recThrs, p.maxDets);
  const { stats, summary } = summarizeDets(acc, p);
  return { iouType, stats, summary, ...acc, params: p };
}

function checkParams(p: ResolvedParams): void {
  if (p.maxDets.length < 3) throw new RangeError(`params.maxDets needs 3 values (summarize reads maxDets[0..2]), got [${p.maxDets}]`);
  if (p.areaRng.length !== p.areaRngLbl.length) throw new RangeError(`params.areaRng has ${p.areaRng.length} ranges but areaRngLbl ${p.areaRngLbl.length} labels`);
  if (!p.maxDets.every((m) => Number.isInteger(m) && m >= 0)) throw new RangeError(`params.maxDets must be integers >= 0, got [${p.maxDets}]`);
}

/** Groups annotations by image, then category, keeping file order (COCO's imgToAnns). */
function group(anns: readonly EvalAnn[]): Map<number, Map<number, EvalAnn[]>> {
  const out = new Map<number, Map<number, EvalAnn[]>>();
  for (const a of anns) {
    let byCat = out.get(a.imageId);
    if (!byCat) out.set(a.imageId, (byCat = new Map()));
    const list = byCat.get(a.categoryId);
    if (list) list.push(a);
    else byCat.set(a.categoryId, [a]);
  }
  return out;
}

/**
 * COCOeval.evaluate: IoUs once per (image, category), then evaluateImg for every category, area
 * range and image, in that nesting ([K, A, I], the order accumulate indexes).
 */
function evaluate(gtAnns: readonly EvalAnn[], dtAnns: readonly EvalAnn[], p: ResolvedParams): Array<ImageEval | null> {
  const gts = group(gtAnns), dts = group(dtAnns);
  const maxDet = p.maxDets[p.maxDets.length - 1];
  // without categories, all of an image's anns pooled in catIds order (useCats = 0)
  const pick = (m: Map<number, Map<number, EvalAnn[]>>, img: number, cat: number | null): EvalAnn[] => {
    const byCat = m.get(img);
    if (!byCat) return [];
    return cat === null ? p.catIds.flatMap((c) => byCat.get(c) ?? []) : byCat.get(cat) ?? [];
  };
  const cats: Array<number | null> = p.useCats ? p.catIds : [null];
  const evalImgs: Array<ImageEval | null> = new Array(cats.length * p.areaRng.length * p.imgIds.length).fill(null);
  cats.forEach((cat, k) => {
    p.imgIds.forEach((img, i) => {
      const gt = pick(gts, img, cat);
      const dt = sortDetections(pick(dts, img, cat), maxDet);
      if (gt.length === 0 && dt.length === 0) return;
      const ious = computeIou(dt, gt, p.iouType);
      p.areaRng.forEach((rng, a) => {
        evalImgs[(k * p.areaRng.length + a) * p.imgIds.length + i] = evaluateImg(dt, gt, ious, p.iouThrs, rng);
      });
    });
  });
  return evalImgs;
}
