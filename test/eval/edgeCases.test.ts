import { expect } from 'chai';
import { evaluateCoco, type CocoDataset, type CocoDetection, type CocoEvalParams, type IouType } from '../../src/eval/index.js';
import { cocoFixture } from './fixtures.js';

// Small cases at the corners of pycocotools' semantics, with COCOeval's outputs
// (test/reference/coco_fixtures.py, see test/fixtures/coco/README.md).
interface EdgeCase {
  name: string;
  gt: CocoDataset;
  dt: CocoDetection[];
  iouType: IouType;
  params: { useCats?: number; maxDets?: number[]; imgIds?: number[]; catIds?: number[] };
  expected: { stats: number[]; summary: string; recall: number[] };
}

describe("COCO evaluation at the corners of pycocotools' semantics", () => {
  for (const c of cocoFixture<{ cases: EdgeCase[] }>('edge.json').cases) {
    it(`equals pycocotools: ${c.name}`, () => {
      const { useCats, ...rest } = c.params;
      const params: CocoEvalParams = { ...rest, ...(useCats === undefined ? {} : { useCats: useCats !== 0 }) };
      const r = evaluateCoco(c.gt, c.dt, c.iouType, params);
      r.stats.forEach((v, i) => expect(v, `stats[${i}]`).to.be.closeTo(c.expected.stats[i], 1e-12));
      expect(r.summary).to.equal(c.expected.summary);
      expect(Array.from(r.recall)).to.have.length(c.expected.recall.length);
      r.recall.forEach((v, i) => expect(v, `recall[${i}]`).to.be.closeTo(c.expected.recall[i], 1e-12));
    });
  }

  it('evaluates an empty results list as no detections: AP and AR 0 where there is ground truth (pycocotools raises)', () => {
    const { gt } = cocoFixture('hand.json');
    const r = evaluateCoco(gt, [], 'bbox');
    expect(r.stats).to.deep.equal([0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, -1]);
  });
});
