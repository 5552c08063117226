/**
 * What the precision rewrites share: which initializers are a layer's weights, and a name source
 * that cannot collide with the graph's own names.
 */
import type { OnnxModel, OnnxNode, OnnxTensor } from '../../onnx/index.js';

/** Ops whose inputs 1 (weight) and 2 (bias) are the layer's parameters. */
export const WEIGHTED_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** Initializers by name. */
export function initializerMap(model: OnnxModel): Map<string, OnnxTensor> {
  return new Map(model.graph.initializers.map((t) => [t.name, t]));
}

/** Nodes consuming each value, by value name. */
export function consumers(nodes: readonly OnnxNode[]): Map<string, OnnxNode[]> {
  const map = new Map<string, OnnxNode[]>();
  for (const n of nodes) for (const i of n.inputs) if (i) (map.get(i) ?? map.set(i, []).get(i)!).push(n);
  return map;
}

/** Fresh value names `<base>_<suffix>`, numbered past any the graph already uses. */
export function nameSource(model: OnnxModel): (base: string, suffix: string) => string {
  const used = new Set<string>();
  for (const t of model.graph.initializers) used.add(t.name);
  for (const v of model.graph.inputs) used.add(v.name);
  for (const n of model.graph.nodes) for (const o of n.outputs) used.add(o);
  return (base, suffix) => {
    let name = `${base}_${suffix}`;
    for (let k = 1; used.has(name); k++) name = `${base}_${suffix}${k}`;
    used.add(name);
    return name;
  };
}
