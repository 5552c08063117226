/**
 * The two descending score sorts NMS depends on, reproduced exactly, ties included.
 *
 * torchvision 0.14's C++ `nms` kernel sorts scores with `stable=true`: ties are visited in index
 * order (`stableSortDescending`). But `batched_nms`'s per-class branch re-sorts the kept scores in
 * Python with `Tensor.sort(descending=True)`, stable=False (`torchSortDescending`), which on torch
 * 1.13 CPU runs libstdc++'s `std::sort` on (value, index) pairs with the
 * comparator `a > b`. `std::sort` is an introsort (median-of-three quicksort, heapsort past a depth
 * of 2*floor(log2 n), a final insertion sort over runs of 16), so it is NOT stable for n > 16: the
 * order of equal scores depends on the algorithm's exact swaps. batchedNms's output order of tied
 * kept boxes (and so which survive a later top-k) depends on it, so we replay the same swaps (GCC 12's libstdc++, the compiler of
 * Debian's torch 1.13) instead of using a stable sort. NaN keys are not supported (callers reject
 * them), so the comparator is a plain `>`.
 *
 * Glossary: k = keys (scores), o = payload (indices) moved with them, [first, last) = a range.
 */

/** Indices up to this bound fit with a 32-bit score key in one float64 (32 + 21 = 53 bits). */
const INDEX_BITS_LIMIT = 1 << 21;

/**
 * Sorts box indices by decreasing score, ties by increasing index: torch's
 * `scores.sort(stable=true, descending=true)` as the nms kernel calls it (-0 ties with +0).
 * Done as one native numeric sort of float64 keys (score order bits * 2^21 + index).
 * @param scores Float32Array [N] scores, no NaN
 * @param indices Int32Array [>= count] distinct box indices (< N); the first `count` are sorted in place
 * @param count number of leading indices to sort
 * @param scratch optional Float64Array [>= count] reused for the keys
 */
export function stableSortDescending(scores: Float32Array, indices: Int32Array, count: number, scratch?: Float64Array): void {
  if (count < 2) return;
  if (scores.length > INDEX_BITS_LIMIT) {
    const sorted = Array.from(indices.subarray(0, count)).sort((a, b) => scores[b] - scores[a] || a - b);
    indices.set(sorted);
    return;
  }
  const bits = new Uint32Array(scores.buffer, scores.byteOffset, scores.length);
  const keys = scratch && scratch.length >= count ? scratch.subarray(0, count) : new Float64Array(count);
  for (let p = 0; p < count; p++) {
    const i = indices[p];
    const b = bits[i];
    // Order bits: the float's bits turned so that a larger score gives a smaller unsigned key.
    const order = b >>> 31 ? (b === 0x80000000 ? 0x7fffffff : b) : 0x7fffffff - b;
    keys[p] = order * INDEX_BITS_LIMIT + i;
  }
  keys.sort();
  for (let p = 0; p < count; p++) indices[p] = keys[p] % INDEX_BITS_LIMIT;
}

/** libstdc++'s `_S_threshold`: ranges at most this long are left to the final insertion sort. */
const SORT_THRESHOLD = 16;

/**
 * Sorts `keys[0, n)` in decreasing order in place, moving `payload[0, n)` along, with exactly the
 * swaps of torch 1.13's CPU `sort(descending=True)`.
 * @param keys Float32Array [>= n] scores, no NaN; reordered in place
 * @param payload Int32Array [>= n] values carried with the keys (usually 0..n-1); reordered in place
 * @param n number of leading elements to sort
 */
export function torchSortDescending(keys: Float32Array, payload: Int32Array, n: number): void {
  if (n < 2) return;
  introsortLoop(keys, payload, 0, n, 2 * (31 - Math.clz32(n)));
  finalInsertionSort(keys, payload, 0, n);
}

function swap(k: Float32Array, o: Int32Array, a: number, b: number): void {
  const kt = k[a]; k[a] = k[b]; k[b] = kt;
  const ot = o[a]; o[a] = o[b]; o[b] = ot;
}

function introsortLoop(k: Float32Array, o: Int32Array, first: number, last: number, depthLimit: number): void {
  while (last - first > SORT_THRESHOLD) {
    if (depthLimit === 0) {
      heapSort(k, o, first, last);
      return;
    }
    depthLimit--;
    const cut = partitionPivot(k, o, first, last);
    introsortLoop(k, o, cut, last, depthLimit);
    last = cut;
  }
}

