/**
 * The int8 variant of a network as QDQ (QuantizeLinear -> DequantizeLinear pairs around float
 * ops), the form onnxruntime's CPU provider fuses into integer kernels (QLinearConv, QGemm,
 * QLinearAdd) when the session is created:
 * - weights of Conv and Gemm: int8, symmetric, one scale per output channel (zero point 0);
 * - biases: int32 at scale x_scale * w_scale[c], as onnxruntime's fusion requires;
 * - activations: uint8 with a zero point, from ranges calibrated on images (`./calibrate.ts`),
 *   on every Conv/Gemm input and output. An output followed by its only consumer, a Relu, is
 *   quantized after the Relu, whose range starts at 0 (zero point 0), so onnxruntime drops the
 *   Relu into the quantized kernel.
 * A node named in `keepFloat` (by its weight's name) is left in float entirely.
 */
import type { OnnxModel, OnnxNode, OnnxTensor } from '../../onnx/index.js';
import { consumers, initializerMap, nameSource } from './graph.js';

/** A calibrated activation range (always widened to hold 0, so that zero padding is exact). */
export interface ActivationRange { min: number; max: number }

export interface Int8Options {
  /** Weight initializer names of layers to leave in float (e.g. the last predictor layers). */
  keepFloat?: ReadonlySet<string>;
}

/** The layers the int8 rewrite quantizes, with the activation values it needs ranges for. */
export interface QdqPlan {
  /** Conv / Gemm nodes to quantize. */
  nodes: OnnxNode[];
  /** Activations to quantize: every input and (post-Relu) output of those nodes. */
  activations: string[];
}

function isQuantizable(n: OnnxNode, inits: Map<string, OnnxTensor>, keep: ReadonlySet<string>): boolean {
  if (n.opType !== 'Conv' && n.opType !== 'Gemm') return false;
  const w = inits.get(n.inputs[1]);
  if (!w || w.dtype !== 'float32' || !ArrayBuffer.isView(w.data)) return false;
  if (keep.has(n.inputs[1])) return false;
  if (n.opType === 'Gemm') {
    // QGemm: alpha 1, A not transposed, B a 2-D weight
    const a = n.attributes;
    if ((a.transA?.value ?? 0) !== 0 || (a.alpha?.value ?? 1) !== 1 || (a.beta?.value ?? 1) !== 1 || w.dims.length !== 2) return false;
  }
  const b = n.inputs[2] ? inits.get(n.inputs[2]) : undefined;
  if (n.inputs[2] && (!b || !ArrayBuffer.isView(b.data))) return false;
  return true;
}

/** Which nodes get quantized and which activations need calibrated ranges. */
export function planQdq(model: OnnxModel, options: Int8Options = {}): QdqPlan {
  const inits = initializerMap(model);
  const keep = options.keepFloat ?? new Set<string>();
  const users = consumers(model.graph.nodes);
  const nodes = model.graph.nodes.filter((n) => isQuantizable(n, inits, keep));
  const activations = new Set<string>();
  for (const n of nodes) {
    activations.add(n.inputs[0]);
    activations.add(quantizedOutput(n, users));
  }
  return { nodes, activations: [...activations] };
}

/** The value after `n`'s output where it is quantized: past a Relu that is its only consumer. */
function quantizedOutput(n: OnnxNode, users: Map<string, OnnxNode[]>): string {
  const next = users.get(n.outputs[0]) ?? [];
  return next.length === 1 && next[0].opType === 'Relu' ? next[0].outputs[0] : n.outputs[0];
}

/** uint8 affine quantization of a range that holds 0. */
export function activationParams(range: ActivationRange): { scale: number; zeroPoint: number } {
  const min = Math.min(0, range.min);
  const max = Math.max(0, range.max);
  const scale = max > min ? (max - min) / 255 : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-min / scale)));
  return { scale: Math.fround(scale), zeroPoint };
}

/** Symmetric per-channel int8 of a weight along `axis` (0 for Conv [Cout, ...], Gemm transB). */
function quantizeWeight(w: Float32Array, dims: readonly number[], axis: number): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = w.length / (channels * inner);
  const scales = new Float32Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      let m = scales[c];
      for (let i = 0; i < inner; i++) m = Math.max(m, Math.abs(w[base + i]));
      scales[c] = m;
    }
  }
  for (let c = 0; c < channels; c++) scales[c] = scales[c] > 0 ? scales[c] / 127 : 1;
  const q = new Int8Array(w.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const s = scales[c];
      for (let i = 0; i < inner; i++) q[base + i] = Math.max(-127, Math.min(127, Math.round(w[base + i] / s)));
    }
  }
  return { q, scales };
}

/**
 * The int8 QDQ variant of `model`, given the range of every activation `planQdq` names.
 * @throws Error naming an activation without a range (calibration never reached it)
 */
