/**
 * Top-k selection, as torch.topk(sorted=True) on CPU for the RPN's per-level pre-NMS selection.
 * Ties are broken by lower index first (torch leaves their order unspecified; with continuous
 * logits they do not occur in practice); -0 and +0 are equal values.
 *
 * How: the k-th largest value is found by quickselect on a copy (linear time, where sorting the
 * whole range cost most of the RPN's TypeScript: 12,288 logits on the bundled model's finest level),
 * then only the k picked are sorted, natively, as float64 keys packing an order-preserving integer
 * of the float32 value above the index.
 */
import { OperatorInputError } from './errors.js';

/** Indices up to this many fit below the 32 value bits of a float64 key (2^21 * 2^32 = 2^53). */
const KEY_INDEX_LIMIT = 2 ** 21;

/**
 * Indices of the k largest values of `values[start, start + length)`, by decreasing value.
 * @param values Float32Array [M], without NaN in the range
 * @param k how many to keep; min(k, length) are returned
 * @returns Int32Array [min(k, length)] indices into `values` (not relative to `start`)
 */
export function topK(values: Float32Array, k: number, start = 0, length = values.length - start): Int32Array {
  if (!(Number.isInteger(k) && k >= 0)) throw new OperatorInputError('topK', `k must be an integer >= 0, got ${k}`);
  if (!(Number.isInteger(start) && Number.isInteger(length) && start >= 0 && length >= 0 && start + length <= values.length)) {
    throw new OperatorInputError('topK', `range [${start}, ${start + length}) is outside values of length ${values.length}`);
  }
  const n = Math.min(k, length);
  if (n === 0) return new Int32Array(0);
  const work = values.slice(start, start + length);
  for (let i = 0; i < length; i++) {
    if (Number.isNaN(work[i])) throw new OperatorInputError('topK', `values[${start + i}] is NaN`);
  }
  // The n-th largest value bounds the selection: strictly larger ones first, then ties by index.
  const threshold = selectNth(work, length - n);
  const picked = new Int32Array(n);
  let count = 0;
  for (let i = start; i < start + length && count < n; i++) if (values[i] > threshold) picked[count++] = i;
  for (let i = start; i < start + length && count < n; i++) if (values[i] === threshold) picked[count++] = i;
  return sortByValueThenIndex(values, picked, start, length);
}

/**
 * The value that would sit at `nth` if `a` were sorted ascending (quickselect, median-of-three
 * pivots; a native sort of what is left after too many rounds keeps the worst case n log n).
 * Reorders `a`.
 */
function selectNth(a: Float32Array, nth: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let rounds = 2 * Math.ceil(Math.log2(a.length + 1)) + 8;
  while (hi > lo) {
    if (rounds-- === 0) {
      const rest = a.subarray(lo, hi + 1).sort();
      return rest[nth - lo];
    }
    const mid = (lo + hi) >>> 1;
    // median of three to a[mid]
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) swap(a, i++, j--);
    }
    // a[lo..j] <= pivot <= a[i..hi], and a[j+1..i-1] == pivot
    if (nth <= j) hi = j;
    else if (nth >= i) lo = i;
    else return a[nth];
  }
  return a[nth];
}

function swap(a: Float32Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/** `picked` ordered by decreasing value, then increasing index. */
function sortByValueThenIndex(values: Float32Array, picked: Int32Array, start: number, length: number): Int32Array {
  if (length > KEY_INDEX_LIMIT) {
    return Int32Array.from(Array.from(picked).sort((a, b) => values[b] - values[a] || a - b));
  }
  // Order-preserving integer of a float32: flip all bits of negatives, the sign bit of the rest.
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  const keys = new Float64Array(picked.length);
  for (let p = 0; p < picked.length; p++) {
    asFloat[0] = values[picked[p]] === 0 ? 0 : values[picked[p]];
    const u = bits[0] & 0x80000000 ? ~bits[0] >>> 0 : (bits[0] | 0x80000000) >>> 0;
    // larger index, smaller key: read from the end, equal values come out by increasing index
    keys[p] = u * KEY_INDEX_LIMIT + (KEY_INDEX_LIMIT - 1 - (picked[p] - start));
  }
  keys.sort();
  const out = new Int32Array(picked.length);
  for (let p = 0; p < picked.length; p++) out[p] = start + KEY_INDEX_LIMIT - 1 - (keys[picked.length - 1 - p] % KEY_INDEX_LIMIT);
  return out;
}
