import { expect } from 'chai';
import { OperatorInputError } from '../../postprocess/errors.js';
import { type LevelFeatures, multiScaleRoiAlign } from '../../postprocess/multiScaleRoiAlign.js';
import type { Nchw } from '../../postprocess/roiAlign.js';
import { SimdRoiAlign } from '../../postprocess/roiAlignSimd.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getInt, getShape } from '../helpers/tensorArchive.js';

/**
 * The WebAssembly SIMD pooler against torchvision's roi_align and MultiScaleRoIAlign (the same
 * reference cases as roiAlign.test.ts and multiScaleRoiAlign.test.ts), and against the TypeScript
 * pooler on pyramids whose channels and widths exercise every pass of its kernels.
 */
const ref = torchReference('roi_align_cases');
interface RoiRun { name: string; aligned: boolean; samplingRatio: number; spatialScale: number; outputSize: [number, number] }
interface MsraCase { name: string; images: number; outputSize: [number, number]; samplingRatio: number; levels: number[] }

/** The roi cases' 3 channels tiled to 36: a 32-channel pass, a 4-channel one; channel c is the case's c % 3. */
const TILED = 36;
const roiInput = getFloat32(ref, 'roi/input');
const [n, c3, h, w] = getShape(ref, 'roi/input');
const tiled = new Float32Array(n * TILED * h * w);
for (let i = 0; i < n; i++) for (let c = 0; c < TILED; c++) tiled.set(roiInput.subarray((i * c3 + (c % c3)) * h * w, (i * c3 + (c % c3) + 1) * h * w), (i * TILED + c) * h * w);
const range = roiInput.reduce((m, v) => Math.max(m, v), -Infinity) - roiInput.reduce((m, v) => Math.min(m, v), Infinity);
const tolerance = 1e-5 * range;

function seeded(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A random 4-level pyramid of `images` images over a padded hxw input, widths not multiples of 4. */
function randomPyramid(channels: number, images: number, height: number, width: number, seed: number): LevelFeatures[] {
  const r = seeded(seed);
  return [4, 8, 16, 32].map((stride, i) => {
    const shape: Nchw = [images, channels, Math.ceil(height / stride), Math.ceil(width / stride)];
    return { name: String(i), stride, channels, shape, data: Float32Array.from({ length: shape[0] * shape[1] * shape[2] * shape[3] }, () => 4 * r() - 2) };
  });
}

/** Boxes of every size over an hxw image, some crossing its border. */
function randomBoxes(count: number, height: number, width: number, seed: number): Float32Array {
  const r = seeded(seed);
  const boxes = new Float32Array(4 * count);
  for (let k = 0; k < count; k++) {
    const bw = 1 + r() * width * 0.8, bh = 1 + r() * height * 0.8;
    const x = r() * width * 1.1 - bw * 0.1, y = r() * height * 1.1 - bh * 0.1;
    boxes.set([x, y, x + bw, y + bh], 4 * k);
  }
  return boxes;
}

function expectClose(ours: Float32Array, expected: Float32Array, bar: number, what: string): void {
  expect(ours.length, what).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(ours[i] - expected[i]);
    if (!(d <= bar)) expect.fail(`${what}: element ${i}: SIMD ${ours[i]}, expected ${expected[i]}`);
  }
}

