import { expect } from 'chai';
import { OperatorInputError } from '../../postprocess/errors.js';
import { type LevelFeatures, assignLevels, multiScaleRoiAlign } from '../../postprocess/multiScaleRoiAlign.js';
import type { Nchw } from '../../postprocess/roiAlign.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getInt, getShape } from '../helpers/tensorArchive.js';

const ref = torchReference('roi_align_cases');
interface MsraCase {
  name: string; images: number; outputSize: [number, number]; samplingRatio: number;
  levels: number[]; inferredScales: number[]; kMin?: number; kMax?: number;
}
const cases = ref.meta.msra as MsraCase[];

/** The FPN levels '0'..'3' of the padded 800x1216 batch, declared as a backbone declares them. */
const pyramid: LevelFeatures[] = [0, 1, 2, 3].map((i) => ({
  name: String(i),
  stride: 4 << i,
  channels: getShape(ref, `msra/feature_${i}`)[1],
  data: getFloat32(ref, `msra/feature_${i}`),
  shape: getShape(ref, `msra/feature_${i}`) as unknown as Nchw,
}));
const range = (() => {
  let lo = Infinity, hi = -Infinity;
  for (const l of pyramid) for (const v of l.data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return hi - lo;
})();
const tolerance = 1e-5 * range;
let maxDifference = 0;

function boxesOf(c: MsraCase): Float32Array[] {
  return Array.from({ length: c.images }, (_, i) => getFloat32(ref, `${c.name}/boxes_${i}`));
}

describe('multiScaleRoiAlign (torchvision.ops.MultiScaleRoIAlign)', () => {
  after(() => {
    console.log(`      multiScaleRoiAlign: max |ours - torchvision| = ${maxDifference.toExponential(3)} (bar ${tolerance.toExponential(3)} = 1e-5 of the feature range ${range.toFixed(2)})`);
  });

  it('declares the scales torchvision infers from 799x1199 and 640x1000 images padded to 800x1216 (1 / stride = 2 ** round(log2(Hl / 799)))', () => {
    for (const c of cases) {
      expect(c.levels.map((l) => 1 / pyramid[l].stride), c.name).to.deep.equal(c.inferredScales);
    }
  });

  for (const c of cases.filter((k) => k.kMin !== undefined)) {
    it(`assigns every box the level of torchvision's LevelMapper, boundaries 112/224/448, clamped, zero and negative areas included (${c.name})`, () => {
      expect([c.kMin, c.kMax]).to.deep.equal([2, 5]);
      const boxes = boxesOf(c);
      const all = new Float32Array(boxes.reduce((n, b) => n + b.length, 0));
      boxes.reduce((at, b) => (all.set(b, at), at + b.length), 0);
      const ours = assignLevels(all, { kMin: 2, kMax: 5 });
      const expected = getInt(ref, `${c.name}/levels`);
      expect(Array.from(ours)).to.deep.equal(Array.from(expected));
      // the case must reach every level: 2..5 and the clamped ends
      for (let level = 0; level < 4; level++) expect(Array.from(expected), `level index ${level}`).to.include(level);
    });
  }

  for (const c of cases) {
    const what = c.levels.length === 1 ? 'pools every box from the single level without the mapper' : 'equals torchvision, in box order';
    it(`${what} (${c.name}: ${c.images} images, outputSize ${c.outputSize.join('x')}, samplingRatio ${c.samplingRatio})`, () => {
      const levels = c.levels.map((l) => pyramid[l]);
      const ours = multiScaleRoiAlign(levels, boxesOf(c), { outputSize: c.outputSize, samplingRatio: c.samplingRatio });
      const expected = getFloat32(ref, `${c.name}/output`);
      expect(ours.length).to.equal(expected.length);
      const perRoi = ours.length / Math.max(1, boxesOf(c).reduce((n, b) => n + b.length / 4, 0));
      for (let i = 0; i < expected.length; i++) {
        const d = Math.abs(ours[i] - expected[i]);
        maxDifference = Math.max(maxDifference, d);
        if (!(d <= tolerance)) expect.fail(`box ${Math.floor(i / perRoi)} element ${i % perRoi}: ours ${ours[i]}, torchvision ${expected[i]}`);
      }
    });
  }

  it('uses samplingRatio 2 and aligned false by default, as torchvision detection models do', () => {
    const c = cases.find((k) => k.name === 'msra/two_images_7')!;
    const ours = multiScaleRoiAlign(pyramid, boxesOf(c), { outputSize: [7, 7] });
    const expected = getFloat32(ref, `${c.name}/output`);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(ours[i] - expected[i]));
    expect(worst).to.be.at.most(tolerance);
  });

  it('returns an empty Float32Array when no image has boxes', () => {
    expect(multiScaleRoiAlign(pyramid, [new Float32Array(0), new Float32Array(0)], { outputSize: [7, 7] }).length).to.equal(0);
    expect(multiScaleRoiAlign(pyramid, [], { outputSize: [7, 7] }).length).to.equal(0);
  });
});

