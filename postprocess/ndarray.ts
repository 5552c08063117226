/**
 * ndarray views (scijs `ndarray`: data, shape, stride, offset) in and out of the operators.
 *
 * In: an operator argument may be a flat row-major typed array, as always, or an ndarray view of
 * the same element type whose shape the operator checks (boxes [N, 4], scores [N], feature maps
 * [C, H, W] or [N, C, H, W], masks [D, M, M], a binary mask [H, W]). A contiguous row-major view
 * is used in place (a subarray, no copy); any other (transposed, sliced, stepped, negative or zero
 * strides, an offset) is gathered once into a new contiguous array, so it gives exactly the result
 * of its contiguous copy. A typed array passes through untouched: one `instanceof`, nothing else.
 *
 * Out: {@link toNdarray} wraps an operator's flat result in an ndarray of its documented shape
 * without copying; results never change type with an option (torchvision #1775).
 *
 * Every view is checked (element type, rank, shape, integer strides, all of its elements inside
 * its data) before anything is read: OperatorInputError naming the argument and the shape.
 */
import ndarray, { type NdArray } from 'ndarray';
import ops from 'ndarray-ops';
import { OperatorInputError } from './errors.js';

/** The fields of a scijs ndarray the operators read; every `ndarray(...)` has them. */
export interface NdarrayView<D> {
  readonly data: D;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  readonly offset: number;
}

/** A float argument: a flat row-major Float32Array, or an ndarray view over one. */
export type Float32ArrayOrView = Float32Array | NdarrayView<Float32Array>;
/** An integer argument (categories): a flat Int32Array, or an ndarray view over one. */
export type Int32ArrayOrView = Int32Array | NdarrayView<Int32Array>;
/** A byte argument (binary masks): a flat Uint8Array, or an ndarray view over one. */
export type Uint8ArrayOrView = Uint8Array | NdarrayView<Uint8Array>;

/** The typed arrays an operator result can be. */
export type OperatorResultArray = Float32Array | Float64Array | Int32Array | Uint8Array;

type ElementArray = Float32Array | Int32Array | Uint8Array;
type ElementArrayConstructor<D extends ElementArray> = { new (length: number): D; readonly name: string };

/**
 * A required shape: numbers are fixed sizes, strings name sizes (equal names must be equal, as
 * the two M of [D, M, M]); the names only serve the error messages.
 */
export type ShapePattern = readonly (number | string)[];

/** True for an object with ndarray's data, shape, stride and offset (not for a typed array). */
export function isNdarrayView(value: unknown): value is NdarrayView<unknown> {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  const v = value as Partial<NdarrayView<unknown>>;
  return Array.isArray(v.shape) && Array.isArray(v.stride) && typeof v.offset === 'number' && 'data' in v;
}

/**
 * Wraps a flat operator result in an ndarray of the given shape, sharing its memory.
 * @param data a flat row-major result, e.g. roiAlign's Float32Array [K, C, PH, PW]
 * @param shape its shape; one entry may be -1, inferred from data.length (as torch's view(-1))
 * @returns ndarray over `data` with that shape and row-major strides
 * @throws OperatorInputError when the shape is not non-negative integers (and at most one -1)
 *   whose product is data.length
 */
export function toNdarray<D extends OperatorResultArray>(data: D, shape: readonly number[]): NdArray<D> {
  const op = 'toNdarray';
  if (!ArrayBuffer.isView(data)) throw new OperatorInputError(op, 'data must be a typed array (an operator result)');
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= -1) || shape.filter((d) => d === -1).length > 1) {
    throw new OperatorInputError(op, `shape must be non-negative integers with at most one -1, got ${JSON.stringify(shape)}`);
  }
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const resolved = shape.includes(-1) && known > 0 && data.length % known === 0
    ? shape.map((d) => (d === -1 ? data.length / known : d))
    : shape.slice();
  const size = resolved.reduce((p, d) => p * d, 1);
  if (resolved.includes(-1) || size !== data.length) {
    throw new OperatorInputError(op, `data has ${data.length} elements, which shape [${shape.join(', ')}] cannot hold`);
  }
  return ndarray(data, resolved);
}

