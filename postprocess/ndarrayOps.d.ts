/**
 * Types for the parts of `ndarray-ops` (scijs, untyped) that resdet uses: each operation writes
 * into its first argument and returns it; shapes must agree, strides and offsets may differ.
 */
declare module 'ndarray-ops' {
  import type { NdArray } from 'ndarray';

  /** dest = src, element by element (any strides): the strided gather. */
  export function assign<T extends NdArray>(dest: T, src: NdArray): T;
  /** dest = src > s (1 or 0 in a numeric array). */
  export function gts<T extends NdArray>(dest: T, src: NdArray, s: number): T;
  /** a *= s in place. */
  export function mulseq<T extends NdArray>(a: T, s: number): T;
}
