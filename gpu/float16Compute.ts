/**
 * A network's float arithmetic in float16, for GPUs whose WebGPU adapter has `shader-f16`: the
 * session's interface stays float32 (Casts at the graph's float inputs and outputs), so the
 * detector, the other graphs and the GPU-resident tensors between them are unchanged.
 *
 * Which nodes compute in float16 ("half" nodes):
 * - every layer (Conv, ConvTranspose, Gemm, MatMul), and every float node that reads a value a
 *   half node computed: float16 runs from the first layer to the outputs;
 * - never the ops of `keepFloat32` (default `KEEP_FLOAT32`), nor the predictors (see
 *   `float32Predictors`): they read float32, through a Cast where their input was computed in float16;
 * - what comes before the first layer stays float32: the heads' pooling (box coordinates, up to
 *   thousands of pixels, have 0.5 px steps in float16 at 1024, too coarse for sampling points; the
 *   GridSample reads the float32 levels with no Cast at all).
 * Weights: a float32 initializer a half node reads becomes float16; a float16 weight behind a
 * `Cast(to=float)` (the fp16 package's layout, src/quantize/fp16.ts) is read directly.
 * Inputs that ONNX types as float32 whatever the data's type (Resize's scales) are left alone.
 */
import { ELEM_TYPE, type ElemType, type OnnxModel, type OnnxNode, type OnnxTensor, toFloat16 } from '../onnx/index.js';

/** Ops whose inputs 1 (weight) and 2 (bias) are a layer's parameters: where float16 starts. */
const LAYER_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/**
 * Ops kept in float32: RoI pooling and sampling (their coordinates need float32: see the module
 * comment), ranking and suppression (TopK on float16 logits would reorder near-ties). Every other
 * op of resdet's networks has a float16 WebGPU kernel in onnxruntime (test/gpu/float16Webgpu.test.ts
 * checks their placement).
 */
export const KEEP_FLOAT32: ReadonlySet<string> = new Set(['RoiAlign', 'GridSample', 'TopK', 'NonMaxSuppression']);

/** Inputs typed float32 by the ONNX spec whatever the data's type: op -> input indices. */
const FLOAT32_INPUTS: Readonly<Record<string, readonly number[]>> = { Resize: [2], Upsample: [1] };

/** Ops that read any element type and produce none of it (their outputs are not float). */
const TYPE_AGNOSTIC = new Set(['Shape', 'Size']);

const COMPARISONS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INDEX_OUTPUTS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);
const TYPE_BY_CODE = new Map<number, ElemType>(Object.entries(ELEM_TYPE).map(([k, v]) => [v, k as ElemType]));

export interface Float16ComputeOptions {
  /** Op types left in float32 (default KEEP_FLOAT32). */
  keepFloat32?: ReadonlySet<string>;
  /**
   * Whether the predictors (the layers an output is computed from through no other layer: a
   * head's logits, box deltas, mask logits) compute in float32 (default true). They are small
   * (1x1 convolutions, a few output channels) and they rank: the RPN's logits reach ~65, where
   * float16's step is 0.03, enough to swap near-tied proposals (on the bundled model, a box kept
   * for another proposal, IoU 0.92 and mask IoU 0.75 against fp32; with float32 predictors every
   * box IoU >= 0.999). A backbone's outputs are features, not predictions: pass false.
   */
  float32Predictors?: boolean;
}

/** What `toFloat16Compute` did, for tests and logs. */
export interface Float16ComputeReport {
  halfNodes: number;
  float32Nodes: number;
  /** Casts added (float32 -> float16 and back). */
  casts: number;
}

/** Element types of every value, by ONNX's type rules for the ops our graphs use. */
export function valueTypes(model: OnnxModel): Map<string, ElemType> {
  const types = new Map<string, ElemType>();
  for (const t of model.graph.initializers) types.set(t.name, t.dtype as ElemType);
  for (const v of model.graph.inputs) types.set(v.name, v.dtype);
  for (const n of model.graph.nodes) {
    const first = types.get(n.inputs[0] ?? '');
    n.outputs.forEach((o, i) => {
      const t = outputType(n, i, first, types);
      if (t) types.set(o, t);
    });
  }
  return types;
}