describe('SimdRoiAlign (WebAssembly SIMD multi-scale RoIAlign)', () => {
  it('runs in this Node (WebAssembly SIMD)', () => {
    expect(SimdRoiAlign.supported).to.equal(true);
  });

  // One level of stride 1 / spatialScale: the cases whose scale is a power-of-two stride.
  for (const run of (ref.meta.roi as RoiRun[]).filter((r) => [1, 0.5, 0.25].includes(r.spatialScale))) {
    it(`equals torchvision's roi_align on one level, 3 images, every kind of RoI (${run.name}: aligned=${run.aligned}, samplingRatio=${run.samplingRatio}, stride ${1 / run.spatialScale}, ${run.outputSize.join('x')})`, () => {
      const rois = getFloat32(ref, `${run.name}/rois`);
      const accepted = getInt(ref, `${run.name}/accepted`);
      const expected = getFloat32(ref, `${run.name}/output`);
      const [ph, pw] = run.outputSize;
      const perRoi = c3 * ph * pw;
      // multiScaleRoiAlign takes boxes per image and returns them image by image
      const rows = Array.from({ length: rois.length / 5 }, (_, r) => r);
      const perImage = Array.from({ length: n }, (_, i) => rows.filter((r) => rois[5 * r] === i));
      const pooler = new SimdRoiAlign();
      pooler.loadLevels([{ name: '0', stride: 1 / run.spatialScale, channels: TILED, shape: [n, TILED, h, w], data: tiled }]);
      const ours = pooler.pool(perImage.map((list) => Float32Array.from(list.flatMap((r) => Array.from(rois.subarray(5 * r + 1, 5 * r + 5))))), { outputSize: run.outputSize, samplingRatio: run.samplingRatio, aligned: run.aligned });
      const expectedRow = new Map<number, number>();
      rows.filter((r) => accepted[r]).forEach((r, e) => expectedRow.set(r, e));
      perImage.flat().forEach((r, at) => {
        for (let c = 0; c < TILED; c++) {
          for (let b = 0; b < ph * pw; b++) {
            const got = ours[(at * TILED + c) * ph * pw + b];
            // rows torchvision 0.14 refuses (std::length_error) are zeros, as in the TypeScript pooler
            const e = expectedRow.get(r);
            const want = e === undefined ? 0 : expected[e * perRoi + (c % c3) * ph * pw + b];
            if (!(Math.abs(got - want) <= tolerance)) expect.fail(`RoI ${r} channel ${c} bin ${b}: SIMD ${got}, torchvision ${want}`);
          }
        }
      });
    });
  }

  it('equals torchvision\'s MultiScaleRoIAlign on every case, one load of the pyramid serving them all', () => {
    const cases = ref.meta.msra as MsraCase[];
    const pyramid: LevelFeatures[] = [0, 1, 2, 3].map((i) => ({
      name: String(i), stride: 4 << i, channels: getShape(ref, `msra/feature_${i}`)[1],
      data: getFloat32(ref, `msra/feature_${i}`), shape: getShape(ref, `msra/feature_${i}`) as unknown as Nchw,
    }));
    let lo = Infinity, hi = -Infinity;
    for (const l of pyramid) for (const v of l.data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const pooler = new SimdRoiAlign();
    for (const full of [true, false]) {
      const group = cases.filter((c) => (c.levels.length === 4) === full);
      if (full) pooler.loadLevels(pyramid);
      for (const c of group) {
        if (!full) pooler.loadLevels(c.levels.map((l) => pyramid[l]));
        const boxes = Array.from({ length: c.images }, (_, i) => getFloat32(ref, `${c.name}/boxes_${i}`));
        expectClose(pooler.pool(boxes, { outputSize: c.outputSize, samplingRatio: c.samplingRatio }), getFloat32(ref, `${c.name}/output`), 1e-5 * (hi - lo), c.name);
      }
    }
  });

  it('equals the TypeScript pooler on 2-image pyramids of 64, 68 and 256 channels, box head (7x7) and mask head (14x14) sizes from one load', () => {
    const pooler = new SimdRoiAlign();
    for (const [channels, seed] of [[64, 1], [68, 2], [256, 3]]) {
      const pyramid = randomPyramid(channels, 2, 203, 317, seed);
      pooler.loadLevels(pyramid);
      const boxes = [randomBoxes(120, 203, 317, seed + 10), randomBoxes(37, 150, 317, seed + 20)];
      for (const size of [7, 14]) {
        const options = { outputSize: [size, size] as [number, number], samplingRatio: 2 };
        // float32 sums against float64 ones, of at most 16 taps of values up to 2
        expectClose(pooler.pool(boxes, options), multiScaleRoiAlign(pyramid, boxes, options), 2e-6, `${channels} channels, ${size}x${size}`);
      }
    }
  });

  it('gives zeros for a RoI of no level (negative area) and for RoIs outside the map, though its memory held an earlier output', () => {
    const pyramid = randomPyramid(8, 1, 64, 64, 5);
    const pooler = new SimdRoiAlign();
    pooler.loadLevels(pyramid);
    const options = { outputSize: [7, 7] as [number, number] };
    pooler.pool([randomBoxes(3, 64, 64, 6)], options);
    const boxes = new Float32Array([10, 10, 5, 20, /* inverted in x: negative area */ 100, 100, 120, 130, /* outside */ 0, 0, 30, 30]);
    const ours = pooler.pool([boxes], options);
    const perRoi = 8 * 49;
    expect(ours.subarray(0, 2 * perRoi).every((v) => v === 0)).to.equal(true);
    expectClose(ours, multiScaleRoiAlign(pyramid, [boxes], options), 2e-6, 'the RoI inside');
    expect(ours.subarray(2 * perRoi).some((v) => v !== 0)).to.equal(true);
  });

  it('grows its memory for a larger pyramid after a smaller one, and pools the smaller one again after', () => {
    const pooler = new SimdRoiAlign();
    const options = { outputSize: [7, 7] as [number, number] };
    const small = randomPyramid(16, 1, 64, 80, 7), large = randomPyramid(64, 1, 480, 640, 8);
    const smallBoxes = [randomBoxes(20, 64, 80, 9)], largeBoxes = [randomBoxes(300, 480, 640, 10)];
    for (const [pyramid, boxes] of [[small, smallBoxes], [large, largeBoxes], [small, smallBoxes]] as const) {
      pooler.loadLevels(pyramid);
      expectClose(pooler.pool(boxes, options), multiScaleRoiAlign(pyramid, boxes, options), 2e-6, `${pyramid[0].shape.join('x')}`);
    }
    expect(pooler.memoryBytes).to.be.above(4 * 64 * 120 * 160);
  });

  it('refuses channels not a multiple of 4, pooling before loadLevels, and bad boxes as multiScaleRoiAlign does', () => {
    const pooler = new SimdRoiAlign();
    const options = { outputSize: [7, 7] as [number, number] };
    expect(() => pooler.pool([new Float32Array(4)], options)).to.throw(OperatorInputError, /no levels loaded/);
    expect(() => pooler.loadLevels(randomPyramid(6, 1, 32, 32, 11))).to.throw(OperatorInputError, /6 channels.*multiple of 4/);
    pooler.loadLevels(randomPyramid(8, 1, 32, 32, 12));
    expect(() => pooler.pool([new Float32Array([0, 0, NaN, 4])], options)).to.throw(OperatorInputError, /boxes\[0\]\[0\] has a non-finite coordinate/);
    expect(() => pooler.pool([new Float32Array(4), new Float32Array(4)], options)).to.throw(OperatorInputError, /at most N = 1/);
    expect(() => pooler.pool([new Float32Array(3)], options)).to.throw(OperatorInputError, /Float32Array \[Ki, 4\]/);
    expect(pooler.pool([new Float32Array(0)], options).length).to.equal(0);
  });
});
