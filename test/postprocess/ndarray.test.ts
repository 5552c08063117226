import { expect } from 'chai';
import ndarray, { type NdArray } from 'ndarray';
import {
  assignLevels, batchedNms, boxArea, boxIou, clipBoxesToImage, decodeBoxes, encodeBoxes, multiScaleRoiAlign, nms,
  OperatorInputError, pasteBinaryMasksInImage, pasteMasksInImage, removeSmallBoxes, rleEncode, roiAlign, toNdarray,
  type LevelFeatures, type Nchw,
} from '../../postprocess/index.js';
import { viewElements } from '../../postprocess/ndarray.js';
import { batchedNms as batchedNmsFlat, nms as nmsFlat } from '../../postprocess/nms.js';

// The flat path of each operator is held equal to torchvision by its own test; here a view must
// give exactly (bit for bit) what its contiguous row-major copy gives on that flat path.

type Elements = Float32Array | Int32Array | Uint8Array;

/** Seeded uniform [0, 1) numbers (a fixed LCG). */
function random(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/** N overlapping boxes x1,y1,x2,y2 inside about 100 x 80. */
function randomBoxes(n: number, seed: number): Float32Array {
  const r = random(4 * n, seed);
  const boxes = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const x = r[4 * i] * 80, y = r[4 * i + 1] * 60;
    boxes.set([x, y, x + 2 + r[4 * i + 2] * 30, y + 2 + r[4 * i + 3] * 30], 4 * i);
  }
  return boxes;
}

function forEachIndex(shape: readonly number[], fn: (index: number[], linear: number) => void): void {
  const size = shape.reduce((p, d) => p * d, 1);
  const index = shape.map(() => 0);
  for (let linear = 0; linear < size; linear++) {
    fn(index, linear);
    for (let a = shape.length - 1; a >= 0; a--) {
      if (++index[a] < shape[a]) break;
      index[a] = 0;
    }
  }
}

/**
 * A non-contiguous view of `flat` (row-major, `shape`): its data stored with the axes in
 * `storageOrder` (outer to inner), after `offset` junk elements, each innermost run padded by 3
 * junk elements, and axis 0 reversed when `flip`; junk is NaN (or 7), so a wrong read shows.
 */
function stridedView<D extends Elements>(flat: D, shape: readonly number[], storageOrder: readonly number[], offset: number, flip = false): NdArray<D> {
  const storageShape = storageOrder.map((a) => shape[a]);
  const storageStride = storageShape.map(() => 0);
  let step = 1;
  for (let p = storageShape.length - 1; p >= 0; p--) {
    storageStride[p] = step;
    step *= p === storageShape.length - 1 ? storageShape[p] + 3 : storageShape[p];
  }
  const stride = shape.map((_, a) => storageStride[storageOrder.indexOf(a)]);
  const data = new (flat.constructor as new (n: number) => D)(offset + step);
  data.fill(flat instanceof Float32Array ? NaN : 7);
  const base = ndarray(data, shape.slice(), stride, offset);
  forEachIndex(shape, (index, linear) => {
    const at = flip ? [shape[0] - 1 - index[0], ...index.slice(1)] : index;
    base.set(...at, flat[linear]);
  });
  return flip ? base.step(-1) : base;
}

/** Named non-contiguous layouts of one array: transposed, padded and offset, reversed. */
function layouts<D extends Elements>(flat: D, shape: readonly number[]): Array<[string, NdArray<D>]> {
  const axes = shape.map((_, a) => a);
  const out: Array<[string, NdArray<D>]> = [
    ['row-major with padded rows and an offset', stridedView(flat, shape, axes, 5)],
    ['axis 0 reversed (negative stride)', stridedView(flat, shape, axes, 2, true)],
  ];
  if (shape.length > 1) out.unshift(['transposed (column-major)', stridedView(flat, shape, axes.slice().reverse(), 0)]);
  if (shape.length === 4) out.push(['channels last (NHWC storage)', stridedView(flat, shape, [0, 2, 3, 1], 1)]);
  if (shape.length === 3) out.push(['channels last (HWC storage)', stridedView(flat, shape, [1, 2, 0], 1)]);
  return out;
}

function expectOperatorError(fn: () => unknown, ...parts: string[]): void {
  expect(fn).to.throw(OperatorInputError);
  try {
    fn();
  } catch (e) {
    for (const p of parts) expect((e as Error).message).to.include(p);
  }
}

