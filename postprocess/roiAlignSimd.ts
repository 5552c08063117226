/**
 * Multi-scale RoIAlign in WebAssembly SIMD: the same sampling as {@link multiScaleRoiAlign} (the
 * TypeScript pooler, held equal to torchvision 0.14's CPU kernel) with the channel loop four
 * lanes wide, for the CPU and WASM providers, whose ONNX RoiAlign is scalar over NCHW planes.
 *
 * Glossary: N images, C channels (a multiple of 4), Hl x Wl the map of level l; K RoIs; PH x PW
 * pooled output.
 *
 * How: each pooled level is copied into the module's memory channels-last, [N, Hl, Wl, C], so a
 * tap reads C contiguous floats; per RoI the row and column taps of `roiAxisTaps` (distinct
 * feature rows and columns per bin with their summed bilinear weights) go to the kernel, which
 * sums their products over eight f32x4 lanes of channels at a time into [PH, PW, C], turned
 * into [C, PH, PW] by 4x4 shuffles (./roiAlignKernels.ts). The sums are float32, as the kernel's: within a few float32 ulps of
 * the TypeScript pooler's float64 sums, not bit-identical.
 *
 * The result is a view of the pooler's memory, valid until its next call: one pooler serves one
 * call at a time (a detector keeps a few and lends them out).
 */
import { OperatorInputError } from './errors.js';
import { type LevelFeatures, type MultiScaleRoiAlignOptions, planMultiScale } from './multiScaleRoiAlign.js';
import { RoiAlignWorkspace, roiAxisTaps } from './roiAlign.js';
import { roiAlignModule } from './roiAlignKernels.js';

const op = 'multiScaleRoiAlignSimd';
const PAGE = 65536;
/** The most memory one pooler grows to: offsets stay below 2^31. */
const MAX_BYTES = 2 ** 31 - PAGE;
/** Channels transposed per kernel call: 32 planes staged at a time. */
const STAGED_CHANNELS = 32;

interface Kernels {
  memory: WebAssembly.Memory;
  poolRoi(rowStart: number, rowTaps: number, colStart: number, colTaps: number, ph: number, pw: number, c4: number, out: number): void;
  toChannelsLast(src: number, dst: number, hw: number, c4: number, groups: number): void;
  toChannelsFirst(src: number, dst: number, bins: number, c4: number, groups: number): void;
}

let compiled: WebAssembly.Module | null | undefined;

/** The kernels' compiled module, or null where the runtime has no WebAssembly SIMD. */
function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = roiAlignModule();
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;


/** The levels and the output of a call need more memory than one WebAssembly pooler holds. */
export class PoolerMemoryError extends RangeError {
  constructor(readonly bytes: number) {
    super(`${op}: the levels and the output need ${(bytes / 2 ** 20).toFixed(0)} MiB, more than the ${MAX_BYTES / 2 ** 20} MiB a WebAssembly pooler holds: use multiScaleRoiAlign`);
    this.name = 'PoolerMemoryError';
  }
}

/** A RoIAlign pooler with its own WebAssembly memory. */
export class SimdRoiAlign {
  private readonly kernels: Kernels;
  private readonly ws = new RoiAlignWorkspace();
  private i32 = new Int32Array(0);
  private f32 = new Float32Array(0);
  /** The loaded levels' shapes (their data left behind), where each starts, where the copies end. */
  private loaded?: { levels: LevelFeatures[]; bases: number[]; end: number };

  /** Whether this runtime runs the kernels (WebAssembly with SIMD: Node 16.4+, browsers since 2021). */
  static get supported(): boolean {
    return kernelModule() !== null;
  }

  constructor() {
    const module = kernelModule();
    if (!module) throw new OperatorInputError(op, 'this JavaScript runtime has no WebAssembly SIMD: use multiScaleRoiAlign');
    this.kernels = new WebAssembly.Instance(module).exports as unknown as Kernels;
    this.views();
  }

  /** Bytes of memory the pooler holds now (it keeps what its largest call needed). */
  get memoryBytes(): number {
    return this.kernels.memory.buffer.byteLength;
  }

  private views(): void {
    this.i32 = new Int32Array(this.kernels.memory.buffer);
    this.f32 = new Float32Array(this.kernels.memory.buffer);
  }

  private ensure(bytes: number): void {
    if (bytes > MAX_BYTES) throw new PoolerMemoryError(bytes);
    const have = this.kernels.memory.buffer.byteLength;
    if (bytes <= have) return;
    try {
      this.kernels.memory.grow(Math.ceil((bytes - have) / PAGE));
    } catch (e) {
      // The engine's own limit, lower than ours on some browsers and 32-bit systems.
      if (e instanceof RangeError) throw new PoolerMemoryError(bytes);
      throw e;
    }
    this.views();
  }