export function toInt8Model(model: OnnxModel, ranges: ReadonlyMap<string, ActivationRange>, options: Int8Options = {}): OnnxModel {
  const plan = planQdq(model, options);
  const inits = initializerMap(model);
  const fresh = nameSource(model);
  const graphInputs = new Set(model.graph.inputs.map((v) => v.name));
  const added: OnnxTensor[] = [];
  const nodesBefore = new Map<OnnxNode, OnnxNode[]>(); // nodes to insert before a node of the graph
  const prefix: OnnxNode[] = []; // QDQ of graph inputs and weights, first
  const renamedOutputs = new Map<string, string>(); // activation -> the float name its producer now writes
  const inputQdq = new Map<string, string>(); // graph input -> its dequantized name
  const params = new Map<string, { scale: number; zeroPoint: number }>();
  const after = new Map<string, OnnxNode[]>(); // activation -> Q, DQ nodes placed after its producer

  const scalar = (base: string, suffix: string, dtype: 'float32' | 'uint8', value: number): string => {
    const name = fresh(base, suffix);
    added.push({ name, dtype, dims: [], data: dtype === 'float32' ? Float32Array.of(value) : Uint8Array.of(value) });
    return name;
  };

  for (const a of plan.activations) {
    const range = ranges.get(a);
    if (!range) throw new Error(`no calibrated range for activation '${a}' (the calibration images never reached it)`);
    const p = activationParams(range);
    params.set(a, p);
    const scale = scalar(a, 'scale', 'float32', p.scale);
    const zp = scalar(a, 'zero_point', 'uint8', p.zeroPoint);
    const quantized = fresh(a, 'quantized');
    if (graphInputs.has(a)) {
      const dq = fresh(a, 'dequantized');
      inputQdq.set(a, dq);
      prefix.push(
        { opType: 'QuantizeLinear', name: fresh(a, 'QuantizeLinear'), inputs: [a, scale, zp], outputs: [quantized], attributes: {} },
        { opType: 'DequantizeLinear', name: fresh(a, 'DequantizeLinear'), inputs: [quantized, scale, zp], outputs: [dq], attributes: {} },
      );
    } else {
      const float = fresh(a, 'float');
      renamedOutputs.set(a, float);
      after.set(a, [
        { opType: 'QuantizeLinear', name: fresh(a, 'QuantizeLinear'), inputs: [float, scale, zp], outputs: [quantized], attributes: {} },
        { opType: 'DequantizeLinear', name: fresh(a, 'DequantizeLinear'), inputs: [quantized, scale, zp], outputs: [a], attributes: {} },
      ]);
    }
  }

  const weightDq = new Map<string, string>();
  const replaced = new Map<string, OnnxTensor>(); // float initializers replaced, under the same name, by their int8 / int32 forms
  const rewritten = new Map<OnnxNode, OnnxNode>();
  for (const n of plan.nodes) {
    const wName = n.inputs[1];
    const w = inits.get(wName)!;
    const axis = n.opType === 'Gemm' && (n.attributes.transB?.value ?? 0) === 0 ? 1 : 0;
    const { q, scales } = quantizeWeight(w.data as Float32Array, w.dims, axis);
    let wDq = weightDq.get(wName);
    if (wDq === undefined) {
      // The int8 tensor keeps the weight's name (what networks.ts reads class counts from).
      const qName = wName;
      const sName = fresh(wName, 'scale');
      const zName = fresh(wName, 'zero_point');
      replaced.set(wName, { name: qName, dtype: 'int8', dims: w.dims, data: q });
      added.push(
        { name: sName, dtype: 'float32', dims: [scales.length], data: scales },
        { name: zName, dtype: 'int8', dims: [scales.length], data: new Int8Array(scales.length) },
      );
      wDq = fresh(wName, 'dequantized');
      prefix.push({ opType: 'DequantizeLinear', name: fresh(wName, 'DequantizeLinear'), inputs: [qName, sName, zName], outputs: [wDq], attributes: { axis: { type: 'int', value: axis } } });
      weightDq.set(wName, wDq);
    }
    const inputs = [...n.inputs];
    inputs[1] = wDq;
    if (n.inputs[2]) {
      const b = inits.get(n.inputs[2])!;
      const xScale = params.get(n.inputs[0])!.scale;
      const bScales = Float32Array.from(scales, (s) => Math.fround(xScale * s));
      const bq = Int32Array.from(b.data as Float32Array, (v, c) => Math.round(v / bScales[c]));
      const shared = replaced.has(n.inputs[2]); // a bias shared by several nodes (e.g. per level) gets one copy per scale
      const qName = shared ? fresh(n.inputs[2], 'int32') : n.inputs[2];
      const sName = fresh(n.inputs[2], 'scale');
      const zName = fresh(n.inputs[2], 'zero_point');
      const bTensor: OnnxTensor = { name: qName, dtype: 'int32', dims: b.dims, data: bq };
      if (shared) added.push(bTensor); else replaced.set(qName, bTensor);
      added.push(
        { name: sName, dtype: 'float32', dims: [bScales.length], data: bScales },
        { name: zName, dtype: 'int32', dims: [bScales.length], data: new Int32Array(bScales.length) },
      );
      const bDq = fresh(n.inputs[2], 'dequantized');
      nodesBefore.set(n, [{ opType: 'DequantizeLinear', name: fresh(n.inputs[2], 'DequantizeLinear'), inputs: [qName, sName, zName], outputs: [bDq], attributes: { axis: { type: 'int', value: 0 } } }]);
      inputs[2] = bDq;
    }
    rewritten.set(n, { ...n, inputs });
  }

  const nodes: OnnxNode[] = [...prefix];
  for (const original of model.graph.nodes) {
    const n = rewritten.get(original) ?? original;
    nodes.push(...(nodesBefore.get(original) ?? []));
    const inputs = n.inputs.map((i) => inputQdq.get(i) ?? i);
    const outputs = n.outputs.map((o) => renamedOutputs.get(o) ?? o);
    nodes.push({ ...n, inputs, outputs });
    for (const o of n.outputs) nodes.push(...(after.get(o) ?? []));
  }
  const initializers = [...model.graph.initializers.map((t) => replaced.get(t.name) ?? t), ...added];
  return {
    ...model,
    opset: Math.max(model.opset, 13), // per-axis QuantizeLinear / DequantizeLinear
    graph: { ...model.graph, nodes, initializers },
    metadata: { ...(model.metadata ?? {}), 'resdet.precision': 'int8' },
  };
}
