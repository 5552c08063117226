import { expect } from 'chai';
import { topK } from '../../postprocess/topk.js';
import { OperatorInputError } from '../../postprocess/errors.js';
import { Prng } from '../../src/dataset/prng.js';

/** torch.topk(sorted=True) as the RPN relies on it: every index of the range by decreasing value, ties by lower index; the first k. */
function reference(values: Float32Array, k: number, start: number, length: number): number[] {
  const idx = Array.from({ length }, (_, i) => start + i);
  idx.sort((a, b) => (values[b] === values[a] ? a - b : values[b] - values[a]));
  return idx.slice(0, Math.min(k, length));
}

describe('topK (the RPN pre-NMS selection)', () => {
  it('equals a full sort on random logits, with ties, infinities and signed zeros, over sub-ranges', () => {
    const prng = new Prng(7);
    for (let t = 0; t < 300; t++) {
      const m = 1 + Math.floor(prng.next() * 3000);
      const values = new Float32Array(m);
      const kind = t % 4;
      for (let i = 0; i < m; i++) {
        const u = prng.next();
        // continuous, heavy ties (few distinct values), ±Infinity and ±0 mixed in, all equal
        values[i] = kind === 0 ? (u - 0.5) * 20 : kind === 1 ? Math.floor(u * 5) : kind === 2 ? [Infinity, -Infinity, 0, -0, u][Math.floor(prng.next() * 5)] : 1.5;
      }
      const start = Math.floor(prng.next() * m);
      const length = Math.floor(prng.next() * (m - start + 1));
      const k = Math.floor(prng.next() * (length + 5));
      expect(Array.from(topK(values, k, start, length)), `case ${t}: m ${m} start ${start} length ${length} k ${k}`).to.deep.equal(reference(values, k, start, length));
    }
  });

  it('handles sorted and reverse-sorted input (the quickselect worst cases) quickly and exactly', () => {
    const up = Float32Array.from({ length: 50000 }, (_, i) => i);
    const down = up.slice().reverse();
    expect(Array.from(topK(up, 5))).to.deep.equal([49999, 49998, 49997, 49996, 49995]);
    expect(Array.from(topK(down, 3))).to.deep.equal([0, 1, 2]);
    expect(Array.from(topK(up, 50000))).to.deep.equal(reference(up, 50000, 0, 50000));
  });

  it('refuses NaN values, a bad k and a range outside the values', () => {
    expect(() => topK(Float32Array.from([1, NaN, 2]), 1)).to.throw(OperatorInputError, /values\[1\] is NaN/);
    expect(() => topK(Float32Array.from([1, 2]), -1)).to.throw(OperatorInputError, /k must be an integer/);
    expect(() => topK(Float32Array.from([1, 2]), 1, 1, 5)).to.throw(OperatorInputError, /outside values/);
    expect(Array.from(topK(new Float32Array(0), 3))).to.deep.equal([]);
  });
});
