/**
 * The values `resdet annotate` passes between its parts: inputs in a stable global order, one
 * journal record per image, and what each dataset format is written from.
 *
 * Ids are global: an image's `id` and `index` come from its place in the whole input (before
 * sharding), so shards merged give the same ids as one unsharded run.
 */

/** One input image, in the run's global order. */
export interface InputImage {
  /** Position in the whole input (before sharding), 0-based. */
  index: number;
  /** COCO image id: kept from an input COCO file, else index + 1. */
  id: number;
  /**
   * The dataset's `file_name`: the path relative to the folder it was found in (or to the list
   * file's / COCO file's folder), '/'-separated; a COCO input keeps its own `file_name`.
   */
  fileName: string;
  /** The absolute path that is read. */
  path: string;
}

/** COCO run-length encoding with compressed string counts, as pycocotools writes it. */
export interface CocoRle {
  /** [height, width] */
  size: [number, number];
  counts: string;
}

/** One detection, in original-image pixels, as the formats need it. */
export interface AnnotatedObject {
  /** COCO [x, y, width, height] of the detected box. */
  bbox: [number, number, number, number];
  score: number;
  /** The model's label, which is the COCO category id. */
  categoryId: number;
  /** Pixels of the mask when there is one, else the box's width * height. */
  area: number;
  /** The binary mask (models with a mask head). */
  rle?: CocoRle;
  /** COCO polygons [[x1, y1, x2, y2, ...], ...] from the mask's contours, when an output needs them. */
  polygons?: number[][];
}

/** An image that was annotated (possibly with no objects). */
export interface DoneRecord {
  kind: 'done';
  index: number;
  id: number;
  fileName: string;
  /** The input file's size when it was read: a resume redoes an image whose size changed. */
  bytes: number;
  width: number;
  height: number;
  objects: AnnotatedObject[];
}

/** An image that could not be read or annotated: kept in the output's failures list. */
export interface FailedRecord {
  kind: 'failed';
  index: number;
  id: number;
  fileName: string;
  /** The input file's size when it was read (-1 when it could not be read at all). */
  bytes: number;
  /** The error's code (e.g. IMAGE_DECODE) and its one-line message naming the file. */
  code: string;
  error: string;
}

export type ImageRecord = DoneRecord | FailedRecord;

export interface Category {
  id: number;
  name: string;
  supercategory?: string;
}

export type OutputFormat = 'coco' | 'yolo' | 'labelstudio';
