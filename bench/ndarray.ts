/**
 * `node dist/bench/ndarray.js` (after the build): ndarray-ops vs a hand-written loop for the
 * element-wise work an ndarray view of a detector's tensors needs, printed side by side as the
 * ratio ops / hand (< 1: ndarray-ops is faster). postprocess/ndarray.ts uses ndarray-ops where this
 * ratio is within ~1.1 and a hand loop elsewhere; the last rows check that accepting views costs
 * the typed-array path nothing (the public operator vs the flat one it calls).
 *
 * Glossary: C channels, H x W a feature map; N boxes; D masks of M x M; K classes.
 */
import ndarray, { type NdArray } from 'ndarray';
import ops from 'ndarray-ops';
import { gatherStrided } from '../postprocess/ndarray.js';
import { nms, pasteMasksInImage } from '../postprocess/index.js';
import { nms as nmsFlat } from '../postprocess/nms.js';
import { pasteMasksInImage as pasteFlat } from '../postprocess/pasteMasks.js';

const repeats = Number(process.env.RESDET_BENCH_REPEATS ?? 15);

function median(times: number[]): number {
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

/**
 * Medians (ms) of `a` and `b` timed in alternation, so that both see the same machine load (the
 * bench may share its cores); after a warm-up in which V8 optimises the loops and cwise compiles
 * its kernel for these strides.
 */
function medianPairMs(a: () => unknown, b: () => unknown): [number, number] {
  for (let i = 0, t0 = performance.now(); i < 5 || performance.now() - t0 < 300; i++) {
    a();
    b();
  }
  const ta: number[] = [], tb: number[] = [];
  for (let i = 0; i < repeats; i++) {
    let t0 = performance.now();
    a();
    ta.push(performance.now() - t0);
    t0 = performance.now();
    b();
    tb.push(performance.now() - t0);
  }
  return [median(ta), median(tb)];
}

/** Seeded uniform [0, 1) numbers (a fixed LCG), so every run times the same data. */
function randomFloats(length: number, seed = 1): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/**
 * Hand loop: `out = probs > threshold` as 0/1 bytes; ndarray-ops `gts` measured 1.4-1.5x slower,
 * so thresholds stay hand loops. Branch-free (`+(a > b)`): `a > b ? 1 : 0` measured 3.2x slower
 * here, on random probabilities its branch is mispredicted half the time.
 */
function thresholdByHand(out: Uint8Array, probs: Float32Array, threshold: number): void {
  const n = probs.length;
  for (let i = 0; i < n; i++) out[i] = +(probs[i] > threshold);
}

/**
 * Hand loop, tiled: [C, H, W] from HWC data in 32-pixel strips of a row, so that the 32 x C
 * source block stays in cache while each channel's 32 outputs are written (what cwise's blocked
 * loops do for arrays whose stride orders differ).
 */
function gatherChwOfHwcTiled(hwc: Float32Array, c: number, h: number, w: number, out: Float32Array): void {
  const tile = 32;
  for (let y = 0; y < h; y++) {
    for (let x0 = 0; x0 < w; x0 += tile) {
      const x1 = Math.min(x0 + tile, w);
      for (let ch = 0; ch < c; ch++) {
        let o = (ch * h + y) * w + x0;
        for (let x = x0, p = (y * w + x0) * c + ch; x < x1; x++, p += c) out[o++] = hwc[p];
      }
    }
  }
}

/** Hand loop: a view of rank <= 4 (padded to 4 axes) gathered in row-major order. */
function gatherByHand(data: Float32Array, shape: readonly number[], stride: readonly number[], offset: number, out: Float32Array): void {
  const pad = 4 - shape.length;
  const n = [1, 1, 1, 1], s = [0, 0, 0, 0];
  for (let i = 0; i < shape.length; i++) {
    n[pad + i] = shape[i];
    s[pad + i] = stride[i];
  }
  const [n0, n1, n2, n3] = n;
  const [s0, s1, s2, s3] = s;
  let o = 0;
  for (let i0 = 0, p0 = offset; i0 < n0; i0++, p0 += s0) {
    for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1) {
      for (let i2 = 0, p2 = p1; i2 < n2; i2++, p2 += s2) {
        for (let i3 = 0, p3 = p2; i3 < n3; i3++, p3 += s3) out[o++] = data[p3];
      }
    }
  }
}

/**
 * Hand loop: scale x by sx and y by sy in a flat [N, 4] array (torchvision's resize_boxes);
 * ndarray-ops `mulseq` on the x and y column views measured 5-12x slower (call overhead on 100 boxes).
 */
function scaleBoxesByHand(boxes: Float32Array, sx: number, sy: number): void {
  for (let i = 0; i < boxes.length; i += 2) {
    boxes[i] *= sx;
    boxes[i + 1] *= sy;
  }
}

/** Random boxes [N, 4] with x2 > x1, y2 > y1 inside 1216 x 800. */
function randomBoxes(n: number): Float32Array {
  const r = randomFloats(4 * n, 7);
  const boxes = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const x = r[4 * i] * 1100, y = r[4 * i + 1] * 700;
    boxes.set([x, y, x + 10 + r[4 * i + 2] * 200, y + 10 + r[4 * i + 3] * 200], 4 * i);
  }
  return boxes;
}

interface Case {
  label: string;
  /** Calls per timed sample, so that sub-millisecond operations are timed over many calls. */
  inner: number;
  hand: () => unknown;
  ops: () => unknown;
}