/**
 * The elements of a checked view as a row-major array: its data itself (a subarray) when the view
 * is contiguous row-major, else a gathered copy. @internal
 * @param op operator name, for errors
 * @param name argument name, for errors
 * @param what what the argument holds, for errors (e.g. 'x1,y1,x2,y2')
 * @returns the row-major elements and the view's shape
 */
export function viewElements<D extends ElementArray>(
  op: string, name: string, view: NdarrayView<unknown>, type: ElementArrayConstructor<D>, patterns: readonly ShapePattern[], what = '',
): { data: D; shape: number[] } {
  const expected = `${patterns.map((p) => `[${p.join(', ')}]`).join(' or ')}${what ? ` ${what}` : ''}`;
  const { data, shape, stride, offset } = view;
  if (!(data instanceof type)) {
    const got = ArrayBuffer.isView(data) ? data.constructor.name : Array.isArray(data) ? 'an Array' : typeof data;
    throw new OperatorInputError(op, `${name} is an ndarray over ${got}; it must be over a ${type.name} ${expected}`);
  }
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0) || stride.length !== shape.length
    || !stride.every(Number.isSafeInteger) || !Number.isSafeInteger(offset)) {
    throw new OperatorInputError(op, `${name} is an ndarray with shape ${JSON.stringify(shape)}, stride ${JSON.stringify(stride)}, offset ${offset}: sizes must be integers >= 0, strides and offset integers`);
  }
  if (!patterns.some((p) => matchesPattern(shape, p))) {
    throw new OperatorInputError(op, `${name} must be an ndarray ${expected}, got shape [${shape.join(', ')}]`);
  }
  const size = shape.reduce((p, d) => p * d, 1);
  if (size === 0) return { data: new type(0), shape: shape.slice() };
  let lo = offset, hi = offset;
  for (let i = 0; i < shape.length; i++) {
    const span = stride[i] * (shape[i] - 1);
    if (span < 0) lo += span;
    else hi += span;
  }
  if (lo < 0 || hi >= data.length) {
    throw new OperatorInputError(op, `${name} (shape [${shape.join(', ')}], stride [${stride.join(', ')}], offset ${offset}) reaches elements ${lo}..${hi} of data with ${data.length}`);
  }
  if (isRowMajor(shape, stride)) {
    return { data: (offset === 0 && size === data.length ? data : data.subarray(offset, offset + size)) as D, shape: shape.slice() };
  }
  const out = new type(size);
  gatherStrided(data, shape, stride, offset, out);
  return { data: out, shape: shape.slice() };
}

function matchesPattern(shape: readonly number[], pattern: ShapePattern): boolean {
  if (shape.length !== pattern.length) return false;
  const named = new Map<string, number>();
  return pattern.every((p, i) => {
    if (typeof p === 'number') return shape[i] === p;
    const seen = named.get(p);
    named.set(p, shape[i]);
    return seen === undefined || seen === shape[i];
  });
}

/** Row-major contiguous: each stride is the product of the later sizes (size-1 axes do not count). */
function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/**
 * out = the view's elements in row-major order, by ndarray-ops `assign` (any rank): measured in
 * bench/ndarray.ts at 0.26-0.41x a plain strided loop's time on a [256, 200, 304] view of HWC data
 * (cwise tiles arrays whose stride orders differ), 0.9-1.2x a hand-tiled loop there, and 0.97-1.05x
 * the plain loop on [1000, 4] and [100, 28, 28] slices. @internal
 */
export function gatherStrided<D extends ElementArray>(
  data: D, shape: readonly number[], stride: readonly number[], offset: number, out: D,
): void {
  ops.assign(ndarray(out, shape.slice()), ndarray(data, shape.slice(), stride.slice(), offset));
}
