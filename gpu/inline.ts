/**
 * Replacing one node of an ONNX model by a subgraph: how the GPU operators take the place of the
 * RoiAlign nodes inside a package's head networks without rebuilding the heads.
 */
import type { OnnxModel, OnnxNode, OnnxTensor } from '../onnx/index.js';

/**
 * `model` with `model.graph.nodes[index]` replaced by the nodes of `sub`: `sub`'s inputs are bound,
 * in order, to the node's inputs and its outputs to the node's outputs; every other value and
 * initializer of `sub` is renamed with `prefix` so nothing clashes with the model's names.
 * @param sub a graph whose inputs and outputs correspond one to one to the node's
 */
export function inlineSubgraph(model: OnnxModel, index: number, sub: OnnxModel, prefix: string): OnnxModel {
  const node = model.graph.nodes[index];
  const { graph } = sub;
  if (graph.inputs.length > node.inputs.length || graph.outputs.length !== node.outputs.length) {
    throw new Error(`cannot replace node '${node.name}' (${node.inputs.length} inputs, ${node.outputs.length} outputs) by graph '${graph.name}' (${graph.inputs.length} inputs, ${graph.outputs.length} outputs)`);
  }
  const names = new Map<string, string>();
  graph.inputs.forEach((v, i) => names.set(v.name, node.inputs[i]));
  graph.outputs.forEach((v, i) => names.set(v.name, node.outputs[i]));
  const rename = (name: string) => (name === '' ? '' : names.get(name) ?? `${prefix}${name}`);
  const nodes: OnnxNode[] = graph.nodes.map((n) => ({
    ...n, name: `${prefix}${n.name}`, inputs: n.inputs.map(rename), outputs: n.outputs.map(rename),
  }));
  const initializers: OnnxTensor[] = graph.initializers.map((t) => ({ ...t, name: rename(t.name) }));
  const taken = new Set([...model.graph.nodes.flatMap((n) => n.outputs), ...model.graph.initializers.map((t) => t.name)]);
  for (const n of nodes) for (const o of n.outputs) if (!node.outputs.includes(o) && taken.has(o)) throw new Error(`inlined value '${o}' clashes with the model's`);
  return {
    ...model,
    graph: {
      ...model.graph,
      nodes: [...model.graph.nodes.slice(0, index), ...nodes, ...model.graph.nodes.slice(index + 1)],
      initializers: [...model.graph.initializers, ...initializers],
    },
  };
}