describe('ndarray views in the operators (same result as the flat typed array)', () => {
  const n = 300;
  const boxes = randomBoxes(n, 1);
  const scores = random(n, 2);
  const idxs = Int32Array.from(random(n, 3), (v) => Math.floor(v * 5));

  it('nms: strided, transposed, offset and reversed views of boxes and scores keep the same indices', () => {
    const expected = nmsFlat(boxes, scores, 0.5);
    expect(expected.length).to.be.within(10, n - 10);
    for (const [layout, b] of layouts(boxes, [n, 4])) {
      for (const [scoreLayout, s] of layouts(scores, [n])) {
        expect(Array.from(nms(b, s, 0.5)), `${layout} / ${scoreLayout}`).to.deep.equal(Array.from(expected));
      }
    }
    // the class-k slice of per-class boxes [N, K, 4], as roi_heads holds them
    const perClass = ndarray(new Float32Array(n * 3 * 4), [n, 3, 4]);
    forEachIndex([n, 4], ([i, c], linear) => perClass.set(i, 1, c, boxes[linear]));
    expect(Array.from(nms(perClass.pick(null, 1, null), scores, 0.5))).to.deep.equal(Array.from(expected));
  });

  it('batchedNms: views of boxes, scores and idxs give the same indices on both branches (<= 1000 boxes: offsets; more: per class)', () => {
    for (const count of [n, 1200]) {
      const b = randomBoxes(count, 4), s = random(count, 5);
      const c = Int32Array.from(random(count, 6), (v) => Math.floor(v * 7));
      const expected = Array.from(batchedNmsFlat(b, s, c, 0.5));
      for (const [layout, bv] of layouts(b, [count, 4])) {
        const [[, sv]] = layouts(s, [count]);
        const [, [, cv]] = layouts(c, [count]);
        expect(Array.from(batchedNms(bv, sv, cv, 0.5)), `${count} boxes, ${layout}`).to.deep.equal(expected);
      }
    }
    expect(Array.from(batchedNms(boxes, scores, ndarray(idxs), 0.5))).to.deep.equal(Array.from(batchedNmsFlat(boxes, scores, idxs, 0.5)));
  });

  it('roiAlign: an [N, C, H, W] view in any layout, a [C, H, W] view and a view of the rois pool the same numbers', () => {
    const shape: Nchw = [2, 5, 13, 17];
    const input = random(shape.reduce((p, d) => p * d, 1), 7);
    const k = 20;
    const rois = new Float32Array(5 * k);
    const corners = randomBoxes(k, 8);
    for (let r = 0; r < k; r++) rois.set([r % 2, corners[4 * r] / 6, corners[4 * r + 1] / 6, corners[4 * r + 2] / 5, corners[4 * r + 3] / 5], 5 * r);
    const options = { outputSize: [3, 4] as [number, number], spatialScale: 0.75, samplingRatio: 2 };
    const expected = roiAlign(input, shape, rois, options);
    for (const [layout, view] of layouts(input, shape)) {
      const [[, roisView]] = layouts(rois, [k, 5]);
      expect(roiAlign(view, roisView, options), layout).to.deep.equal(expected);
    }
    // one image as [C, H, W]: the rois of image 0
    const image0 = input.subarray(0, 5 * 13 * 17);
    const rois0 = rois.filter((_, i) => rois[5 * Math.floor(i / 5)] === 0);
    const expected0 = roiAlign(image0, [1, 5, 13, 17], rois0, options);
    for (const [layout, view] of layouts(image0, [5, 13, 17])) {
      expect(roiAlign(view, rois0, options), `[C, H, W] ${layout}`).to.deep.equal(expected0);
    }
  });

  it('multiScaleRoiAlign: levels given as [C, H, W] or [N, C, H, W] views, mixed with flat levels, and boxes as views pool the same numbers', () => {
    const c = 4;
    const flatLevels: LevelFeatures[] = [[32, 40, 4], [16, 20, 8], [8, 10, 16]].map(([h, w, stride], i) => ({
      name: String(i), stride, channels: c, data: random(c * h * w, 10 + i), shape: [1, c, h, w] as Nchw,
    }));
    const imageBoxes = randomBoxes(40, 11).map((v, i) => (i % 4 < 2 ? v : v * 3) + 1);
    const options = { outputSize: [7, 7] as [number, number], samplingRatio: 2 };
    const expected = multiScaleRoiAlign(flatLevels, [imageBoxes], options);
    expect(new Set(Array.from(assignLevels(imageBoxes, { kMin: 2, kMax: 4 }))).size).to.be.greaterThan(1);
    const viewLevels = flatLevels.map((l, i) => ({
      name: l.name, stride: l.stride, channels: c,
      data: i === 0 ? layouts(l.data, l.shape.slice(1))[0][1] : layouts(l.data, l.shape)[3][1],
    }));
    expect(multiScaleRoiAlign(viewLevels, [imageBoxes], options)).to.deep.equal(expected);
    const [[, boxView]] = layouts(imageBoxes, [40, 4]);
    expect(multiScaleRoiAlign([viewLevels[0], flatLevels[1], viewLevels[2]], [boxView], options)).to.deep.equal(expected);
    expect(Array.from(assignLevels(boxView, { kMin: 2, kMax: 4 }))).to.deep.equal(Array.from(assignLevels(imageBoxes, { kMin: 2, kMax: 4 })));
  });

  it('pasteMasksInImage and pasteBinaryMasksInImage: [D, M, M] mask views and [D, 4] box views paste the same pixels', () => {
    const d = 6, m = 9, h = 70, w = 90;
    const masks = random(d * m * m, 12);
    const pasteBoxes = randomBoxes(d, 13);
    const expected = pasteMasksInImage(masks, pasteBoxes, h, w);
    const expectedBinary = pasteBinaryMasksInImage(masks, pasteBoxes, h, w, { maskThreshold: 0.4 });
    expect(expectedBinary.some((v) => v === 1)).to.equal(true);
    for (const [layout, mv] of layouts(masks, [d, m, m])) {
      const [, [, bv]] = layouts(pasteBoxes, [d, 4]);
      expect(pasteMasksInImage(mv, bv, h, w), layout).to.deep.equal(expected);
      expect(pasteBinaryMasksInImage(mv, bv, h, w, { maskThreshold: 0.4 }), layout).to.deep.equal(expectedBinary);
    }
  });

  it('rleEncode: an [H, W] view (transposed, offset, a pick of [D, H, W]) encodes the same runs', () => {
    const h = 23, w = 31;
    const masks = Uint8Array.from(random(3 * h * w, 14), (v, i) => (v > 0.3 && (i % w) > 5 ? 1 : 0));
    const stack = ndarray(masks, [3, h, w]);
    for (let i = 0; i < 3; i++) {
      const flat = masks.subarray(i * h * w, (i + 1) * h * w);
      const expected = rleEncode(flat, h, w);
      expect(rleEncode(stack.pick(i, null, null)), `pick(${i})`).to.deep.equal(expected);
      for (const [layout, view] of layouts(flat, [h, w])) expect(rleEncode(view), layout).to.deep.equal(expected);
    }
  });

  it('box utilities and the box coder: views of [N, 4] boxes and [N, K, 4] codes give the same numbers', () => {
    const b2 = randomBoxes(50, 15);
    const [[, view], [, view2]] = [layouts(boxes, [n, 4])[0], layouts(b2, [50, 4])[1]];
    expect(boxArea(view)).to.deep.equal(boxArea(boxes));
    expect(boxIou(view, view2)).to.deep.equal(boxIou(boxes, b2));
    expect(removeSmallBoxes(view, 10)).to.deep.equal(removeSmallBoxes(boxes, 10));
    expect(clipBoxesToImage(view, [50, 60])).to.deep.equal(clipBoxesToImage(boxes, [50, 60]));
    const codes = random(n * 3 * 4, 16).map((v) => v - 0.5);
    const weights = [10, 10, 5, 5] as const;
    const [, [, codesView]] = layouts(codes, [n, 3, 4]);
    expect(decodeBoxes(codesView, view, weights)).to.deep.equal(decodeBoxes(codes, boxes, weights));
    expect(clipBoxesToImage(layouts(codes, [n, 3, 4])[0][1], [1, 1])).to.deep.equal(clipBoxesToImage(codes, [1, 1]));
    expect(encodeBoxes(view, layouts(boxes, [n, 4])[1][1], weights)).to.deep.equal(encodeBoxes(boxes, boxes, weights));
  });

  it('uses a contiguous row-major view in place (a subarray of its data, no copy) and gathers any other once', () => {
    const data = random(10 * 4 + 8, 17);
    const inPlace = viewElements('test', 'boxes', ndarray(data, [10, 4], [4, 1], 8), Float32Array, [['N', 4]]).data;
    expect(inPlace.buffer).to.equal(data.buffer);
    expect(inPlace.byteOffset).to.equal(8 * 4);
    expect(inPlace.length).to.equal(40);
    // size-1 axes may have any stride and still be contiguous
    const single = viewElements('test', 'x', ndarray(data, [1, 4], [999, 1], 3), Float32Array, [['N', 4]]).data;
    expect(single.buffer).to.equal(data.buffer);
    const gathered = viewElements('test', 'boxes', ndarray(data, [10, 4], [1, 10], 0), Float32Array, [['N', 4]]).data;
    expect(gathered.buffer).to.not.equal(data.buffer);
    expect(gathered[1]).to.equal(data[10]);
    expect(viewElements('test', 'boxes', ndarray(new Float32Array(0), [0, 4]), Float32Array, [['N', 4]]).data.length).to.equal(0);
  });
});

