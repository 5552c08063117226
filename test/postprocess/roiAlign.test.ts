import { expect } from 'chai';
import { OperatorInputError } from '../../postprocess/errors.js';
import { type Nchw, type RoiAlignOptions, roiAlign } from '../../postprocess/roiAlign.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getInt, getShape } from '../helpers/tensorArchive.js';

const ref = torchReference('roi_align_cases');
interface RoiRun { name: string; aligned: boolean; samplingRatio: number; spatialScale: number; outputSize: [number, number] }
const runs = ref.meta.roi as RoiRun[];
const categories = ref.meta.roi_categories as Record<string, number>;
const input = getFloat32(ref, 'roi/input');
const shape = getShape(ref, 'roi/input') as unknown as Nchw;
const [, channels] = shape;

/** Bar of the parity tests: 1e-5 of the input's value range. */
const range = input.reduce((m, v) => Math.max(m, v), -Infinity) - input.reduce((m, v) => Math.min(m, v), Infinity);
const tolerance = 1e-5 * range;
let maxDifference = 0;

/** Which category of the reference script a RoI row belongs to (rows repeat the category list). */
function category(row: number): string {
  let at = row;
  for (const [name, count] of Object.entries(categories)) {
    if (at < count) return name;
    at -= count;
  }
  return 'edges';
}

function optionsOf(run: RoiRun): RoiAlignOptions {
  return { outputSize: run.outputSize, spatialScale: run.spatialScale, samplingRatio: run.samplingRatio, aligned: run.aligned };
}

describe('roiAlign (torchvision.ops.roi_align, CPU kernel)', () => {
  after(() => {
    console.log(`      roiAlign: max |ours - torchvision| = ${maxDifference.toExponential(3)} (bar ${tolerance.toExponential(3)} = 1e-5 of the input range ${range.toFixed(2)})`);
  });

  for (const run of runs) {
    const label = `aligned=${run.aligned}, samplingRatio=${run.samplingRatio}, spatialScale=${run.spatialScale.toFixed(4)}, outputSize=${run.outputSize.join('x')}`;
    const what = run.name.startsWith('roi/edges')
      ? 'keeps a sample at exactly y = -1, y = H, x = -1 or x = W and drops one just beyond, as the kernel\'s in-map test'
      : 'equals torchvision on RoIs inside, crossing the border, sub-pixel, larger than the map, degenerate, inverted and outside, 3 batch images';
    it(`${what} (${run.name}: ${label})`, () => {
      const rois = getFloat32(ref, `${run.name}/rois`);
      const accepted = getInt(ref, `${run.name}/accepted`);
      const expected = getFloat32(ref, `${run.name}/output`);
      const ours = roiAlign(input, shape, rois, optionsOf(run));
      const perRoi = channels * run.outputSize[0] * run.outputSize[1];
      if (run.name.startsWith('roi/edges')) {
        // the reference itself proves the edges are where they should be: kept (value), dropped (0)
        const dropped = Array.from({ length: rois.length / 5 }, (_, r) => expected.subarray(r * perRoi, (r + 1) * perRoi).every((v) => v === 0));
        expect(dropped).to.deep.equal([false, true, false, false, true, false, true]);
      }
      expect(ours.length).to.equal((rois.length / 5) * perRoi);
      let e = 0;
      for (let r = 0; r < rois.length / 5; r++) {
        for (let i = 0; i < perRoi; i++) {
          const got = ours[r * perRoi + i];
          // rows torchvision 0.14 refuses (std::length_error) are documented zeros here
          const want = accepted[r] ? expected[e * perRoi + i] : 0;
          const d = Math.abs(got - want);
          maxDifference = Math.max(maxDifference, d);
          if (!(d <= tolerance)) {
            expect.fail(`RoI ${r} (${category(r)}: ${Array.from(rois.subarray(5 * r, 5 * r + 5)).join(', ')}) element ${i}: ours ${got}, torchvision ${want}`);
          }
        }
        if (accepted[r]) e++;
      }
    });
  }

  it('gives zeros where torchvision 0.14 raises "cannot create std::vector larger than max_size()" (aligned, adaptive, one side inverted by more than a bin)', () => {
    const rois = new Float32Array([0, 12, 2, 1, 7]); // width -11 with 2 bins -> GW = -5; height 5 -> GH = 3
    const ours = roiAlign(input, shape, rois, { outputSize: [2, 2], samplingRatio: 0, aligned: true });
    expect(Array.from(ours).every((v) => v === 0)).to.equal(true);
  });

  it('returns an empty Float32Array for no RoIs, even from a map without pixels', () => {
    expect(roiAlign(input, shape, new Float32Array(0), { outputSize: [7, 7] }).length).to.equal(0);
    expect(roiAlign(new Float32Array(0), [1, 3, 0, 0], new Float32Array(0), { outputSize: [7, 7] }).length).to.equal(0);
  });

  it('does not modify its inputs', () => {
    const rois = getFloat32(ref, 'roi/00/rois');
    const before = [input.slice(), rois.slice()];
    roiAlign(input, shape, rois, { outputSize: [7, 7], samplingRatio: 0 });
    expect(input).to.deep.equal(before[0]);
    expect(rois).to.deep.equal(before[1]);
  });

  it('equals torchvision on RoIs of +-1e30 with a fixed samplingRatio (and finishes)', () => {
    const rois = getFloat32(ref, 'roi/huge_fixed_grid/rois');
    const ours = roiAlign(input, shape, rois, { outputSize: [7, 7], samplingRatio: 2 });
    const expected = getFloat32(ref, 'roi/huge_fixed_grid/output');
    for (let i = 0; i < expected.length; i++) expect(Math.abs(ours[i] - expected[i]), `element ${i}`).to.be.at.most(tolerance);
  });
});