/** `__unguarded_partition_pivot`: median of (first+1, mid, last-1) moved to `first`, then partition. */
function partitionPivot(k: Float32Array, o: Int32Array, first: number, last: number): number {
  const mid = first + ((last - first) >> 1);
  moveMedianToFirst(k, o, first, first + 1, mid, last - 1);
  const pivot = k[first];
  let lo = first + 1;
  let hi = last;
  for (;;) {
    while (k[lo] > pivot) lo++;
    hi--;
    while (pivot > k[hi]) hi--;
    if (!(lo < hi)) return lo;
    swap(k, o, lo, hi);
    lo++;
  }
}

function moveMedianToFirst(k: Float32Array, o: Int32Array, result: number, a: number, b: number, c: number): void {
  if (k[a] > k[b]) {
    if (k[b] > k[c]) swap(k, o, result, b);
    else if (k[a] > k[c]) swap(k, o, result, c);
    else swap(k, o, result, a);
  } else if (k[a] > k[c]) swap(k, o, result, a);
  else if (k[b] > k[c]) swap(k, o, result, c);
  else swap(k, o, result, b);
}

function finalInsertionSort(k: Float32Array, o: Int32Array, first: number, last: number): void {
  if (last - first > SORT_THRESHOLD) {
    insertionSort(k, o, first, first + SORT_THRESHOLD);
    for (let i = first + SORT_THRESHOLD; i < last; i++) unguardedLinearInsert(k, o, i);
  } else {
    insertionSort(k, o, first, last);
  }
}

function insertionSort(k: Float32Array, o: Int32Array, first: number, last: number): void {
  for (let i = first + 1; i < last; i++) {
    const kv = k[i];
    if (kv > k[first]) {
      // `move_backward(first, i, i + 1)`, then the value goes to the front.
      const ov = o[i];
      k.copyWithin(first + 1, first, i);
      o.copyWithin(first + 1, first, i);
      k[first] = kv;
      o[first] = ov;
    } else {
      unguardedLinearInsert(k, o, i);
    }
  }
}

function unguardedLinearInsert(k: Float32Array, o: Int32Array, last: number): void {
  const kv = k[last];
  const ov = o[last];
  let next = last - 1;
  while (kv > k[next]) {
    k[last] = k[next];
    o[last] = o[next];
    last = next;
    next--;
  }
  k[last] = kv;
  o[last] = ov;
}

/** `std::__partial_sort(first, last, last)`: make_heap then sort_heap, libstdc++'s sift order. */
function heapSort(k: Float32Array, o: Int32Array, first: number, last: number): void {
  const len = last - first;
  if (len >= 2) {
    for (let parent = (len - 2) >> 1; ; parent--) {
      adjustHeap(k, o, first, parent, len, k[first + parent], o[first + parent]);
      if (parent === 0) break;
    }
  }
  for (let end = last - 1; end - first >= 1; end--) {
    // `__pop_heap(first, end, end)`: the top goes to `end`, the old `*end` sifts from the root.
    const kv = k[end];
    const ov = o[end];
    k[end] = k[first];
    o[end] = o[first];
    adjustHeap(k, o, first, 0, end - first, kv, ov);
  }
}

/** `std::__adjust_heap` for the comparator `a > b` (a min-heap on scores, so sort_heap descends). */
function adjustHeap(
  k: Float32Array, o: Int32Array, first: number, holeIndex: number, len: number, kv: number, ov: number,
): void {
  const topIndex = holeIndex;
  let secondChild = holeIndex;
  while (secondChild < ((len - 1) >> 1)) {
    secondChild = 2 * (secondChild + 1);
    if (k[first + secondChild] > k[first + secondChild - 1]) secondChild--;
    k[first + holeIndex] = k[first + secondChild];
    o[first + holeIndex] = o[first + secondChild];
    holeIndex = secondChild;
  }
  if ((len & 1) === 0 && secondChild === ((len - 2) >> 1)) {
    secondChild = 2 * (secondChild + 1);
    k[first + holeIndex] = k[first + secondChild - 1];
    o[first + holeIndex] = o[first + secondChild - 1];
    holeIndex = secondChild - 1;
  }
  // `std::__push_heap`
  let parent = (holeIndex - 1) >> 1;
  while (holeIndex > topIndex && k[first + parent] > kv) {
    k[first + holeIndex] = k[first + parent];
    o[first + holeIndex] = o[first + parent];
    holeIndex = parent;
    parent = (holeIndex - 1) >> 1;
  }
  k[first + holeIndex] = kv;
  o[first + holeIndex] = ov;
}