describe('results as ndarray (toNdarray)', () => {
  it('views a flat result with its shape, sharing its memory, one -1 inferred', () => {
    const input = random(2 * 3 * 6 * 6, 20);
    const pooled = roiAlign(ndarray(input, [2, 3, 6, 6]), new Float32Array([1, 0, 0, 4, 4, 0, 1, 1, 5, 5]), { outputSize: [2, 2] });
    const nd = toNdarray(pooled, [-1, 3, 2, 2]);
    expect(nd.shape).to.deep.equal([2, 3, 2, 2]);
    expect(nd.stride).to.deep.equal([12, 4, 2, 1]);
    expect(nd.data).to.equal(pooled);
    expect(nd.get(1, 2, 1, 0)).to.equal(pooled[12 + 2 * 4 + 2]);
    const keep = nms(randomBoxes(30, 21), random(30, 22), 0.3);
    const keepNd = toNdarray(keep, [-1]);
    expect(keepNd.shape).to.deep.equal([keep.length]);
    expect(keepNd.dtype).to.equal('int32');
    const pasted = pasteBinaryMasksInImage(random(2 * 4 * 4, 23), randomBoxes(2, 24), 40, 50);
    const masksNd = toNdarray(pasted, [2, 40, 50]);
    expect(masksNd.pick(1, null, null).shape).to.deep.equal([40, 50]);
    expect(masksNd.get(1, 20, 10)).to.equal(pasted[2000 + 20 * 50 + 10]);
    expect(toNdarray(new Float32Array(0), [0, 4]).shape).to.deep.equal([0, 4]);
  });

  it('refuses a shape that does not hold the data, with the shape in the message', () => {
    expectOperatorError(() => toNdarray(new Float32Array(12), [5, 4]), 'toNdarray', '12 elements', '[5, 4]');
    expectOperatorError(() => toNdarray(new Float32Array(12), [-1, 5]), '[-1, 5]');
    expectOperatorError(() => toNdarray(new Float32Array(12), [-1, -1]), 'at most one -1');
    expectOperatorError(() => toNdarray(new Float32Array(12), [2.5, 4]), 'non-negative integers');
  });
});

