/**
 * Turns a strided view of a storage's bytes into a dense HostTensor.
 *
 * Float32 (and int64) data that is contiguous, little-endian and aligned becomes a typed-array
 * view over the storage bytes, without a copy; everything else (float16, bfloat16, float64,
 * narrower ints, non-contiguous views, unaligned or big-endian bytes) is converted into a new
 * array. Integer dtypes widen to int64, the only integer type a HostTensor has; bool and uint8
 * too (their values 0..255 are kept exactly).
 */
import type { HostTensor } from '../../backbones/graph/tensor.js';
import { CheckpointError } from './errors.js';
import { elementSize, type TorchDType } from './torchPickle.js';

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

/** Storage index of every element in row-major order (only for non-contiguous tensors). */
function stridedIndices(numel: number, offset: number, size: readonly number[], stride: readonly number[]): Float64Array {
  const out = new Float64Array(numel);
  const counter = new Array<number>(size.length).fill(0);
  let index = offset;
  for (let i = 0; i < numel; i++) {
    out[i] = index;
    // Odometer: bump the last dimension, carrying into earlier ones.
    for (let d = size.length - 1; d >= 0; d--) {
      if (++counter[d]! < size[d]!) { index += stride[d]!; break; }
      index -= (size[d]! - 1) * stride[d]!;
      counter[d] = 0;
    }
  }
  return out;
}

type SourceArray = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/**
 * Typed view of storage elements [first, first + count): zero-copy when aligned and little-endian,
 * else an aligned (and byte-swapped) copy.
 */
function typedElements(src: StridedSource, first: number, count: number): SourceArray {
  const size = elementSize[src.dtype];
  let bytes = src.bytes.subarray(first * size, (first + count) * size);
  if ((bytes.byteOffset % size !== 0) || (src.bigEndian && size > 1)) {
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

/** Converts source elements (at `indices`, or all in order) to float32 / int64. */
function convert(dtype: TorchDType, values: SourceArray, indices: Float64Array | null, numel: number): Float32Array | BigInt64Array {
  const at = (i: number): number => (indices ? indices[i]! : i);
  if (values instanceof BigInt64Array) {
    const out = new BigInt64Array(numel);
    for (let i = 0; i < numel; i++) out[i] = values[at(i)]!;
    return out;
  }
  if (dtype === 'int32' || dtype === 'int16' || dtype === 'int8' || dtype === 'uint8' || dtype === 'bool') {
    const out = new BigInt64Array(numel);
    for (let i = 0; i < numel; i++) out[i] = BigInt(values[at(i)]!);
    return out;
  }
  const out = new Float32Array(numel);
  if (dtype === 'float16') {
    const table = halfToFloat();
    for (let i = 0; i < numel; i++) out[i] = table[values[at(i)]!]!;
  } else if (dtype === 'bfloat16') {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < numel; i++) bits[i] = values[at(i)]! << 16;
  } else {
    // float32 copy, or float64 rounded to nearest as torch's .float() does.
    for (let i = 0; i < numel; i++) out[i] = values[at(i)]!;
  }
  return out;
}

/**
 * Builds the dense tensor a strided storage view describes.
 * @param file checkpoint name and @param name tensor name, for errors
 */
export function materializeTensor(src: StridedSource, file: string, name: string): HostTensor {
  const fail = (m: string): never => { throw new CheckpointError(file, `tensor '${name}': ${m}`); };
  const { dtype, size, stride, offset } = src;
  const outDtype = dtype.startsWith('float') || dtype === 'bfloat16' ? 'float32' : 'int64';
  if (size.length > 64) fail(`has ${size.length} dimensions`);
  let numel = 1;
  for (const d of size) { numel *= d; if (numel > MAX_ELEMENTS) fail(`shape [${size.join(', ')}] is too large`); }
  const shape = [...size];
  if (numel === 0) return { dtype: outDtype, shape, data: outDtype === 'float32' ? new Float32Array(0) : new BigInt64Array(0) };

  const storageElements = Math.floor(src.bytes.byteLength / elementSize[dtype]);
  let last = offset;
  for (let d = 0; d < size.length; d++) last += (size[d]! - 1) * stride[d]!;
  if (last >= storageElements) fail(`shape [${size.join(', ')}] with stride [${stride.join(', ')}] at offset ${offset} reaches element ${last} of a storage of ${storageElements} (corrupt)`);

  const contiguous = isContiguous(size, stride);
  const values = typedElements(src, offset, last - offset + 1);
  if (contiguous && (values instanceof Float32Array || values instanceof BigInt64Array)) {
    return { dtype: outDtype, shape, data: values }; // zero-copy when typedElements could view in place
  }
  const indices = contiguous ? null : stridedIndices(numel, 0, size, stride);
  return { dtype: outDtype, shape, data: convert(dtype, values, indices, numel) };
}
