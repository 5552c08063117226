/**
 * COCOeval.summarize for detections (_summarizeDets): the 12 standard numbers and the 12 lines
 * pycocotools prints, character for character (Python's format rounding included).
 */
import type { Accumulated } from './accumulate.js';
import type { ResolvedParams } from './types.js';

/** numpy's pairwise summation (the order np.mean adds in), so means round as numpy's do. */
function pairwiseSum(a: readonly number[], lo: number, n: number): number {
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[lo + i];
    return s;
  }
  if (n <= 128) {
    const r = a.slice(lo, lo + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[lo + i + j];
    let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) s += a[lo + i];
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, lo, n2) + pairwiseSum(a, lo + n2, n - n2);
}

/**
 * Python's '{:.Nf}'.format(x): the exact binary value rounded half to even (JavaScript's toFixed
 * rounds exact ties away from zero, e.g. 0.0625 -> '0.063' where Python prints '0.062').
 */
export function formatFixed(x: number, digits: number): string {
  const fixed = x.toFixed(digits);
  const exact = Math.abs(x).toFixed(100); // exact for the magnitudes printed here
  const point = exact.indexOf('.');
  const rest = exact.slice(point + 1 + digits);
  if (!/^50*$/.test(rest)) return fixed;
  const kept = exact.slice(0, point + 1 + digits).replace(/\.$/, '');
  const lastDigit = Number(kept[kept.length - 1]);
  if (lastDigit % 2 === 1) return fixed; // toFixed rounded away from zero: that is the even neighbour
  return (x < 0 ? '-' : '') + kept;
}

type Selection = { ap: boolean; iouThr?: number; areaRng: string; maxDets: number };

/** _summarize(ap, iouThr, areaRng, maxDets): mean of the selected entries above -1, or -1. */
function summarizeOne(acc: Accumulated, p: ResolvedParams, s: Selection): { value: number; line: string } {
  const [T, R, K, A, M] = acc.counts;
  const ts = s.iouThr === undefined ? [...Array(T).keys()] : [...Array(T).keys()].filter((t) => p.iouThrs[t] === s.iouThr);
  const as = [...Array(A).keys()].filter((a) => p.areaRngLbl[a] === s.areaRng);
  const ms = [...Array(M).keys()].filter((m) => p.maxDets[m] === s.maxDets);
  const values: number[] = [];
  // numpy's order of s[s > -1]: t, then r (precision only), then k
  if (as.length === 1 && ms.length === 1) {
    const [a, m] = [as[0], ms[0]];
    for (const t of ts) {
      if (s.ap) {
        for (let r = 0; r < R; r++) for (let k = 0; k < K; k++) values.push(acc.precision[(((t * R + r) * K + k) * A + a) * M + m]);
      } else {
        for (let k = 0; k < K; k++) values.push(acc.recall[((t * K + k) * A + a) * M + m]);
      }
    }
  }
  const kept = values.filter((v) => v > -1);
  const value = kept.length === 0 ? -1 : pairwiseSum(kept, 0, kept.length) / kept.length;
  const title = (s.ap ? 'Average Precision' : 'Average Recall').padEnd(18);
  const type = s.ap ? '(AP)' : '(AR)';
  const iou = s.iouThr === undefined
    ? `${formatFixed(p.iouThrs[0], 2)}:${formatFixed(p.iouThrs[T - 1], 2)}`
    : formatFixed(s.iouThr, 2);
  const line = ` ${title} ${type} @[ IoU=${iou.padEnd(9)} | area=${s.areaRng.padStart(6)} | maxDets=${String(s.maxDets).padStart(3)} ] = ${formatFixed(value, 3)}`;
  return { value, line };
}

/**
 * The 12 detection metrics and the lines summarize() prints. As in pycocotools, the selections use
 * maxDets[0..2] and the labels 'all' / 'small' / 'medium' / 'large'; a selection that finds nothing
 * gives -1.
 */
export function summarizeDets(acc: Accumulated, p: ResolvedParams): { stats: number[]; summary: string } {
  const [m0, m1, m2] = [p.maxDets[0], p.maxDets[1], p.maxDets[2]];
  const selections: Selection[] = [
    { ap: true, areaRng: 'all', maxDets: 100 },
    { ap: true, iouThr: 0.5, areaRng: 'all', maxDets: m2 },
    { ap: true, iouThr: 0.75, areaRng: 'all', maxDets: m2 },
    { ap: true, areaRng: 'small', maxDets: m2 },
    { ap: true, areaRng: 'medium', maxDets: m2 },
    { ap: true, areaRng: 'large', maxDets: m2 },
    { ap: false, areaRng: 'all', maxDets: m0 },
    { ap: false, areaRng: 'all', maxDets: m1 },
    { ap: false, areaRng: 'all', maxDets: m2 },
    { ap: false, areaRng: 'small', maxDets: m2 },
    { ap: false, areaRng: 'medium', maxDets: m2 },
    { ap: false, areaRng: 'large', maxDets: m2 },
  ];
  const rows = selections.map((s) => summarizeOne(acc, p, s));
  return { stats: rows.map((r) => r.value), summary: rows.map((r) => r.line).join('\n') };
}
