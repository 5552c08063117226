/**
 * From network outputs to what `detect` returns: the caller's filters, boxes mapped back to the
 * original image (torchvision's `transform.postprocess`), masks pasted and put in the asked form.
 */
import type { Detections } from '../../heads/roiHeads.js';
import { pasteBinaryMasksInImage, pasteMasksInImage, rleEncode, rleToString } from '../../postprocess/index.js';
import type { Detection, DetectOptions, Mask } from './result.js';

/** The caller's filters (score, classes, count) as a selection over the model's detections. */
export function detectionFilter(options: DetectOptions, classes: readonly string[]): (d: Detections) => Detections {
  const allowed = options.classes ? new Set(options.classes.map((c) => (typeof c === 'number' ? c : classes.indexOf(c)))) : null;
  if (options.classes) {
    const unknown = options.classes.filter((c) => typeof c === 'string' && !classes.includes(c));
    if (unknown.length) throw new RangeError(`classes ${JSON.stringify(unknown)} are not classes of this model (${classes.slice(1, 6).join(', ')}, ...)`);
  }
  const min = options.scoreThreshold ?? 0;
  const max = options.maxDetections ?? Infinity;
  return (d) => {
    const keep: number[] = [];
    for (let i = 0; i < d.scores.length && keep.length < max; i++) {
      if (d.scores[i] >= min && (!allowed || allowed.has(d.labels[i]))) keep.push(i);
    }
    return {
      boxes: Float32Array.from(keep.flatMap((i) => Array.from(d.boxes.subarray(4 * i, 4 * i + 4)))),
      scores: Float32Array.from(keep, (i) => d.scores[i]),
      labels: Int32Array.from(keep, (i) => d.labels[i]),
    };
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

/** Pastes [D, M, M] probabilities into the image and puts each in the asked form. */
function formatMasks(masks: Float32Array, boxes: Float32Array, height: number, width: number, options: DetectOptions, padding: number): Mask[] {
  const form = options.masks ?? 'binary';
  const plane = height * width;
  const count = boxes.length / 4;
  if (form === 'probability') {
    const pasted = pasteMasksInImage(masks, boxes, height, width, { padding });
    return Array.from({ length: count }, (_, i) => ({ format: 'probability', width, height, data: pasted.subarray(i * plane, (i + 1) * plane) }));
  }
  const binary = pasteBinaryMasksInImage(masks, boxes, height, width, { padding, maskThreshold: options.maskThreshold ?? 0.5 });
  return Array.from({ length: count }, (_, i): Mask => {
    const data = binary.subarray(i * plane, (i + 1) * plane);
    if (form === 'rle') return { format: 'rle', size: [height, width], counts: rleToString(rleEncode(data, height, width)) };
    return { format: 'binary', width, height, data };
  });
}

/** The detections of one image in original-image pixels, with masks in the asked form. */
export function toDetections(
  detections: Detections, masks: Float32Array | undefined, resized: [number, number], original: [number, number],
  classes: readonly string[], options: DetectOptions, padding: number,
): Detection[] {
  const boxes = resizeBoxes(detections.boxes, resized, original);
  const wantMasks = masks !== undefined && (options.masks ?? 'binary') !== 'none';
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
