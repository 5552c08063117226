/**
 * What `detect` returns: one result type, always. The mask of a detection is present when masks
 * were asked for and the model has a mask head; its `format` says which form it has.
 */

/**
 * Where a mask's pixels lie: a window of the image, columns left .. left + width - 1 and rows
 * top .. top + height - 1. By default (`maskExtent: 'box'`) the window is the detection's pasted box
 * clipped to the image, outside of which torchvision's full-image mask is 0, so masks cost memory in
 * proportion to the objects; with `maskExtent: 'image'` it is the whole image. `fullImageMask`
 * expands either to [imageHeight, imageWidth].
 */
export interface MaskWindow {
  left: number;
  top: number;
  width: number;
  height: number;
  imageWidth: number;
  imageHeight: number;
}

/** A binary mask: `data` [height, width] of 0 / 1, row-major, over its window. */
export interface BinaryMask extends MaskWindow {
  format: 'binary';
  data: Uint8Array;
}

/** Pasted probabilities in [0, 1]: `data` [height, width], row-major, over its window. */
export interface ProbabilityMask extends MaskWindow {
  format: 'probability';
  data: Float32Array;
}

/** COCO run-length encoding of the whole image (compressed string counts, as pycocotools writes it). */
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

/** The window binary and probability masks cover: the detection's box (default) or the whole image. */
export type MaskExtent = 'box' | 'image';

/** Options of `detect`. */
export interface DetectOptions {
  /**
   * Drop detections below this score (default 0.5, as the CLI; the model's own floor, torchvision's
   * 0.05, applies first: pass 0 to get everything the model keeps, as COCO evaluation does).
   */
  scoreThreshold?: number;
  /** Keep at most this many detections (by decreasing score); the model's cap (100) applies first. */
  maxDetections?: number;
  /** Keep only these class names (or labels). */
  classes?: ReadonlyArray<string | number>;
  /** Probability above which a pixel belongs to the mask (default 0.5, as torchvision's `> 0.5`). */
  maskThreshold?: number;
  /** Mask form: 'binary' (default), 'probability', 'rle', or 'none'. */
  masks?: MaskOutput;
  /** Window of binary and probability masks: 'box' (default, the detection's box) or 'image'. */
  maskExtent?: MaskExtent;
  /** Apply the EXIF orientation of encoded images (default true). */
  applyExifOrientation?: boolean;
  /** Refuse images with more pixels than this, before decoding (default 100 MP). */
  maxPixels?: number;
  /** Aborts the call between stages; it then rejects with `signal.reason` (an AbortError). */
  signal?: AbortSignal;
}

/** The defaults `detect` applies, shared by the library and the CLI. */
export const detectDefaults = {
  scoreThreshold: 0.5,
  maskThreshold: 0.5,
  masks: 'binary',
  maskExtent: 'box',
} as const;