function outputType(n: OnnxNode, index: number, first: ElemType | undefined, types: ReadonlyMap<string, ElemType>): ElemType | undefined {
  const a = n.attributes;
  if (n.opType === 'Cast') return a.to?.type === 'int' ? TYPE_BY_CODE.get(a.to.value) : undefined;
  if (n.opType === 'Constant') return a.value?.type === 'tensor' ? a.value.value.dtype as ElemType : a.value_float || a.value_floats ? 'float32' : 'int64';
  if (n.opType === 'ConstantOfShape') return a.value?.type === 'tensor' ? a.value.value.dtype as ElemType : 'float32';
  if (INDEX_OUTPUTS.has(n.opType)) return 'int64';
  if (COMPARISONS.has(n.opType)) return 'bool';
  if ((n.opType === 'TopK' || n.opType === 'MaxPool') && index === 1) return 'int64';
  if (n.opType === 'Where') return types.get(n.inputs[1]);
  return first;
}

/**
 * Which nodes compute in float16, and the float32-typed values they compute (graph order is
 * topological, so one pass sees every producer before its consumers).
 */
function halfNodes(
  model: OnnxModel, types: ReadonlyMap<string, ElemType>, keep: ReadonlySet<string>, predictors: ReadonlySet<OnnxNode>,
): { half: Set<OnnxNode>; halfValues: Set<string> } {
  const halfValues = new Set<string>();
  const half = new Set<OnnxNode>();
  for (const n of model.graph.nodes) {
    if (keep.has(n.opType) || TYPE_AGNOSTIC.has(n.opType) || predictors.has(n)) continue;
    const floatOut = n.outputs.some((o) => types.get(o) === 'float32');
    // A Cast from a half value to another type (int64, bool) reads the float16 value as it is.
    if (!floatOut && n.opType !== 'Cast') continue;
    if (LAYER_OPS.has(n.opType) || n.inputs.some((i) => halfValues.has(i))) {
      half.add(n);
      for (const o of n.outputs) if (types.get(o) === 'float32') halfValues.add(o);
    }
  }
  return { half, halfValues };
}

/**
 * `model` with its float arithmetic in float16 from the first layer on (see the module comment);
 * the input is not modified.
 */