  /**
   * Copies the pooled levels in, channels-last; {@link pool} reads this copy until the next call,
   * so a pyramid pooled twice (box head, then mask head) is copied once.
   * @param levels as {@link multiScaleRoiAlign} takes them, their channels a multiple of 4
   */
  loadLevels(levels: readonly LevelFeatures[]): void {
    this.loaded = undefined;
    const { n, c } = planMultiScale(levels, [], { outputSize: [1, 1] }, op);
    if (c % 4 !== 0) throw new OperatorInputError(op, `the levels have ${c} channels: the SIMD pooler takes a multiple of 4 (use multiScaleRoiAlign)`);
    // Memory: [staged planes][each level channels-last][output of pool][one RoI channels-last][its taps].
    const staging = 0;
    let at = align16(STAGED_CHANNELS * 4 * Math.max(...levels.map((l) => l.shape[2] * l.shape[3])));
    const bases = levels.map((l) => {
      const base = at;
      at = align16(at + 4 * n * l.shape[2] * l.shape[3] * c);
      return base;
    });
    this.ensure(at);
    levels.forEach((l, i) => this.toChannelsLast(l, n, c, staging, bases[i]));
    this.loaded = { levels: levels.map((l) => ({ ...l, data: new Float32Array(0) })), bases, end: at };
  }

  /**
   * As {@link multiScaleRoiAlign}(levels, boxes, options) over the levels of the last {@link loadLevels}.
   * @param boxes per image i < N, Float32Array [Ki, 4] x1,y1,x2,y2 in image coordinates
   * @param channelsLast give [K, PH, PW, C] (what the kernel computes) instead of [K, C, PH, PW]
   * @returns Float32Array [K, C, PH, PW] (or [K, PH, PW, C]) in the order of the boxes: a view of
   *   this pooler's memory, overwritten (or detached) by its next call
   */
  pool(boxes: readonly Float32Array[], options: MultiScaleRoiAlignOptions, channelsLast = false): Float32Array {
    if (!this.loaded) throw new OperatorInputError(op, 'no levels loaded: call loadLevels(levels) first');
    const { levels, bases } = this.loaded;
    const plan = planMultiScale(levels, boxes, options, op, false);
    const { c, k, rois } = plan;
    const { pooledHeight: ph, pooledWidth: pw } = plan.params[0];
    const bins = ph * pw;
    const outLength = k * c * bins;
    if (outLength === 0) return new Float32Array(0);
    const out = this.loaded.end;
    const pooled = align16(out + 4 * outLength);
    const taps = align16(pooled + 4 * c * bins);
    this.ensure(taps + 4 * (ph + pw + 2));

    const roiLength = c * bins;
    for (const r of plan.order) {
      const level = rois.level[r];
      if (level < 0) {
        // torchvision's NaN level: the RoI's features stay zero.
        this.f32.fill(0, (out >> 2) + r * roiLength, (out >> 2) + (r + 1) * roiLength);
        continue;
      }
      const [, , h, w] = levels[level].shape;
      const i = rois.image[r];
      const o = 4 * rois.box[r];
      const b = boxes[i];
      const axis = roiAxisTaps(h, w, b[o], b[o + 1], b[o + 2], b[o + 3], plan.params[level], this.ws, `boxes[${i}][${rois.box[r]}]`);
      const rowStart = taps;
      const colStart = rowStart + 4 * (ph + 1);
      const rowTaps = align16(colStart + 4 * (pw + 1));
      const colTaps = rowTaps + 8 * axis.rows;
      this.ensure(colTaps + 8 * axis.cols);
      const rowBytes = 4 * w * c;
      this.writeTaps(this.ws.rows, ph, axis.rows, rowStart, rowTaps, bases[level] + i * h * rowBytes, rowBytes, axis.scale);
      this.writeTaps(this.ws.cols, pw, axis.cols, colStart, colTaps, 0, 4 * c, 1);
      if (channelsLast) {
        this.kernels.poolRoi(rowStart, rowTaps, colStart, colTaps, ph, pw, 4 * c, out + 4 * r * roiLength);
      } else {
        this.kernels.poolRoi(rowStart, rowTaps, colStart, colTaps, ph, pw, 4 * c, pooled);
        this.kernels.toChannelsFirst(pooled, out + 4 * r * roiLength, bins, 4 * c, c / 4);
      }
    }
    return new Float32Array(this.kernels.memory.buffer, out, outLength);
  }

  /** One level [N, C, H, W] into memory at `dst` as [N, H, W, C], STAGED_CHANNELS planes at a time. */
  private toChannelsLast(level: LevelFeatures, n: number, c: number, staging: number, dst: number): void {
    const hw = level.shape[2] * level.shape[3];
    for (let i = 0; i < n; i++) {
      for (let c0 = 0; c0 < c; c0 += STAGED_CHANNELS) {
        const planes = Math.min(STAGED_CHANNELS, c - c0);
        const from = (i * c + c0) * hw;
        this.f32.set(level.data.subarray(from, from + planes * hw), staging >> 2);
        this.kernels.toChannelsLast(staging, dst + 4 * (i * hw * c + c0), hw, 4 * c, planes / 4);
      }
    }
  }

  /** An axis's taps as the kernel reads them: bin starts, then (byte offset, float32 weight) pairs. */
  private writeTaps(axis: RoiAlignWorkspace['rows'], pooled: number, count: number, start: number, entries: number, base: number, stride: number, scale: number): void {
    const { i32, f32 } = this;
    for (let p = 0; p <= pooled; p++) i32[(start >> 2) + p] = axis.start[p];
    for (let t = 0, e = entries >> 2; t < count; t++, e += 2) {
      i32[e] = base + axis.idx[t] * stride;
      f32[e + 1] = axis.weight[t] * scale;
    }
  }
}
