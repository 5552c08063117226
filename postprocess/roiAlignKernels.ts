/**
 * The two WebAssembly SIMD kernels of the channels-last RoIAlign (./roiAlignSimd.ts), assembled
 * by ./wasmAssembler.ts. Addresses are byte offsets into the module's memory.
 *
 * `poolRoi(rowStart, rowTaps, colStart, colTaps, PH, PW, C4, out)` pools one RoI:
 *   rowStart: i32 [PH + 1], bin row ph owns row taps rowStart[ph] .. rowStart[ph + 1]
 *   rowTaps:  [n] of (i32 byte offset of the feature row, f32 weight), 8 bytes each
 *   colStart, colTaps: the same for columns (the byte offset of column x: x * C4)
 *   C4: channels * 4 (channels a multiple of 4); features channels-last, [H, W, C]
 *   out: [PH, PW, C] float32
 * and computes out[ph, pw, c] = sum over its row taps r and column taps u of
 * w_r * w_u * feature[row_r + col_u + 4c], 32 channels (eight f32x4 sums) per pass, then 4.
 *
 * `toChannelsLast(src, dst, HW, C4, groups)`: src planes [4 * groups, HW] -> dst [HW, C] from the
 * group's first channel; `toChannelsFirst(src, dst, bins, C4, groups)`: src [bins, C] -> dst
 * planes [4 * groups, bins]. Both by 4x4 shuffles (pooled RoIs stored channel by channel, as
 * scattered scalar stores, took as long as the pooling).
 */
import { FunctionBody, assembleModule } from './wasmAssembler.js';

/** The kernels' module bytes (about a kilobyte), assembled once. */
export function roiAlignModule(): Uint8Array<ArrayBuffer> {
  return assembleModule([
    { name: 'poolRoi', body: poolRoi() },
    { name: 'toChannelsLast', body: transposeFunction('toChannelsLast') },
    { name: 'toChannelsFirst', body: transposeFunction('toChannelsFirst') },
  ]);
}

/** Pooled channels per pass: eight f32x4 accumulators stay in registers. */
const WIDE_LANES = 8;

