import { expect } from 'chai';
import { evaluateCoco, formatFixed, type CocoEvalResult } from '../../src/eval/index.js';
import { linspace } from '../../src/eval/params.js';
import { cocoFixture, type Reference } from './fixtures.js';

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  expect(actual.length, `${what} length`).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      expect.fail(`${what}[${i}] = ${actual[i]}, pycocotools ${expected[i]} (tolerance ${tol})`);
    }
  }
}

/** precision [T, R, K, A, M] summed over R -> [T, K, A, M], as the fixtures store it. */
function sumOverR(r: CocoEvalResult): number[] {
  const [T, R, K, A, M] = r.counts;
  const out = new Array<number>(T * K * A * M).fill(0);
  for (let t = 0; t < T; t++) for (let q = 0; q < R; q++) for (let k = 0; k < K; k++) for (let a = 0; a < A; a++) {
    for (let m = 0; m < M; m++) out[((t * K + k) * A + a) * M + m] += r.precision[(((t * R + q) * K + k) * A + a) * M + m];
  }
  return out;
}

function expectEqualToPycocotools(r: CocoEvalResult, ref: Reference): void {
  expectClose(r.stats, ref.stats, 1e-12, 'stats');
  expect(r.summary).to.equal(ref.summary);
  expectClose(r.recall, ref.recall, 1e-12, 'recall');
  if (ref.precision) expectClose(r.precision, ref.precision, 1e-12, 'precision');
  if (ref.precisionSumOverR) expectClose(sumOverR(r), ref.precisionSumOverR, 1e-9, 'precision summed over recall thresholds');
}

describe("COCO evaluation (pycocotools' COCOeval)", () => {
  describe('parameters', () => {
    const hand = cocoFixture<{ iouThrs: number[]; recThrs: number[]; format3: Array<[number, string]> }>('hand.json');
    it("builds iouThrs and recThrs bit for bit as np.linspace does (so IoU=.50 and .75 are found by ==)", () => {
      expect(linspace(0.5, 0.95, 10)).to.deep.equal(hand.iouThrs);
      expect(linspace(0, 1, 101)).to.deep.equal(hand.recThrs);
    });
    it("prints numbers as Python's '{:0.3f}' does, ties to even included", () => {
      for (const [v, s] of hand.format3) expect(formatFixed(v, 3), String(v)).to.equal(s);
    });
  });

  describe('on the hand-checkable case (2 images, 2 categories, 4 detections)', () => {
    const c = cocoFixture('hand.json');
    for (const iouType of ['bbox', 'segm'] as const) {
      it(`gives pycocotools' 12 numbers, summary text, precision and recall for ${iouType}`, () => {
        const r = evaluateCoco(c.gt, c.dt, iouType);
        expectEqualToPycocotools(r, c[iouType]!);
        expect(r.counts).to.deep.equal([10, 101, 2, 4, 3]);
      });
    }
    it('gives AP small = 0.3: the IoU-0.6 detection counts at 3 of 10 thresholds, the medium match is ignored', () => {
      // gt 1 (20x20) is the only small object; the 0.9 detection matches gt 2 (medium: ignored), the
      // 0.8 one overlaps gt 1 with IoU 300 / 500 = 0.6 (matched at .50, .55, .60: AP 1 there, 0 else)
      const r = evaluateCoco(c.gt, c.dt, 'bbox');
      expect(r.stats[3]).to.be.closeTo(0.3, 1e-12);
      expect(r.stats[5]).to.equal(-1); // no large object: -1, as summarize prints
      expect(r.stats[1]).to.equal(1);
    });
  });

  for (const name of ['random_a.json', 'random_b.json', 'random_segonly.json']) {
    describe(`on ${name} (crowd RLEs, polygons, all area ranges, score ties, empty images, >100 detections)`, () => {
      const c = cocoFixture(name);
      if (c.bbox) {
        it('gives the same bbox stats, summary, recall and precision as pycocotools', () => {
          expectEqualToPycocotools(evaluateCoco(c.gt, c.dt, 'bbox'), c.bbox!);
        });
      }
      it('gives the same segm stats, summary, recall and precision as pycocotools', () => {
        expectEqualToPycocotools(evaluateCoco(c.gt, c.dt, 'segm'), c.segm);
      });
      if (c.bboxFromSegm) {
        it('takes boxes and areas from the masks when results have only segmentations (loadRes)', () => {
          expectEqualToPycocotools(evaluateCoco(c.gt, c.dt, 'bbox'), c.bboxFromSegm!);
        });
      }
    });
  }
});