describe('multiScaleRoiAlign on bad input', () => {
  const box = [new Float32Array([10, 10, 100, 100])];
  const opts = { outputSize: [7, 7] as [number, number] };
  const refuses = (what: RegExp, fn: () => unknown) => expect(fn).to.throw(OperatorInputError, what);

  it('refuses strides that are not powers of two or not consecutive, and an empty pyramid', () => {
    refuses(/level '1' stride 12 is not a power of two/, () => multiScaleRoiAlign([pyramid[0], { ...pyramid[1], stride: 12 }], box, opts));
    refuses(/level '2' stride 16 does not follow the previous level's 4/, () => multiScaleRoiAlign([pyramid[0], pyramid[2]], box, opts));
    refuses(/level '0' stride 4 does not follow the previous level's 8/, () => multiScaleRoiAlign([pyramid[1], pyramid[0]], box, opts));
    refuses(/levels must be a non-empty list/, () => multiScaleRoiAlign([], box, opts));
  });

  it('refuses levels whose channels or batch size disagree with the declaration or each other', () => {
    refuses(/level '1' has shape \[2, 4, 100, 152\], declared 5 channels/, () => multiScaleRoiAlign([pyramid[0], { ...pyramid[1], channels: 5 }], box, opts));
    const oneImage = { ...pyramid[1], data: pyramid[1].data.subarray(0, pyramid[1].data.length / 2), shape: [1, 4, 100, 152] as Nchw };
    refuses(/level '1' has shape \[1, 4, 100, 152\].*every level needs N = 2/, () => multiScaleRoiAlign([pyramid[0], oneImage], box, opts));
    refuses(/level '0' has 5 numbers but its shape/, () => multiScaleRoiAlign([{ ...pyramid[0], data: new Float32Array(5) }], box, opts));
  });

  it('refuses more box lists than images, box arrays not [Ki, 4], and non-finite coordinates', () => {
    refuses(/boxes must be a list of at most N = 2/, () => multiScaleRoiAlign(pyramid, [box[0], box[0], box[0]], opts));
    refuses(/boxes\[1\] must be a Float32Array \[Ki, 4\]/, () => multiScaleRoiAlign(pyramid, [box[0], new Float32Array(3)], opts));
    refuses(/boxes\[0\]\[1\] has a non-finite coordinate \(NaN\)/, () => multiScaleRoiAlign(pyramid, [new Float32Array([0, 0, 5, 5, 0, NaN, 5, 5])], opts));
    refuses(/boxes\[0\]\[0\] has a non-finite coordinate \(Infinity\)/, () => multiScaleRoiAlign(pyramid, [new Float32Array([0, 0, Infinity, 5])], opts));
  });

  it('refuses zero or negative output sizes', () => {
    refuses(/outputSize must be \[height, width\] of positive integers/, () => multiScaleRoiAlign(pyramid, box, { outputSize: [0, 7] }));
    refuses(/outputSize/, () => multiScaleRoiAlign(pyramid, box, { outputSize: [7, -7] }));
  });

  it('assignLevels refuses kMin > kMax and boxes not [K, 4]', () => {
    expect(() => assignLevels(new Float32Array(4), { kMin: 5, kMax: 2 })).to.throw(OperatorInputError, /kMin <= kMax/);
    expect(() => assignLevels(new Float32Array(3), { kMin: 2, kMax: 5 })).to.throw(OperatorInputError, /\[K, 4\]/);
  });
});