describe('roiAlign on bad input', () => {
  const rois = new Float32Array([0, 1, 1, 5, 5]);
  const opts: RoiAlignOptions = { outputSize: [2, 2], samplingRatio: 2 };
  const refuses = (what: RegExp, fn: () => unknown) => expect(fn).to.throw(OperatorInputError, what);

  it('refuses an input whose length does not match its shape, or a shape that is not [N, C, H, W]', () => {
    refuses(/input has 10 numbers but its shape \[3, 3, 11, 13\] needs 1287/, () => roiAlign(new Float32Array(10), shape, rois, opts));
    refuses(/input shape must be \[N, C, H, W\]/, () => roiAlign(input, [3, 3, 11] as unknown as Nchw, rois, opts));
    refuses(/input shape must be \[N, C, H, W\]/, () => roiAlign(input, [3, 3, -11, -13] as unknown as Nchw, rois, opts));
  });

  it('refuses rois whose length is not a multiple of 5', () => {
    refuses(/rois must be a Float32Array \[K, 5\].*got 4 numbers/, () => roiAlign(input, shape, new Float32Array(4), opts));
  });

  it('refuses NaN and infinite coordinates, naming the RoI', () => {
    refuses(/rois\[1\] has a non-finite coordinate \(NaN\)/, () => roiAlign(input, shape, new Float32Array([0, 1, 1, 5, 5, 0, 1, NaN, 5, 5]), opts));
    refuses(/rois\[0\] has a non-finite coordinate \(Infinity\)/, () => roiAlign(input, shape, new Float32Array([0, 1, 1, Infinity, 5]), opts));
    refuses(/rois\[0\] has a non-finite coordinate \(-Infinity\)/, () => roiAlign(input, shape, new Float32Array([0, -Infinity, 1, 5, 5]), opts));
  });

  it('refuses batch indices out of [0, N) or not integers, instead of reading out of bounds', () => {
    refuses(/rois\[0, 0\] batch index 3 is not an integer in \[0, 3\)/, () => roiAlign(input, shape, new Float32Array([3, 1, 1, 5, 5]), opts));
    refuses(/batch index -1/, () => roiAlign(input, shape, new Float32Array([-1, 1, 1, 5, 5]), opts));
    refuses(/batch index 0.5/, () => roiAlign(input, shape, new Float32Array([0.5, 1, 1, 5, 5]), opts));
    refuses(/batch index NaN/, () => roiAlign(input, shape, new Float32Array([NaN, 1, 1, 5, 5]), opts));
  });

  it('refuses zero, negative and fractional output sizes', () => {
    refuses(/outputSize must be \[height, width\] of positive integers, got \[0,2\]/, () => roiAlign(input, shape, rois, { outputSize: [0, 2] }));
    refuses(/outputSize/, () => roiAlign(input, shape, rois, { outputSize: [2, -1] }));
    refuses(/outputSize/, () => roiAlign(input, shape, rois, { outputSize: [2.5, 2] }));
  });

  it('refuses a spatialScale that is zero, negative, NaN or infinite in float32', () => {
    for (const s of [0, -0.25, NaN, Infinity, 1e-50, 1e39]) {
      refuses(/spatialScale must be finite and > 0 in float32/, () => roiAlign(input, shape, rois, { ...opts, spatialScale: s }));
    }
  });

  it('refuses a fractional samplingRatio, and grids that would take more than 2^20 samples per axis', () => {
    refuses(/samplingRatio must be an integer/, () => roiAlign(input, shape, rois, { ...opts, samplingRatio: 1.5 }));
    refuses(/samplingRatio 1000000 x outputSize \[2, 2\] asks for more than 1048576 samples per axis/, () => roiAlign(input, shape, rois, { ...opts, samplingRatio: 1e6 }));
    refuses(/rois\[0\] spans .* adaptive sampling would take/, () => roiAlign(input, shape, new Float32Array([0, 0, 0, 1e30, 5]), { outputSize: [2, 2], samplingRatio: 0 }));
  });

  it('refuses RoIs whose scaled coordinates overflow float32', () => {
    refuses(/rois\[0\] times spatialScale 2 overflows float32/, () => roiAlign(input, shape, new Float32Array([0, -3e38, 0, 3e38, 5]), { ...opts, spatialScale: 2 }));
  });

  it('refuses pooling RoIs from a map without pixels', () => {
    refuses(/input is 0x13: RoIs cannot be pooled from a map without pixels/, () => roiAlign(new Float32Array(0), [1, 3, 0, 13], new Float32Array([0, 1, 1, 2, 2]), opts));
  });
});
