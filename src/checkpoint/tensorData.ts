/**
 * Turns a strided view of a storage's bytes into a dense HostTensor.
 *
 * Float32 (and int64) data that is contiguous, little-endian and aligned becomes a typed-array
 * view over the storage bytes, without a copy; everything else (float16, bfloat16, float64,
 * narrower ints, non-contiguous views, unaligned or big-endian bytes) is converted into a new
 * array. Integer dtypes widen to int64, the only integer type a HostTensor has; bool and uint8
 * too (their values 0..255 are kept exactly).
 *
 * Every copy is charged to the load's MemoryBudget before it is allocated, so a stride-0 or
 * overlapping view (a few bytes of storage "expanded" to 2^32 elements) is refused by size
 * instead of taking gigabytes; a non-contiguous view is gathered without an index array.
 */
import type { HostTensor } from '../../onnx/tensor.js';
import type { MemoryBudget } from './budget.js';
import { CheckpointError } from './errors.js';
import { elementSize, MAX_DIMS, type TorchDType } from './torchPickle.js';

/** Where a tensor's elements are: `bytes` holds the storage, elements counted from its start. */
export interface StridedSource {
  dtype: TorchDType;
  bytes: Uint8Array;
  /** Element offset of the tensor's first element in the storage. */
  offset: number;
  size: readonly number[];
  stride: readonly number[];
  bigEndian: boolean;
}

const MAX_ELEMENTS = 2 ** 32 - 1; // a typed array's length limit in V8

let halfTable: Float32Array | null = null;

/** float16 bits -> float32 value for all 65536 patterns, built on first use (256 KiB). */
function halfToFloat(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24; // subnormal
    else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return (halfTable = table);
}

function isContiguous(size: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d]!;
  }
  return true;
}

/** "[a, b, c]", shortened past 8 items so that a hostile shape cannot make a huge message. */
function listText(v: readonly number[]): string {
  return `[${v.slice(0, 8).join(', ')}${v.length > 8 ? `, ... (${v.length} dims)` : ''}]`;
}

/**
 * Walks the storage indices (relative to the tensor's first element) of a strided view in
 * row-major order, a chunk at a time: memory stays constant however many elements it has.
 */
class StridedWalk {
  private readonly counter: number[];
  private index = 0;
  constructor(private readonly size: readonly number[], private readonly stride: readonly number[]) {
    this.counter = new Array<number>(size.length).fill(0);
  }

  /** Writes the next `count` indices into `out`. */
  next(out: Float64Array, count: number): void {
    const { size, stride, counter } = this;
    for (let i = 0; i < count; i++) {
      out[i] = this.index;
      // Odometer: bump the last dimension, carrying into earlier ones.
      for (let d = size.length - 1; d >= 0; d--) {
        if (++counter[d]! < size[d]!) { this.index += stride[d]!; break; }
        this.index -= (size[d]! - 1) * stride[d]!;
        counter[d] = 0;
      }
    }
  }
}

type SourceArray = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** Whether storage elements starting at `first` can be viewed in place (aligned, little-endian). */
function viewable(src: StridedSource, first: number): boolean {
  const size = elementSize[src.dtype];
  return (src.bytes.byteOffset + first * size) % size === 0 && !(src.bigEndian && size > 1);
}

/**
 * Typed view of storage elements [first, first + count): zero-copy when `viewable`, else an
 * aligned (and byte-swapped) copy, which the caller has charged.
 */
function typedElements(src: StridedSource, first: number, count: number): SourceArray {
  const size = elementSize[src.dtype];
  let bytes = src.bytes.subarray(first * size, (first + count) * size);
  if (!viewable(src, first)) {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    bytes = copy;
    if (src.bigEndian) swapBytes(bytes, size);
  }
  const { buffer, byteOffset } = bytes;
  switch (src.dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, count);
    case 'float64': return new Float64Array(buffer, byteOffset, count);
    case 'float16': case 'bfloat16': return new Uint16Array(buffer, byteOffset, count);
    case 'int64': return new BigInt64Array(buffer, byteOffset, count);
    case 'int32': return new Int32Array(buffer, byteOffset, count);
    case 'int16': return new Int16Array(buffer, byteOffset, count);
    case 'int8': return new Int8Array(buffer, byteOffset, count);
    case 'uint8': case 'bool': return new Uint8Array(buffer, byteOffset, count);
  }
}

function swapBytes(bytes: Uint8Array, size: number): void {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (size === 2) b.swap16(); else if (size === 4) b.swap32(); else if (size === 8) b.swap64();
}

/**
 * Converts `count` source elements (at `indices`, or `from`, `from + 1`, ...) to float32 /
 * int64, into `out` from `outStart`.
 */