function repeat(inner: number, fn: () => unknown): () => void {
  return () => {
    for (let i = 0; i < inner; i++) fn();
  };
}

function gatherCase(label: string, view: NdArray<Float32Array>, inner: number): Case {
  const out = new Float32Array(view.size);
  return {
    label, inner,
    hand: () => gatherByHand(view.data, view.shape, view.stride, view.offset, out),
    // what postprocess/ndarray.ts runs: ndarray-ops assign, with the views it builds
    ops: () => gatherStrided(view.data, view.shape, view.stride, view.offset, out),
  };
}

function cases(): { opsVsHand: Case[]; publicVsFlat: Case[] } {
  // A p2 level of an 800x1216 image, laid out HWC (an NHWC runtime output) and viewed as [C, H, W].
  const [c, h, w] = [256, 200, 304];
  const hwc = randomFloats(c * h * w);
  const chwOfHwc = ndarray(hwc, [c, h, w], [1, w * c, c], 0);
  // Per-class boxes [N, K, 4] of the box head; the class-k slice is an [N, 4] view.
  const [n, k] = [1000, 91];
  const perClass = ndarray(randomFloats(n * k * 4, 3), [n, k, 4]);
  const classBoxes = perClass.pick(null, 17, null);
  // Masks [D, M, M] stored transposed (column-major planes), viewed row-major.
  const [d, m] = [100, 28];
  const maskT = ndarray(randomFloats(d * m * m, 5), [d, m, m], [m * m, 1, m], 0);
  // Pasted probabilities [D, H, W] of a 427x640 image, thresholded to bytes.
  const [ih, iw] = [427, 640];
  const probs = randomFloats(d * ih * iw, 9);
  const bits = new Uint8Array(probs.length);
  const probsNd = ndarray(probs, [d, ih, iw]);
  const bitsNd = ndarray(bits, [d, ih, iw]);
  // 100 detections' boxes scaled back to the original image, x and y separately.
  const det = randomBoxes(100);
  const detNd = ndarray(det, [100, 4]);
  const xs = detNd.step(1, 2);
  const ys = detNd.lo(0, 1).step(1, 2);
  const nmsBoxes = randomBoxes(1000);
  const nmsScores = randomFloats(1000, 11);
  const pasteMasks = randomFloats(d * m * m, 13);
  const pasteBoxes = randomBoxes(d);
  const opsVsHand = [
    gatherCase(`gather [C, H, W] of HWC data, ${c}x${h}x${w}`, chwOfHwc, 1),
    {
      ...gatherCase(`gather [C, H, W] of HWC data, tiled hand loop`, chwOfHwc, 1),
      hand: ((out) => () => gatherChwOfHwcTiled(hwc, c, h, w, out))(new Float32Array(c * h * w)),
    },
    gatherCase(`gather class slice [N, 4] of [N, K, 4], N ${n}, K ${k}`, classBoxes, 200),
    gatherCase(`gather transposed masks [D, M, M], ${d}x${m}x${m}`, maskT, 200),
    {
      label: `threshold masks (gts 0.5) [D, H, W], ${d}x${ih}x${iw}`, inner: 1,
      hand: () => thresholdByHand(bits, probs, 0.5),
      ops: () => ops.gts(bitsNd, probsNd, 0.5),
    },
    {
      label: 'scale boxes x, y (mulseq) [N, 4], N 100', inner: 2000,
      hand: () => scaleBoxesByHand(det, 1.0000001, 0.9999999),
      ops: () => {
        ops.mulseq(xs, 1.0000001);
        ops.mulseq(ys, 0.9999999);
      },
    },
  ];
  // hand: the flat operator of its own module; ops: the public one, which also accepts views
  const publicVsFlat = [
    {
      label: 'nms, 1000 boxes', inner: 5,
      hand: () => nmsFlat(nmsBoxes, nmsScores, 0.7),
      ops: () => nms(nmsBoxes, nmsScores, 0.7),
    },
    {
      label: `pasteMasksInImage, ${d} masks -> 800x1216`, inner: 1,
      hand: () => pasteFlat(pasteMasks, pasteBoxes, 800, 1216),
      ops: () => pasteMasksInImage(pasteMasks, pasteBoxes, 800, 1216),
    },
  ];
  return { opsVsHand, publicVsFlat };
}

function table(title: string, columns: [string, string, string], rows: Case[]): void {
  console.log(`\n${title.padEnd(56)} ${columns.map((c) => c.padStart(11)).join(' ')}`);
  for (const c of rows) {
    const [handMs, opsMs] = medianPairMs(repeat(c.inner, c.hand), repeat(c.inner, c.ops));
    const hand = handMs / c.inner;
    const other = opsMs / c.inner;
    console.log(`${c.label.padEnd(56)} ${hand.toFixed(4).padStart(11)} ${other.toFixed(4).padStart(11)} ${(other / hand).toFixed(2).padStart(11)}`);
  }
}

function main(): void {
  const { opsVsHand, publicVsFlat } = cases();
  table('ndarray-ops vs hand loop', ['hand ms', 'ops ms', 'ops/hand'], opsVsHand);
  table('typed-array path: public operator vs flat', ['flat ms', 'public ms', 'public/flat'], publicVsFlat);
  console.log(`\nmedians of ${repeats} alternating samples per column (ms per call), after a warm-up of >= 5 pairs and 300 ms; Node ${process.version}, single-threaded JS`);
}

main();