describe('ndarray views with the wrong shape or data throw OperatorInputError naming the argument and the shape', () => {
  const b = ndarray(randomBoxes(6, 30), [6, 4]);
  const s = ndarray(random(6, 31), [6]);

  it('boxes, scores and idxs of nms and batchedNms (element types checked at run time for JavaScript callers)', () => {
    expectOperatorError(() => nms(ndarray(new Float32Array(30), [6, 5]), s, 0.5), 'nms:', 'boxes', '[N, 4]', 'got shape [6, 5]');
    expectOperatorError(() => nms(ndarray(new Float32Array(24), [24]), s, 0.5), 'boxes', 'got shape [24]');
    expectOperatorError(() => nms(b, ndarray(new Float32Array(6), [6, 1]), 0.5), 'scores', '[N]', 'got shape [6, 1]');
    expectOperatorError(() => nms(ndarray(new Float64Array(24), [6, 4]) as unknown as NdArray<Float32Array>, s, 0.5), 'boxes is an ndarray over Float64Array', 'Float32Array');
    expectOperatorError(() => nms(ndarray(Array.from({ length: 24 }, () => 0), [6, 4]) as unknown as NdArray<Float32Array>, s, 0.5), 'over an Array');
    expectOperatorError(() => batchedNms(b, s, ndarray(new Float32Array(6), [6]) as unknown as NdArray<Int32Array>, 0.5), 'batchedNms', 'idxs', 'Int32Array');
    // lengths that disagree are still the flat operator's check
    expectOperatorError(() => nms(b, ndarray(new Float32Array(5), [5]), 0.5), 'scores', 'one score per box (6)');
  });

  it('views reaching outside their data, and non-integer strides', () => {
    expectOperatorError(() => nms(ndarray(new Float32Array(24), [6, 4], [4, 1], 4), s, 0.5), 'boxes', 'reaches elements 4..27', 'data with 24');
    expectOperatorError(() => nms(ndarray(new Float32Array(24), [6, 4], [-4, 1], 0), s, 0.5), 'reaches elements -20..3');
    expectOperatorError(() => nms(ndarray(new Float32Array(24), [6, 4], [4, 0.5], 0), s, 0.5), 'boxes', 'strides and offset integers');
  });

  it('feature maps, rois, levels, masks and binary masks', () => {
    const opts = { outputSize: [2, 2] as [number, number] };
    expectOperatorError(() => roiAlign(ndarray(new Float32Array(16), [4, 4]), new Float32Array(5), opts), 'roiAlign', 'input', '[N, C, H, W] or [C, H, W]', 'got shape [4, 4]');
    expectOperatorError(() => roiAlign(ndarray(new Float32Array(16), [1, 1, 4, 4]), ndarray(new Float32Array(8), [2, 4]), opts), 'rois', '[K, 5]', 'got shape [2, 4]');
    const withShape = roiAlign as unknown as (...args: unknown[]) => Float32Array;
    expectOperatorError(() => withShape(ndarray(new Float32Array(16), [1, 1, 4, 4]), [1, 1, 4, 4], new Float32Array(5), opts), 'carries its shape');
    const level = { name: 'p2', stride: 4, channels: 1, data: ndarray(new Float32Array(16), [1, 1, 1, 4, 4]) };
    expectOperatorError(() => multiScaleRoiAlign([level], [new Float32Array(4)], opts), 'multiScaleRoiAlign', "levels[0] ('p2').data", 'got shape [1, 1, 1, 4, 4]');
    expectOperatorError(() => multiScaleRoiAlign([{ ...level, data: ndarray(new Float32Array(16), [1, 4, 4]) }], [ndarray(new Float32Array(6), [2, 3])], opts), 'boxes[0]', 'got shape [2, 3]');
    expectOperatorError(() => pasteMasksInImage(ndarray(new Float32Array(2 * 4 * 5), [2, 4, 5]), ndarray(new Float32Array(8), [2, 4]), 10, 10), 'pasteMasksInImage', 'masks', '[D, M, M]', 'got shape [2, 4, 5]');
    expectOperatorError(() => pasteBinaryMasksInImage(ndarray(new Float32Array(16), [1, 4, 4]), ndarray(new Float32Array(5), [1, 5]), 10, 10), 'pasteBinaryMasksInImage', 'boxes', 'got shape [1, 5]');
    expectOperatorError(() => rleEncode(ndarray(new Uint8Array(12), [3, 4, 1])), 'rleEncode', 'mask', '[H, W]', 'got shape [3, 4, 1]');
    expectOperatorError(() => rleEncode(ndarray(new Float32Array(12), [3, 4]) as unknown as NdArray<Uint8Array>), 'over Float32Array', 'Uint8Array');
    expectOperatorError(() => decodeBoxes(ndarray(new Float32Array(18), [2, 3, 3]), b, [1, 1, 1, 1]), 'decodeBoxes', 'relCodes', '[N, 4] or [N, K, 4]', 'got shape [2, 3, 3]');
  });

  it('flat typed arrays keep the flat operators\' own checks and messages', () => {
    const flatCall = () => nmsFlat(new Float32Array(5), new Float32Array(1), 0.5);
    const publicCall = () => nms(new Float32Array(5), new Float32Array(1), 0.5);
    expect(publicCall).to.throw(OperatorInputError);
    let flatMessage = '', publicMessage = '';
    try { flatCall(); } catch (e) { flatMessage = (e as Error).message; }
    try { publicCall(); } catch (e) { publicMessage = (e as Error).message; }
    expect(publicMessage).to.equal(flatMessage);
    expectOperatorError(() => roiAlign(new Float32Array(10), [1, 1, 2, 2], new Float32Array(5), { outputSize: [1, 1] }), 'input has 10 numbers');
  });
});
