import { expect } from 'chai';
import { OperatorInputError } from '../../postprocess/errors.js';
import { batchedNms, limitedBatchedNms, nms, planBatchedNms } from '../../postprocess/nms.js';
import { NmsWorkspace } from '../../postprocess/nmsGreedy.js';
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

  it('with a limit gives torchvision\'s keep[:limit] for every reference case, both branches', () => {
    for (const name of cases.batched) {
      const boxes = getFloat32(ref, `${name}/boxes`);
      const scores = getFloat32(ref, `${name}/scores`);
      const idxs = getInt(ref, `${name}/idxs`);
      for (const t of batchedThresholds) {
        const want = getInt(ref, `${name}/keep_${t}`);
        for (const limit of [0, 1, 7, 100, 300, 1000, 1e9]) {
          expectSameIndices(batchedNms(boxes, scores, idxs, t, limit), want.slice(0, limit), `${name} @ ${t}, limit ${limit}`);
        }
      }
    }
  });
});

/** RPN-like proposals: boxes jittered around a few objects, one category per pyramid level. */
function rpnLike(seed: number, n: number, levels: number, quantum: number): { boxes: Float32Array; scores: Float32Array; idxs: Int32Array } {
  let state = seed >>> 0;
  const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const objects = Array.from({ length: 5 }, () => [random() * 200, random() * 200, 20 + random() * 60, 20 + random() * 60]);
  const boxes = new Float32Array(4 * n), scores = new Float32Array(n), idxs = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const [x, y, w, h] = objects[i % objects.length];
    const s = 0.5 + random();
    const x1 = x + (random() - 0.5) * w * 0.6, y1 = y + (random() - 0.5) * h * 0.6;
    boxes.set([x1, y1, x1 + w * s, y1 + h * s], 4 * i);
    const score = random();
    // quantum > 0: scores rounded to it, so many tie (as saturated sigmoids do at 1.0).
    scores[i] = quantum > 0 ? Math.round(score / quantum) * quantum : score;
    idxs[i] = i % levels;
  }
  return { boxes, scores, idxs };
}

describe('batchedNms with a limit (the RPN\'s postNmsTopN, the heads\' detectionsPerImage)', () => {
  it('equals the whole result cut to the limit on clustered boxes, with and without tied scores', () => {
    for (let seed = 1; seed <= 40; seed++) {
      for (const n of [300, 900, 3000]) {
        for (const quantum of [0, 0.01, 0.25]) {
          const { boxes, scores, idxs } = rpnLike(seed, n, 5, quantum);
          for (const t of [0.5, 0.7]) {
            const all = batchedNms(boxes, scores, idxs, t);
            for (const limit of [1, 50, 300]) expectSameIndices(batchedNms(boxes, scores, idxs, t, limit), all.slice(0, limit), `seed ${seed}, n ${n}, quantum ${quantum}, IoU ${t}, limit ${limit}`);
          }
        }
      }
    }
  });

  it('stops early on distinct scores; where the best kept scores tie it runs levels whole, once', () => {
    // Per-class branch (3000 boxes, 5 levels): distinct scores stop early and agree.
    const distinct = rpnLike(3, 3000, 5, 0);
    const plan = planBatchedNms(distinct.boxes, distinct.scores, distinct.idxs, 0.7);
    const fast = limitedBatchedNms(plan, distinct.scores, 0.7, 50, new NmsWorkspace(3000));
    expect(fast.visited, 'boxes visited').to.be.below(3000);
    expect(fast.redone).to.equal(false);
    expectSameIndices(fast.keep, batchedNms(distinct.boxes, distinct.scores, distinct.idxs, 0.7).slice(0, 50), 'distinct');
    // Ties inside the first level: the others run whole at once, nothing is redone.
    const tied = rpnLike(3, 3000, 5, 0.25);
    const tiedPlan = planBatchedNms(tied.boxes, tied.scores, tied.idxs, 0.7);
    const whole = limitedBatchedNms(tiedPlan, tied.scores, 0.7, 50, new NmsWorkspace(3000));
    expect([whole.visited, whole.redone], 'visited, redone').to.deep.equal([3000, false]);
    expectSameIndices(whole.keep, batchedNms(tied.boxes, tied.scores, tied.idxs, 0.7).slice(0, 50), 'tied');
    // Ties only across levels (level 1 repeats level 0's scores): seen at the end, the cut levels are redone.
    const across = rpnLike(3, 3000, 5, 0);
    for (let i = 0; i < 3000; i++) if (across.idxs[i] === 1) across.scores[i] = across.scores[i - 1];
    const acrossPlan = planBatchedNms(across.boxes, across.scores, across.idxs, 0.7);
    const redone = limitedBatchedNms(acrossPlan, across.scores, 0.7, 50, new NmsWorkspace(3000));
    expect(redone.redone, 'redone on ties across levels').to.equal(true);
    expectSameIndices(redone.keep, batchedNms(across.boxes, across.scores, across.idxs, 0.7).slice(0, 50), 'tied across levels');
  });

  it('refuses a negative or NaN limit', () => {
    const { boxes, scores, idxs } = rpnLike(1, 10, 2, 0);
    expect(() => batchedNms(boxes, scores, idxs, 0.5, -1)).to.throw(OperatorInputError, /limit must be a number >= 0, got -1/);
    expect(() => batchedNms(boxes, scores, idxs, 0.5, NaN)).to.throw(OperatorInputError, /limit must be a number >= 0, got NaN/);
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