export function toFloat16Compute(model: OnnxModel, options: Float16ComputeOptions = {}): { model: OnnxModel; report: Float16ComputeReport } {
  const keep = options.keepFloat32 ?? KEEP_FLOAT32;
  const types = valueTypes(model);
  const g = model.graph;
  const predictors = options.float32Predictors === false ? new Set<OnnxNode>() : predictorLayers(model);
  const initializers = new Map(g.initializers.map((t) => [t.name, t]));
  const producer = new Map<string, OnnxNode>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  const fresh = nameSource(model);

  const { half, halfValues } = halfNodes(model, types, keep, predictors);

  // Rewire: half nodes read float16, float32 nodes and graph outputs read float32.
  const nodes: OnnxNode[] = [];
  const newInitializers: OnnxTensor[] = [];
  const to16 = new Map<string, string>();
  const to32 = new Map<string, string>();
  let casts = 0;
  const cast = (input: string, output: string, to: 'float16' | 'float32') => {
    casts++;
    nodes.push({ opType: 'Cast', name: fresh(output, 'Cast'), inputs: [input], outputs: [output], attributes: { to: { type: 'int', value: ELEM_TYPE[to] } } });
  };
  // A half value's float16 name: its own, unless it is a graph output (then the output is its float32 Cast).
  const halfName = (v: string) => (graphOutputs.has(v) ? (to16.get(v) ?? to16.set(v, fresh(v, 'fp16')).get(v)!) : v);
  /** The float16 version of a float32 value `v` for a half node. */
  const as16 = (v: string): string => {
    if (halfValues.has(v)) return halfName(v);
    const known = to16.get(v);
    if (known) return known;
    const source = producer.get(v);
    // The fp16 package's weights: Cast(to=float) of a float16 initializer, read as they are stored.
    if (source?.opType === 'Cast' && !half.has(source) && types.get(source.inputs[0]) === 'float16') return source.inputs[0];
    const stored = initializers.get(v);
    const name = fresh(v, 'fp16');
    if (stored && stored.dtype === 'float32') newInitializers.push({ name, dtype: 'float16', dims: stored.dims, data: toFloat16(floatValues(stored)) });
    else cast(v, name, 'float16');
    to16.set(v, name);
    return name;
  };
  /** The float32 version of a half value for a float32 node. */
  const as32 = (v: string): string => {
    if (!halfValues.has(v) || graphOutputs.has(v)) return v;
    let name = to32.get(v);
    if (!name) {
      name = fresh(v, 'fp32');
      cast(v, name, 'float32');
      to32.set(v, name);
    }
    return name;
  };
  for (const n of g.nodes) {
    if (half.has(n)) {
      const spared = FLOAT32_INPUTS[n.opType] ?? [];
      const inputs = n.inputs.map((i, k) => (!i || spared.includes(k) || types.get(i) !== 'float32' ? i : as16(i)));
      const outputs = n.outputs.map((o) => (halfValues.has(o) ? halfName(o) : o));
      const attributes = n.opType === 'Cast' && halfValues.has(n.outputs[0]) ? { ...n.attributes, to: { type: 'int' as const, value: ELEM_TYPE.float16 } } : n.attributes;
      nodes.push({ ...n, inputs, outputs, attributes });
      for (const o of n.outputs) if (halfValues.has(o) && graphOutputs.has(o)) cast(halfName(o), o, 'float32');
    } else {
      nodes.push(TYPE_AGNOSTIC.has(n.opType) ? { ...n, inputs: n.inputs.map((i) => (halfValues.has(i) ? halfName(i) : i)) } : { ...n, inputs: n.inputs.map(as32) });
    }
  }
  const live = liveNodes(nodes, graphOutputs);
  const used = new Set(live.flatMap((n) => n.inputs));
  const keptInitializers = [...g.initializers, ...newInitializers].filter((t) => used.has(t.name));
  return {
    model: {
      ...model,
      graph: { ...g, nodes: live, initializers: keptInitializers },
      metadata: { ...(model.metadata ?? {}), 'resdet.compute': 'fp16' },
    },
    report: { halfNodes: half.size, float32Nodes: g.nodes.length - half.size, casts },
  };
}

/** The layers an output is computed from through no other layer (the predictors). */
export function predictorLayers(model: OnnxModel): Set<OnnxNode> {
  const producer = new Map<string, OnnxNode>();
  for (const n of model.graph.nodes) for (const o of n.outputs) producer.set(o, n);
  const found = new Set<OnnxNode>();
  const seen = new Set<string>();
  const stack = model.graph.outputs.map((o) => o.name);
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const n = producer.get(v);
    if (!n) continue;
    if (LAYER_OPS.has(n.opType)) found.add(n);
    else stack.push(...n.inputs.filter((i) => i));
  }
  return found;
}

/** The nodes some graph output depends on, in their order (the fp16 package's weight Casts a half layer no longer reads are dropped). */
function liveNodes(nodes: readonly OnnxNode[], outputs: ReadonlySet<string>): OnnxNode[] {
  const needed = new Set(outputs);
  const keep: boolean[] = new Array(nodes.length).fill(false);
  for (let k = nodes.length - 1; k >= 0; k--) {
    if (!nodes[k].outputs.some((o) => needed.has(o))) continue;
    keep[k] = true;
    for (const i of nodes[k].inputs) if (i) needed.add(i);
  }
  return nodes.filter((_, k) => keep[k]);
}

/** A float32 initializer's values (a computed one materialised). */
function floatValues(t: OnnxTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  const source = t.data as { length: number; fill(chunk: Float32Array, start: number): void };
  const out = new Float32Array(source.length);
  source.fill(out, 0);
  return out;
}

/** Fresh names `<base>_<suffix>` numbered past the graph's own value and node names. */
function nameSource(model: OnnxModel): (base: string, suffix: string) => string {
  const used = new Set<string>([...model.graph.initializers.map((t) => t.name), ...model.graph.inputs.map((v) => v.name)]);
  for (const n of model.graph.nodes) for (const o of [...n.outputs, n.name]) used.add(o);
  return (base, suffix) => {
    let name = `${base}_${suffix}`;
    for (let k = 1; used.has(name); k++) name = `${base}_${suffix}${k}`;
    used.add(name);
    return name;
  };
}