function convert(dtype: TorchDType, values: SourceArray, indices: Float64Array | null, from: number, count: number,
  out: Float32Array | BigInt64Array, outStart: number): void {
  const at = indices ? (i: number): number => indices[i]! : (i: number): number => from + i;
  if (values instanceof BigInt64Array) {
    for (let i = 0; i < count; i++) out[outStart + i] = values[at(i)]!;
  } else if (out instanceof BigInt64Array) {
    // Narrow integers widen to int64: write the two 32-bit halves (little-endian), no BigInt per element.
    const words = new Int32Array(out.buffer, out.byteOffset, out.length * 2);
    for (let i = 0; i < count; i++) {
      const v = values[at(i)]!;
      words[2 * (outStart + i)] = v;
      words[2 * (outStart + i) + 1] = v < 0 ? -1 : 0;
    }
  } else if (dtype === 'float16') {
    const table = halfToFloat();
    for (let i = 0; i < count; i++) out[outStart + i] = table[values[at(i)]!]!;
  } else if (dtype === 'bfloat16') {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < count; i++) bits[outStart + i] = values[at(i)]! << 16;
  } else {
    // float32 copy, or float64 rounded to nearest as torch's .float() does.
    for (let i = 0; i < count; i++) out[outStart + i] = values[at(i)]!;
  }
}

const CHUNK = 1 << 16;

/** Gathers a strided view chunk by chunk (the indices of one chunk at a time). */
function gather(dtype: TorchDType, values: SourceArray, size: readonly number[], stride: readonly number[], out: Float32Array | BigInt64Array): void {
  const walk = new StridedWalk(size, stride);
  const indices = new Float64Array(Math.min(CHUNK, out.length));
  for (let start = 0; start < out.length; start += CHUNK) {
    const count = Math.min(CHUNK, out.length - start);
    walk.next(indices, count);
    convert(dtype, values, indices, 0, count, out, start);
  }
}

/**
 * Builds the dense tensor a strided storage view describes.
 * @param file checkpoint name and @param name tensor name, for errors
 * @param budget charged for every copy (null: unlimited)
 */
export function materializeTensor(src: StridedSource, file: string, name: string, budget: MemoryBudget | null = null): HostTensor {
  const fail = (m: string): never => { throw new CheckpointError(file, `tensor '${name}': ${m}`); };
  const { dtype, size, stride, offset } = src;
  const outDtype = dtype.startsWith('float') || dtype === 'bfloat16' ? 'float32' : 'int64';
  if (size.length > MAX_DIMS) fail(`has ${size.length} dimensions (at most ${MAX_DIMS})`);
  let numel = size.includes(0) ? 0 : 1; // (a huge dim times 0 would be Infinity * 0 = NaN)
  for (const d of size) numel *= d;
  if (numel > MAX_ELEMENTS) fail(`shape ${listText(size)} has ${numel} elements, more than a typed array holds (${MAX_ELEMENTS})`);
  const shape = [...size];
  if (numel === 0) return { dtype: outDtype, shape, data: outDtype === 'float32' ? new Float32Array(0) : new BigInt64Array(0) };

  const storageElements = Math.floor(src.bytes.byteLength / elementSize[dtype]);
  let last = offset;
  for (let d = 0; d < size.length; d++) last += (size[d]! - 1) * stride[d]!;
  if (!(last < storageElements)) fail(`shape ${listText(size)} with stride ${listText(stride)} at offset ${offset} reaches element ${last} of a storage of ${storageElements} (corrupt)`);

  const contiguous = isContiguous(size, stride);
  const span = last - offset + 1;
  const sameType = dtype === outDtype; // float32 -> float32, int64 -> int64
  if (contiguous && sameType && viewable(src, offset)) {
    const values = typedElements(src, offset, span) as Float32Array | BigInt64Array;
    return { dtype: outDtype, shape, data: values }; // zero-copy: a view of the storage bytes
  }
  const outBytes = numel * (outDtype === 'float32' ? 4 : 8);
  const copiesSpan = !viewable(src, offset) && !(contiguous && sameType);
  const how = contiguous ? (sameType ? 'copied (unaligned or big-endian storage)' : `converted from ${dtype}`)
    : `gathered from a ${dtype} view with stride ${listText(stride)}${stride.some((s, d) => s === 0 && size[d]! > 1) ? ' (stride 0: expanded)' : ''}`;
  budget?.charge(outBytes + (copiesSpan ? span * elementSize[dtype] : 0), `tensor '${name}': ${listText(size)} ${outDtype} ${how}`);

  if (contiguous && sameType) {
    // Unaligned or big-endian float32 / int64: the copy is the result.
    return { dtype: outDtype, shape, data: typedElements(src, offset, span) as Float32Array | BigInt64Array };
  }
  const values = typedElements(src, offset, span);
  const out = outDtype === 'float32' ? new Float32Array(numel) : new BigInt64Array(numel);
  if (contiguous) convert(dtype, values, null, 0, numel, out, 0);
  else gather(dtype, values, size, stride, out);
  return { dtype: outDtype, shape, data: out };
}
