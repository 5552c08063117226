/**
 * What `detect` returns: one result type, always. The mask of a detection is present when masks
 * were asked for and the model has a mask head; its `format` says which form it has.
 */

/** A binary mask of the whole image: [height, width] of 0 / 1, row-major. */
export interface BinaryMask {
  format: 'binary';
  width: number;
  height: number;
  data: Uint8Array;
}

/** Pasted probabilities of the whole image: [height, width] in [0, 1], row-major. */
export interface ProbabilityMask {
  format: 'probability';
  width: number;
  height: number;
  data: Float32Array;
}

/** COCO run-length encoding (compressed string counts, as pycocotools writes it). */
export interface RleMask {
  format: 'rle';
  /** [height, width] as COCO writes it. */
  size: [number, number];
  counts: string;
}

export type Mask = BinaryMask | ProbabilityMask | RleMask;

export interface Detection {
  /** [x1, y1, x2, y2] in original-image pixels. */
  box: [number, number, number, number];
  score: number;
  label: number;
  className: string;
  mask?: Mask;
}

/** Milliseconds spent in each stage of one image. */
export interface StageTimings {
  decode: number;
  transform: number;
  backbone: number;
  rpn: number;
  roiHeads: number;
  masks: number;
  postprocess: number;
  total: number;
  /** Of the above, the time inside ONNX Runtime (the networks); the rest is resdet's TypeScript. */
  onnxRuntime: number;
}

export interface DetectionResult {
  width: number;
  height: number;
  detections: Detection[];
  timings: StageTimings;
  /** Which image decoder produced the pixels (e.g. libjpeg-turbo through sharp). */
  decoder: string;
}

export type MaskOutput = 'binary' | 'probability' | 'rle' | 'none';

/** Options of `detect`. */
export interface DetectOptions {
  /** Drop detections below this score (the model's own floor, 0.05 by default, applies first). */
  scoreThreshold?: number;
  /** Keep at most this many detections (by decreasing score); the model's cap (100) applies first. */
  maxDetections?: number;
  /** Keep only these class names (or labels). */
  classes?: ReadonlyArray<string | number>;
  /** Probability above which a pixel belongs to the mask (default 0.5, as torchvision's `> 0.5`). */
  maskThreshold?: number;
  /** Mask form: 'binary' (default), 'probability', 'rle', or 'none'. */
  masks?: MaskOutput;
  /** Apply the EXIF orientation of encoded images (default true). */
  applyExifOrientation?: boolean;
  /** Refuse images with more pixels than this, before decoding (default 100 MP). */
  maxPixels?: number;
}
