/**
 * COCO data as the evaluation reads it (the fields pycocotools' COCO and COCOeval use), and the
 * parameters and result of {@link evaluateCoco}.
 *
 * Array layouts of the result, as pycocotools' COCOeval.accumulate makes them:
 *   T: IoU thresholds, R: recall thresholds, K: categories, A: area ranges, M: maxDets values.
 */
import type { Rle } from '../../postprocess/typed.js';

/** A COCO image entry. `height` and `width` are needed for segmentation evaluation only. */
export interface CocoImage {
  id: number;
  height?: number;
  width?: number;
  file_name?: string;
}

export interface CocoCategory {
  id: number;
  name?: string;
  supercategory?: string;
}

/** Compressed RLE (string counts) or uncompressed RLE (counts list, as crowd annotations store it). */
export interface CocoRle {
  size: [height: number, width: number];
  counts: string | number[];
}

/** Polygons ([[x0, y0, x1, y1, ...], ...], one object may have several parts) or an RLE. */
export type CocoSegmentation = number[][] | CocoRle;

/** A ground-truth annotation. `iscrowd` missing reads as 0; `ignore` is overwritten by iscrowd, as in pycocotools. */
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** The area that decides the area range (COCO's own field, not recomputed). */
  area: number;
  iscrowd?: number | boolean;
  /** [x, y, width, height]; needed for bbox evaluation. */
  bbox?: [number, number, number, number];
  /** Needed for segm evaluation. */
  segmentation?: CocoSegmentation;
}

/** A ground-truth file: images, annotations, categories. */
export interface CocoDataset {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
  info?: unknown;
  licenses?: unknown;
}

/** One line of a COCO results file. A bbox, a segmentation, or both. */
export interface CocoDetection {
  image_id: number;
  category_id: number;
  score: number;
  bbox?: [number, number, number, number];
  segmentation?: CocoSegmentation;
}

export type IouType = 'bbox' | 'segm';

/** COCOeval's Params; every field defaults to pycocotools' detection defaults. */
export interface CocoEvalParams {
  /** Images to evaluate (default: all images of the ground truth). */
  imgIds?: number[];
  /** Categories to evaluate (default: all categories of the ground truth). */
  catIds?: number[];
  /** Default np.linspace(.5, .95, 10). */
  iouThrs?: number[];
  /** Default np.linspace(0, 1, 101). */
  recThrs?: number[];
  /** Default [1, 10, 100]; sorted before use, as pycocotools does. */
  maxDets?: number[];
  /** Default [[0, 1e10], [0, 32**2], [32**2, 96**2], [96**2, 1e10]], both ends inclusive. */
  areaRng?: Array<[number, number]>;
  /** Default ['all', 'small', 'medium', 'large']. */
  areaRngLbl?: string[];
  /** false pools all categories, as in proposal scoring (default true). */
  useCats?: boolean;
}

/** Params with every field filled. */
export type ResolvedParams = Required<CocoEvalParams> & { iouType: IouType };

/** What {@link evaluateCoco} returns. */
export interface CocoEvalResult {
  iouType: IouType;
  /** AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl; -1 where nothing to average. */
  stats: number[];
  /** The 12 lines pycocotools' summarize() prints, joined by '\n'. */
  summary: string;
  /** [T, R, K, A, M] (-1 where a category has no ground truth in that setting). */
  precision: Float64Array;
  /** [T, K, A, M]. */
  recall: Float64Array;
  /** [T, R, K, A, M]: the detection score at each recall threshold. */
  scores: Float64Array;
  /** [T, R, K, A, M] */
  counts: [T: number, R: number, K: number, A: number, M: number];
  params: ResolvedParams;
}

/** An annotation (ground truth or detection) reduced to what the evaluation reads. */
export interface EvalAnn {
  id: number;
  imageId: number;
  categoryId: number;
  area: number;
  iscrowd: boolean;
  /** Detections only (0 for ground truth). */
  score: number;
  /** [x, y, w, h] (bbox evaluation). */
  bbox?: [number, number, number, number];
  /** The mask as annToRLE makes it (segm evaluation). */
  rle?: Rle;
}
