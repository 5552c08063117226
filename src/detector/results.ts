/**
 * From network outputs to what `detect` returns: the caller's filters, boxes mapped back to the
 * original image (torchvision's `transform.postprocess`), masks pasted and put in the asked form.
 */
import type { Detections } from '../../heads/roiHeads.js';
import {
  pasteBinaryMasksInBoxes, pasteBinaryMasksInImage, pasteMasksInBoxes, pasteMasksInImage, rleDecode, rleEncodeWindow,
  rleFrString, rleToString, type MaskWindow as PastedWindow,
} from '../../postprocess/typed.js';
import type { ResolvedDetectOptions } from './options.js';
import type { BinaryMask, Detection, Mask, ProbabilityMask } from './result.js';

/** The caller's filters (score, classes, count) as a selection over the model's detections. */
export function detectionFilter(options: ResolvedDetectOptions): (d: Detections) => Detections {
  const { scoreThreshold: min, maxDetections: max, labels: allowed } = options;
  return (d) => {
    const keep: number[] = [];
    for (let i = 0; i < d.scores.length && keep.length < max; i++) {
      if (d.scores[i] >= min && (!allowed || allowed.has(d.labels[i]))) keep.push(i);
    }
    const boxes = new Float32Array(4 * keep.length);
    keep.forEach((k, j) => boxes.set(d.boxes.subarray(4 * k, 4 * k + 4), 4 * j));
    return { boxes, scores: Float32Array.from(keep, (i) => d.scores[i]), labels: Int32Array.from(keep, (i) => d.labels[i]) };
  };
}

/**
 * Boxes from the resized image back to the original, as torchvision's `resize_boxes`: each axis
 * times float32(original / resized), in float32.
 * @param boxes [D, 4] in resized-image pixels
 */
export function resizeBoxes(boxes: Float32Array, resized: [number, number], original: [number, number]): Float32Array {
  const ratioH = Math.fround(Math.fround(original[0]) / Math.fround(resized[0]));
  const ratioW = Math.fround(Math.fround(original[1]) / Math.fround(resized[1]));
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = boxes[i] * ratioW;
    out[i + 1] = boxes[i + 1] * ratioH;
    out[i + 2] = boxes[i + 2] * ratioW;
    out[i + 3] = boxes[i + 3] * ratioH;
  }
  return out;
}

/** Whole-image planes [D, H, W] as D windows covering the image. */
function imageWindows<T extends Float32Array | Uint8Array>(planes: T, count: number, height: number, width: number): PastedWindow<T>[] {
  const plane = height * width;
  return Array.from({ length: count }, (_, i) => ({ left: 0, top: 0, width, height, data: planes.subarray(i * plane, (i + 1) * plane) as T }));
}

/**
 * Pastes [D, M, M] probabilities into the image and puts each in the asked form. Binary and RLE
 * masks are pasted per box window, so memory follows the objects: a 9 MP image with a few objects
 * costs a few box-sized buffers, not D full-image planes.
 */
function formatMasks(masks: Float32Array, boxes: Float32Array, height: number, width: number, options: ResolvedDetectOptions, padding: number): Mask[] {
  const count = boxes.length / 4;
  const image = { imageWidth: width, imageHeight: height };
  if (options.masks === 'probability') {
    const windows = options.maskExtent === 'image'
      ? imageWindows(pasteMasksInImage(masks, boxes, height, width, { padding }), count, height, width)
      : pasteMasksInBoxes(masks, boxes, height, width, { padding });
    return windows.map((w): ProbabilityMask => ({ format: 'probability', ...w, ...image }));
  }
  const paste = { padding, maskThreshold: options.maskThreshold };
  const windows = options.maskExtent === 'image' && options.masks === 'binary'
    ? imageWindows(pasteBinaryMasksInImage(masks, boxes, height, width, paste), count, height, width)
    : pasteBinaryMasksInBoxes(masks, boxes, height, width, paste);
  if (options.masks === 'rle') {
    return windows.map((w): Mask => ({ format: 'rle', size: [height, width], counts: rleToString(rleEncodeWindow(w.data, w, height, width)) }));
  }
  return windows.map((w): BinaryMask => ({ format: 'binary', ...w, ...image }));
}

/** The detections of one image in original-image pixels, with masks in the asked form. */
export function toDetections(
  detections: Detections, masks: Float32Array | undefined, resized: [number, number], original: [number, number],
  classes: readonly string[], options: ResolvedDetectOptions, padding: number,
): Detection[] {
  const boxes = resizeBoxes(detections.boxes, resized, original);
  const wantMasks = masks !== undefined && options.masks !== 'none';
  const formatted = wantMasks ? formatMasks(masks, boxes, original[0], original[1], options, padding) : [];
  return Array.from(detections.scores, (score, i) => {
    const label = detections.labels[i];
    const d: Detection = {
      box: [boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]],
      score,
      label,
      className: classes[label] ?? `class${label}`,
    };
    if (wantMasks) d.mask = formatted[i];
    return d;
  });
}

/**
 * A mask as a whole-image array [imageHeight, imageWidth], row-major: binary masks as 0 / 1 bytes,
 * probabilities as floats, RLE decoded to 0 / 1. A mask that already covers the image is returned
 * as is (its own `data`), so do not modify the result if you keep the mask.
 */
export function fullImageMask(mask: BinaryMask): Uint8Array;
export function fullImageMask(mask: ProbabilityMask): Float32Array;
export function fullImageMask(mask: Mask): Uint8Array | Float32Array;
export function fullImageMask(mask: Mask): Uint8Array | Float32Array {
  if (mask.format === 'rle') return rleDecode(rleFrString(mask.counts, mask.size[0], mask.size[1]));
  const { left, top, width, height, imageWidth, imageHeight, data } = mask;
  if (left === 0 && top === 0 && width === imageWidth && height === imageHeight) return data;
  const out = mask.format === 'binary' ? new Uint8Array(imageWidth * imageHeight) : new Float32Array(imageWidth * imageHeight);
  for (let r = 0; r < height; r++) out.set(data.subarray(r * width, (r + 1) * width), (top + r) * imageWidth + left);
  return out;
}
