/**
 * The fp16 variant of a network: every layer weight and bias (the float32 initializers feeding
 * Conv, ConvTranspose, Gemm, MatMul) stored as float16, half the bytes, each followed by a Cast
 * back to float32. Everything else stays float32 (shape constants, anchors, graph inputs and
 * outputs), so the network keeps its interface. On the CPU, onnxruntime's constant folding runs
 * the Casts once when the session is created: the network computes in float32 on weights rounded
 * to float16, at fp32's speed.
 */
import { type OnnxModel, type OnnxNode, type OnnxTensor, toFloat16 } from '../../onnx/index.js';
import { WEIGHTED_OPS, nameSource } from './graph.js';

/** The fp16 variant of `model` (the input is not modified). */
export function toFp16Model(model: OnnxModel): OnnxModel {
  const params = new Set<string>();
  for (const n of model.graph.nodes) {
    if (!WEIGHTED_OPS.has(n.opType)) continue;
    for (const i of n.inputs.slice(1, 3)) if (i) params.add(i);
  }
  const fresh = nameSource(model);
  const casts: OnnxNode[] = [];
  const castOf = new Map<string, string>();
  // The stored tensor keeps the weight's name (what networks.ts reads class counts from); its
  // float32 Cast gets a fresh one, and the layers read that.
  const initializers: OnnxTensor[] = model.graph.initializers.map((t) => {
    if (!params.has(t.name) || t.dtype !== 'float32') return t;
    const values = ArrayBuffer.isView(t.data) ? t.data as Float32Array : computed(t);
    const float = fresh(t.name, 'float32');
    castOf.set(t.name, float);
    casts.push({ opType: 'Cast', name: fresh(t.name, 'Cast'), inputs: [t.name], outputs: [float], attributes: { to: { type: 'int', value: 1 } } });
    return { name: t.name, dtype: 'float16', dims: t.dims, data: toFloat16(values) };
  });
  const nodes = model.graph.nodes.map((n) => WEIGHTED_OPS.has(n.opType) ? { ...n, inputs: n.inputs.map((i) => castOf.get(i) ?? i) } : n);
  return {
    ...model,
    graph: { ...model.graph, nodes: [...casts, ...nodes], initializers },
    metadata: { ...(model.metadata ?? {}), 'resdet.precision': 'fp16' },
  };
}

/** A computed initializer's values, materialised (one layer at a time). */
function computed(t: OnnxTensor): Float32Array {
  const source = t.data as { length: number; fill(chunk: Float32Array, start: number): void };
  const out = new Float32Array(source.length);
  source.fill(out, 0);
  return out;
}
