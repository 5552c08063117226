/**
 * Top-k selection, as torch.topk(sorted=True) on CPU for the RPN's per-level pre-NMS selection.
 * Ties are broken by lower index first (torch leaves their order unspecified; with continuous
 * logits they do not occur in practice).
 */
import { OperatorInputError } from './errors.js';

/**
 * Indices of the k largest values of `values[start, start + length)`, by decreasing value.
 * @param values Float32Array [M]
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
  // The k-th largest value bounds the selection; a native typed-array sort finds it fast.
  const sorted = values.slice(start, start + length).sort();
  const threshold = sorted[length - n];
  if (Number.isNaN(threshold)) throw new OperatorInputError('topK', 'values contain NaN');
  const picked = new Int32Array(n);
  let count = 0;
  for (let i = start; i < start + length && count < n; i++) if (values[i] > threshold) picked[count++] = i;
  for (let i = start; i < start + length && count < n; i++) if (values[i] === threshold) picked[count++] = i;
  // Order the picked ones by decreasing value, then increasing index (stable sort over index order).
  const order = Array.from(picked).sort((a, b) => values[b] - values[a] || a - b);
  return Int32Array.from(order);
}
