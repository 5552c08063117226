import { expect } from 'chai';
import { OperatorInputError } from '../../postprocess/errors.js';
import { batchedNms, nms } from '../../postprocess/nms.js';
import { stableSortDescending, torchSortDescending } from '../../postprocess/nmsSort.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getInt } from '../helpers/tensorArchive.js';

const ref = torchReference('box_ops_cases');
const cases = ref.meta.cases as { sort: string[]; nms: string[]; batched: string[] };
const thresholds = ref.meta.thresholds as number[];
const batchedThresholds = ref.meta.batched_thresholds as number[];

/** Index of the first difference, or -1: a readable failure for long index lists. */
function firstDifference(actual: Int32Array, expected: Int32Array): number {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) if (actual[i] !== expected[i]) return i;
  return -1;
}

function expectSameIndices(actual: Int32Array, expected: Int32Array, what: string): void {
  const at = firstDifference(actual, expected);
  expect(at, `${what}: first difference at ${at} (ours ${actual[at]}, torchvision ${expected[at]}; lengths ${actual.length} vs ${expected.length})`).to.equal(-1);
}

describe('score sorts (torch 1.13 CPU)', () => {
  it('torchSortDescending orders exact ties as torch.sort(descending=True) does (unstable std::sort: sizes around the insertion-sort cutoff of 16 up to 5000, heapsort fallback, -0/+0 and infinities)', () => {
    for (const name of cases.sort) {
      const keys = getFloat32(ref, `${name}/keys`).slice();
      const order = Int32Array.from(keys, (_, i) => i);
      torchSortDescending(keys, order, keys.length);
      expectSameIndices(order, getInt(ref, `${name}/order`), name);
    }
  });

  it('stableSortDescending orders as torch.sort(descending=True, stable=True), the nms kernel\'s sort (ties by index, -0 equal to +0)', () => {
    for (const name of cases.sort) {
      const keys = getFloat32(ref, `${name}/keys`);
      const order = Int32Array.from(keys, (_, i) => i);
      stableSortDescending(keys, order, keys.length);
      expectSameIndices(order, getInt(ref, `${name}/stable_order`), name);
    }
  });

  it('stableSortDescending gives the same order through its fallback for more than 2^21 scores', () => {
    const big = new Float32Array((1 << 21) + 8);
    const picked = Int32Array.from({ length: 300 }, (_, k) => k * 7000);
    for (let k = 0; k < picked.length; k++) big[picked[k]] = [0, -0, 0.5, Infinity, -Infinity][k % 5];
    const viaFallback = picked.slice();
    stableSortDescending(big, viaFallback, picked.length);
    const small = Float32Array.from(picked, (i) => big[i]);
    const viaKeys = Int32Array.from(picked, (_, k) => k);
    stableSortDescending(small, viaKeys, picked.length);
    expectSameIndices(viaFallback, Int32Array.from(viaKeys, (k) => picked[k]), 'fallback vs keyed sort');
  });
});

describe('nms (torchvision.ops.nms, CPU kernel)', () => {
  for (const name of cases.nms) {
    it(`keeps the same indices in the same order as torchvision for ${name.slice(4)} at IoU thresholds ${thresholds.join(', ')}`, () => {
      const boxes = getFloat32(ref, `${name}/boxes`);
      const scores = getFloat32(ref, `${name}/scores`);
      for (const t of thresholds) expectSameIndices(nms(boxes, scores, t), getInt(ref, `${name}/keep_${t}`), `${name} @ ${t}`);
    });
  }

  it('returns an empty Int32Array for no boxes', () => {
    const keep = nms(new Float32Array(0), new Float32Array(0), 0.5);
    expect(keep).to.be.instanceOf(Int32Array);
    expect(keep.length).to.equal(0);
  });

  it('does not modify its inputs', () => {
    const boxes = getFloat32(ref, 'nms/n100_ties/boxes').slice();
    const scores = getFloat32(ref, 'nms/n100_ties/scores').slice();
    nms(boxes, scores, 0.5);
    expect(boxes).to.deep.equal(getFloat32(ref, 'nms/n100_ties/boxes'));
    expect(scores).to.deep.equal(getFloat32(ref, 'nms/n100_ties/scores'));
  });
});

describe('batchedNms (torchvision.ops.batched_nms, CPU)', () => {
  for (const name of cases.batched) {
    const n = Number(/n(\d+)/.exec(name)?.[1]);
    const branch = 4 * n > 4000 ? 'per-class loop (> 1000 boxes)' : 'coordinate trick (<= 1000 boxes)';
    it(`keeps the same indices in the same order as torchvision for ${name.slice(8)}, ${branch}`, () => {
      const boxes = getFloat32(ref, `${name}/boxes`);
      const scores = getFloat32(ref, `${name}/scores`);
      const idxs = getInt(ref, `${name}/idxs`);
      for (const t of batchedThresholds) {
        expectSameIndices(batchedNms(boxes, scores, idxs, t), getInt(ref, `${name}/keep_${t}`), `${name} @ ${t}`);
      }
    });
  }

  it('returns an empty Int32Array for no boxes', () => {
    expect(batchedNms(new Float32Array(0), new Float32Array(0), new Int32Array(0), 0.5).length).to.equal(0);
  });
});

describe('nms and batchedNms on bad input', () => {
  const boxes = new Float32Array([0, 0, 10, 10, 1, 1, 11, 11]);
  const scores = new Float32Array([0.9, 0.8]);
  const idxs = new Int32Array([0, 0]);

  function expectRefused(run: () => unknown, message: RegExp): void {
    expect(run).to.throw(OperatorInputError, message);
  }

  it('refuses boxes whose length is not a multiple of 4', () => {
    expectRefused(() => nms(boxes.subarray(0, 7), scores, 0.5), /boxes has 7 numbers/);
  });
  it('refuses scores and idxs whose lengths differ from the number of boxes', () => {
    expectRefused(() => nms(boxes, new Float32Array([1]), 0.5), /one score per box \(2\), got 1/);
    expectRefused(() => batchedNms(boxes, scores, new Int32Array([0, 0, 1]), 0.5), /idxs .* \(2\), got 3/);
  });
  it('refuses NaN and infinite coordinates, naming the box', () => {
    expectRefused(() => nms(new Float32Array([0, 0, 10, 10, 0, NaN, 1, 1]), scores, 0.5), /boxes\[1\] has a non-finite coordinate \(NaN\)/);
    expectRefused(() => batchedNms(new Float32Array([0, 0, Infinity, 10, 0, 0, 1, 1]), scores, idxs, 0.5), /boxes\[0\] .*Infinity/);
  });
  it('refuses NaN scores (torch would sort them first and keep them; a NaN score is a broken model output)', () => {
    expectRefused(() => nms(boxes, new Float32Array([0.5, NaN]), 0.5), /scores\[1\] is NaN/);
  });
  it('refuses negative and NaN IoU thresholds', () => {
    expectRefused(() => nms(boxes, scores, -0.1), /iouThreshold must be a number >= 0, got -0.1/);
    expectRefused(() => batchedNms(boxes, scores, idxs, NaN), /iouThreshold .* got NaN/);
  });
  it('keeps every box at an infinite threshold', () => {
    expect(Array.from(nms(boxes, scores, Infinity))).to.deep.equal([0, 1]);
  });
});
