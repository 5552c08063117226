/**
 * The RPN's per-level pre-NMS top-k on the GPU: the RPN head's outputs stay where the head wrote
 * them, and only each level's k best logits, their indices and their deltas come back (torchvision
 * `RegionProposalNetwork._get_top_n_idx`, then the gather of `filter_proposals`).
 *
 * R: anchors over all levels, L: levels, kl = min(preNmsTopN, anchors of level l), T = sum kl.
 */
import { GraphBuilder, type OnnxModel, type Value, attr } from '../onnx/index.js';

/** Output names of the top-k graph. */
export const rpnTopKOutputs = { logits: 'topLogits', indices: 'topIndices', deltas: 'topDeltas' } as const;

/**
 * The graph for `levels` pyramid levels. Inputs: `objectness` [1, R] and `deltas` [1, R, 4] (the
 * RPN head's outputs), `starts`, `ends` and `k` int64 [L] (each level's anchor range and kl).
 * Outputs: `topLogits` [1, T] (by decreasing logit within each level), `topIndices` int64 [1, T]
 * (indices within the level's range), `topDeltas` [1, T, 4].
 */
export function buildRpnTopK(levels: number): OnnxModel {
  if (!(Number.isInteger(levels) && levels > 0)) throw new RangeError(`RPN top-k graph: levels must be an integer > 0, got ${levels}`);
  const g = new GraphBuilder('rpnTopK');
  const objectness = g.input('objectness', 'float32', [1, 'R']);
  const deltas = g.input('deltas', 'float32', [1, 'R', 4]);
  const starts = g.input('starts', 'int64', [levels]);
  const ends = g.input('ends', 'int64', [levels]);
  const k = g.input('k', 'int64', [levels]);
  const logits: Value[] = [];
  const indices: Value[] = [];
  const picked: Value[] = [];
  const axis1 = g.constInt64([1]);
  for (let l = 0; l < levels; l++) {
    const at = (v: Value) => g.slice(v, [l], [l + 1], [0]); // [1]
    const [start, end] = [at(starts), at(ends)];
    const levelLogits = g.node('Slice', [objectness, start, end, axis1])[0]; // [1, Rl]
    const [values, index] = g.node('TopK', [levelLogits, at(k)], { axis: attr.int(1), largest: attr.int(1), sorted: attr.int(1) }, { outputs: 2 });
    const levelDeltas = g.node('Slice', [deltas, start, end, axis1])[0]; // [1, Rl, 4]
    logits.push(values);
    indices.push(index);
    picked.push(g.node('Gather', [levelDeltas, g.reshape(index, g.constInt64([-1]))], { axis: attr.int(1) })[0]); // [1, kl, 4]
  }
  const joined = (vs: Value[], axis: number) => (vs.length === 1 ? g.identity(vs[0]) : g.concat(vs, axis));
  g.output(joined(logits, 1), rpnTopKOutputs.logits, 'float32', [1, 'T']);
  g.output(joined(indices, 1), rpnTopKOutputs.indices, 'int64', [1, 'T']);
  g.output(joined(picked, 1), rpnTopKOutputs.deltas, 'float32', [1, 'T', 4]);
  return g.toModel();
}
