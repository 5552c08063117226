/**
 * One image's end-to-end parity check, shared by the torchvision comparisons: torchvision's
 * detections read from a reference archive, ours from a DetectionResult, matched both ways with
 * the match rates printed.
 */
import { expect } from 'chai';
import { type BinaryMask, type DetectionResult, fullImageMask } from '../../src/index.js';
import { type FlatDetections, matchDetections } from './matching.js';
import { type Archive, getFloat32, getInt, getShape } from './tensorArchive.js';

/** torchvision's detections stored under `<prefix>/{boxes,scores,labels,masks}`. */
export function torchvisionDetections(ref: Archive, prefix: string, withMasks: boolean): FlatDetections {
  const expected: FlatDetections = {
    boxes: getFloat32(ref, `${prefix}/boxes`),
    scores: getFloat32(ref, `${prefix}/scores`),
    labels: getInt(ref, `${prefix}/labels`),
  };
  if (withMasks) {
    const [d, h, w] = getShape(ref, `${prefix}/masks`);
    const all = ref.tensors.get(`${prefix}/masks`)!.data as Uint8Array;
    expected.masks = Array.from({ length: d }, (_, k) => all.subarray(k * h * w, (k + 1) * h * w));
  }
  return expected;
}

/** Our detections in the same flat form, masks expanded to the whole image. */
export function resdetDetections(result: DetectionResult, withMasks: boolean): FlatDetections {
  return {
    boxes: result.detections.flatMap((d) => d.box),
    scores: result.detections.map((d) => d.score),
    labels: result.detections.map((d) => d.label),
    masks: withMasks ? result.detections.map((d) => fullImageMask(d.mask as BinaryMask)) : undefined,
  };
}

/** Every torchvision detection matched by ours and the other way round; prints the rates under `label`. */
export function expectEveryDetectionMatched(label: string, result: DetectionResult, expected: FlatDetections): void {
  const ours = resdetDetections(result, expected.masks !== undefined);
  const r = matchDetections(ours, expected);
  console.log(`      ${label} ${result.width}x${result.height}: ${expected.scores.length} torchvision / ${ours.scores.length} ours; matched ${(r.recall * 100).toFixed(1)}% / ${(r.precision * 100).toFixed(1)}%, worst box IoU ${r.worstBoxIou.toFixed(5)}, worst score diff ${r.worstScoreDiff.toExponential(1)}${r.maskPairs ? `, masks ${r.maskMatched}/${r.maskPairs} (worst IoU ${r.worstMaskIou.toFixed(4)})` : ''}`);
  expect(expected.scores.length, 'torchvision found detections').to.be.above(0);
  expect(r.recall, 'torchvision detections matched by ours').to.equal(1);
  expect(r.precision, 'our detections matched by torchvision').to.equal(1);
  expect(r.maskMatched).to.equal(r.maskPairs);
}