function poolRoi(): FunctionBody {
  const f = new FunctionBody(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [rowStart, rowTaps, colStart, colTaps, pooledH, pooledW, c4, out] = [0, 1, 2, 3, 4, 5, 6, 7];
  const ph = f.local('i32'), pw = f.local('i32'), bin = f.local('i32');
  const r0 = f.local('i32'), r1 = f.local('i32'), u0 = f.local('i32'), u1 = f.local('i32');
  const r = f.local('i32'), u = f.local('i32'), cc = f.local('i32');
  const rowOffset = f.local('i32'), at = f.local('i32'), o = f.local('i32');
  const rowWeight = f.local('f32');
  const w = f.local('v128');
  const acc = Array.from({ length: WIDE_LANES }, () => f.local('v128'));

  /** for (; a < b; a++) { body }: `a` counts, `b` is the bound. */
  const forRange = (a: number, b: number, body: () => void) => {
    f.block().loop();
    f.get(a).get(b).i32GeS().brIf(1);
    body();
    f.get(a).i32Const(1).i32Add().set(a).br(0);
    f.end().end();
  };
  /** One channel pass of `lanes` f32x4 sums at channel byte offset cc; stores and advances cc and o. */
  const channelPass = (lanes: number) => {
    f.block().loop();
    f.get(cc).i32Const(16 * lanes).i32Add().get(c4).i32GtS().brIf(1);
    for (let j = 0; j < lanes; j++) f.f32Const(0).f32x4Splat().set(acc[j]);
    f.get(r0).set(r);
    forRange(r, r1, () => {
      // rowOffset = rowTaps[r].offset + cc; rowWeight = rowTaps[r].weight
      f.get(rowTaps).get(r).i32Const(8).i32Mul().i32Add().tee(at).i32Load().get(cc).i32Add().set(rowOffset);
      f.get(at).f32Load(4).set(rowWeight);
      f.get(u0).set(u);
      forRange(u, u1, () => {
        // at = rowOffset + colTaps[u].offset; w = splat(rowWeight * colTaps[u].weight)
        f.get(colTaps).get(u).i32Const(8).i32Mul().i32Add().tee(at).f32Load(4).get(rowWeight).f32Mul().f32x4Splat().set(w);
        f.get(at).i32Load().get(rowOffset).i32Add().set(at);
        for (let j = 0; j < lanes; j++) f.get(acc[j]).get(w).get(at).v128Load(16 * j).f32x4Mul().f32x4Add().set(acc[j]);
      });
    });
    // out[bin, channels of the pass]
    for (let j = 0; j < lanes; j++) f.get(o).get(acc[j]).v128Store(16 * j);
    f.get(o).i32Const(16 * lanes).i32Add().set(o);
    f.get(cc).i32Const(16 * lanes).i32Add().set(cc).br(0);
    f.end().end();
  };

  f.i32Const(0).set(ph).i32Const(0).set(bin);
  forRange(ph, pooledH, () => {
    f.get(rowStart).get(ph).i32Const(4).i32Mul().i32Add().tee(at).i32Load().set(r0);
    f.get(at).i32Load(4).set(r1);
    f.i32Const(0).set(pw);
    forRange(pw, pooledW, () => {
      f.get(colStart).get(pw).i32Const(4).i32Mul().i32Add().tee(at).i32Load().set(u0);
      f.get(at).i32Load(4).set(u1);
      f.i32Const(0).set(cc);
      f.get(out).get(bin).get(c4).i32Mul().i32Add().set(o);
      channelPass(WIDE_LANES);
      channelPass(1);
      f.get(bin).i32Const(1).i32Add().set(bin);
    });
  });
  return f;
}

/**
 * `groups` 4-lane transposes of an n x 4 block: item p, lane i is read at
 * src + g * srcGroup + p * srcItem + i * srcLane and written at dst + g * dstGroup + p * dstItem
 * + i * dstLane, four items at a time with 4x4 shuffles, the last n % 4 one by one. With one of
 * srcLane, dstLane 4 (lanes contiguous) and the other's item stride 4, this is a layout change
 * between channels-last and channel planes. Parameters are byte strides.
 */
function transposeFunction(layout: 'toChannelsLast' | 'toChannelsFirst'): FunctionBody {
  // toChannelsLast(src, dst, HW, C4, groups): src planes [4 * groups, HW] -> dst [HW, C] (group at its channels)
  // toChannelsFirst(src, dst, bins, C4, groups): src [bins, C] -> dst planes [C, bins]
  const f = new FunctionBody(['i32', 'i32', 'i32', 'i32', 'i32']);
  const [src, dst, n, c4, groups] = [0, 1, 2, 3, 4];
  const g = f.local('i32'), p = f.local('i32'), plane = f.local('i32');
  const s = f.local('i32'), d = f.local('i32'), gSrc = f.local('i32'), gDst = f.local('i32');
  const row = Array.from({ length: 4 }, () => f.local('v128'));
  const t = Array.from({ length: 4 }, () => f.local('v128'));
  const last = layout === 'toChannelsLast';
  // Byte strides: an item (pixel or bin) and a lane (channel) on each side.
  const srcItem = () => (last ? f.i32Const(4) : f.get(c4));
  const srcLane = () => (last ? f.get(plane) : f.i32Const(4));
  const dstItem = () => (last ? f.get(c4) : f.i32Const(4));
  const dstLane = () => (last ? f.i32Const(4) : f.get(plane));

  /** while (!end()) { body(); step() } */
  const loopUntil = (end: () => void, step: () => void, body: () => void) => {
    f.block().loop();
    end();
    f.brIf(1);
    body();
    step();
    f.br(0);
    f.end().end();
  };
  f.get(n).i32Const(4).i32Mul().set(plane);
  f.i32Const(0).set(g);
  loopUntil(() => f.get(g).get(groups).i32GeS(), () => f.get(g).i32Const(1).i32Add().set(g), () => {
    // a group is 4 planes on the planes' side, 16 bytes on the channels-last side
    const groupBytes = (planes: boolean) => (planes ? f.i32Const(4).i32Mul().get(plane).i32Mul() : f.i32Const(16).i32Mul());
    f.get(src).get(g);
    groupBytes(last);
    f.i32Add().set(gSrc);
    f.get(dst).get(g);
    groupBytes(!last);
    f.i32Add().set(gDst);
    f.i32Const(0).set(p);
    // four items of four lanes per step: rows are what is contiguous on the source side
    loopUntil(() => f.get(p).i32Const(4).i32Add().get(n).i32GtS(), () => f.get(p).i32Const(4).i32Add().set(p), () => {
      f.get(gSrc).get(p);
      srcItem();
      f.i32Mul().i32Add().set(s);
      for (let i = 0; i < 4; i++) {
        f.get(s).v128Load().set(row[i]);
        if (i < 3) {
          f.get(s);
          if (last) srcLane(); else srcItem();
          f.i32Add().set(s);
        }
      }
      f.get(row[0]).get(row[1]).f32x4Shuffle([0, 4, 1, 5]).set(t[0]);
      f.get(row[0]).get(row[1]).f32x4Shuffle([2, 6, 3, 7]).set(t[1]);
      f.get(row[2]).get(row[3]).f32x4Shuffle([0, 4, 1, 5]).set(t[2]);
      f.get(row[2]).get(row[3]).f32x4Shuffle([2, 6, 3, 7]).set(t[3]);
      f.get(gDst).get(p);
      dstItem();
      f.i32Mul().i32Add().set(d);
      const outs: Array<[number, number, [number, number, number, number]]> = [[0, 2, [0, 1, 4, 5]], [0, 2, [2, 3, 6, 7]], [1, 3, [0, 1, 4, 5]], [1, 3, [2, 3, 6, 7]]];
      outs.forEach(([a, b, lanes], j) => {
        f.get(d).get(t[a]).get(t[b]).f32x4Shuffle(lanes).v128Store();
        if (j < 3) {
          f.get(d);
          if (last) dstItem(); else dstLane();
          f.i32Add().set(d);
        }
      });
    });
    // the last n % 4 items one by one
    loopUntil(() => f.get(p).get(n).i32GeS(), () => f.get(p).i32Const(1).i32Add().set(p), () => {
      f.get(gSrc).get(p);
      srcItem();
      f.i32Mul().i32Add().set(s);
      f.get(gDst).get(p);
      dstItem();
      f.i32Mul().i32Add().set(d);
      for (let i = 0; i < 4; i++) {
        f.get(d).get(s).f32Load().f32Store();
        if (i < 3) {
          f.get(s);
          srcLane();
          f.i32Add().set(s);
          f.get(d);
          dstLane();
          f.i32Add().set(d);
        }
      }
    });
  });
  return f;
}
