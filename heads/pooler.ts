/**
 * MultiScaleRoIAlign inside a head's ONNX graph: the level of each RoI is assigned in TypeScript
 * (torchvision's LevelMapper, `assignLevels`), the pooling runs as ONNX RoiAlign nodes, one per
 * level, on the provider's threads, and a Gather puts the pooled RoIs back in their order. This
 * is the path the CPU and CUDA providers take; `multiScaleRoiAlign` in postprocess/ is the
 * TypeScript reference it is held equal to.
 *
 * K: RoIs, Kl: RoIs of level l, C: channels, P: pooled size.
 */
import { type GraphBuilder, type OnnxModel, type OnnxNode, type Value, attr } from '../onnx/index.js';
import { assignLevels } from '../postprocess/typed.js';

/** The pooled levels (torchvision's featmap_names with their strides) and the output size. */
export interface PoolerSpec {
  levels: ReadonlyArray<{ name: string; stride: number }>;
  channels: number;
  outputSize: number;
  samplingRatio: number;
}

/** Graph input names of the pooler. */
export const poolerInputs = {
  rois: (level: string) => `rois_${level}`,
  batchIndices: (level: string) => `batchIndices_${level}`,
  order: 'order',
};

/**
 * Adds the pooler's inputs (each level's features, named as the level; `rois_<level>` [Kl, 4];
 * `batchIndices_<level>` int64 [Kl]; `order` int64 [K]) and nodes.
 * @returns pooled [K, C, P, P] in the order of the RoIs before they were split by level
 */
export function addMultiScaleRoiAlign(g: GraphBuilder, spec: PoolerSpec): Value {
  const pooled = spec.levels.map((level) => {
    const features = g.input(level.name, 'float32', ['N', spec.channels, `H${level.name}`, `W${level.name}`]);
    const rois = g.input(poolerInputs.rois(level.name), 'float32', [`K${level.name}`, 4]);
    const batch = g.input(poolerInputs.batchIndices(level.name), 'int64', [`K${level.name}`]);
    // 'output_half_pixel' is RoiAlign-16's name for torchvision's aligned=False.
    return g.node('RoiAlign', [features, rois, batch], {
      coordinate_transformation_mode: attr.string('output_half_pixel'),
      mode: attr.string('avg'),
      output_height: attr.int(spec.outputSize),
      output_width: attr.int(spec.outputSize),
      sampling_ratio: attr.int(spec.samplingRatio),
      spatial_scale: attr.float(1 / level.stride),
    })[0];
  });
  const all = pooled.length === 1 ? pooled[0] : g.concat(pooled, 0);
  const order = g.input(poolerInputs.order, 'int64', ['K']);
  return g.node('Gather', [all, order], { axis: attr.int(0) })[0];
}

/** The pooler's feeds for one image's boxes, as typed arrays (the caller wraps them as tensors). */
export interface PoolerFeeds {
  rois: Float32Array[];
  batchIndices: BigInt64Array[];
  order: BigInt64Array;
}

/**
 * Splits boxes by pyramid level as torchvision's LevelMapper assigns them, and gives the
 * permutation that restores their order after the per-level pooled outputs are concatenated.
 * @param boxes [K, 4] x1,y1,x2,y2 of one image
 * @param strides the pooled levels' strides, powers of two, each equal to the previous or double it
 */
export function splitByLevel(boxes: Float32Array, strides: readonly number[], canonicalScale: number, canonicalLevel: number, eps: number): PoolerFeeds {
  // torchvision's _setup_scales: k_min and k_max from the first and last pooled levels' scales, and
  // a box of level k goes to the (k - k_min)-th pooled level. With a repeated stride (MobileNetV3-FPN
  // pools '0' and '1', both stride 32: k_min = k_max = 5) the later levels receive no RoIs.
  const kMin = Math.log2(strides[0]);
  const levelOf = assignLevels(boxes, { kMin, kMax: Math.log2(strides[strides.length - 1]), canonicalScale, canonicalLevel, eps });
  const count = new Int32Array(strides.length);
  // A box whose area is negative or NaN has no level in torchvision; such boxes never reach the
  // poolers (the RPN and box head drop them), and the first level takes them if they do.
  for (let i = 0; i < levelOf.length; i++) count[Math.max(levelOf[i], 0)]++;
  const offsets = new Int32Array(strides.length);
  for (let l = 1; l < strides.length; l++) offsets[l] = offsets[l - 1] + count[l - 1];
  const rois = Array.from(count, (n) => new Float32Array(n * 4));
  const filled = new Int32Array(strides.length);
  const order = new BigInt64Array(levelOf.length);
  for (let i = 0; i < levelOf.length; i++) {
    const l = Math.max(levelOf[i], 0);
    rois[l].set(boxes.subarray(4 * i, 4 * i + 4), 4 * filled[l]);
    order[i] = BigInt(offsets[l] + filled[l]++);
  }
  return { rois, batchIndices: Array.from(count, (n) => new BigInt64Array(n)), order };
}

/** What a head's in-graph pooler must compute for {@link withoutPooler} to take it out. */
export interface ExpectedPooler {
  levels: ReadonlyArray<{ name: string; stride: number }>;
  outputSize: number;
  samplingRatio: number;
}

/**
 * The head with its pooler taken out: the nodes {@link addMultiScaleRoiAlign} wrote (one RoiAlign
 * per level, their Concat, the Gather by `order`) give way to an input `pooled` [K, C, P, P], for
 * a pooler outside the graph (the WebAssembly one on the CPU). Only a pooler computing exactly
 * `expected` (torchvision's aligned=False average, these levels, strides, size and sampling
 * ratio) is taken out.
 * @returns undefined when the graph pools otherwise or not at all: it is then run as it is
 */
export function withoutPooler(model: OnnxModel, expected: ExpectedPooler): OnnxModel | undefined {
  const { graph } = model;
  const gather = graph.nodes.find((n) => n.opType === 'Gather' && n.inputs[1] === poolerInputs.order);
  if (!gather || !(graph.inputs.some((i) => i.name === poolerInputs.order))) return undefined;
  const producer = (value: string) => graph.nodes.find((n) => n.outputs.includes(value));
  const top = producer(gather.inputs[0]);
  const aligns = top?.opType === 'Concat' ? top.inputs.map(producer) : [top];
  if (aligns.length !== expected.levels.length) return undefined;
  const ok = aligns.every((node, i) => node !== undefined && poolsLevel(node, expected, i));
  if (!ok || (top!.opType === 'Concat' && (top!.attributes.axis?.value ?? 0) !== 0) || (gather.attributes.axis?.value ?? 0) !== 0) return undefined;
  const removed = new Set<OnnxNode>([gather, top!, ...(aligns as OnnxNode[])]);
  const removedInputs = new Set([poolerInputs.order, ...(aligns as OnnxNode[]).flatMap((n) => n.inputs)]);
  const kept = graph.nodes.filter((n) => !removed.has(n));
  const internal = [...removed].flatMap((n) => n.outputs).filter((v) => v !== gather.outputs[0]);
  // Nothing else may read what goes: the level features, RoIs and order, or the per-level results.
  if (kept.some((n) => n.inputs.some((v) => removedInputs.has(v) || internal.includes(v)))) return undefined;
  if (graph.outputs.some((o) => removedInputs.has(o.name) || internal.includes(o.name) || o.name === gather.outputs[0])) return undefined;
  if (graph.nodes.some((n) => n.outputs.includes('pooled')) || graph.inputs.some((i) => i.name === 'pooled')) return undefined;
  const level0 = graph.inputs.find((i) => i.name === expected.levels[0].name);
  const channels = level0?.shape?.[1];
  if (typeof channels !== 'number') return undefined;
  const pooled = gather.outputs[0];
  const nodes = kept.map((n) => (n.inputs.includes(pooled) ? { ...n, inputs: n.inputs.map((v) => (v === pooled ? 'pooled' : v)) } : n));
  const inputs = [
    { name: 'pooled', dtype: 'float32' as const, shape: ['K', channels, expected.outputSize, expected.outputSize] },
    ...graph.inputs.filter((i) => !removedInputs.has(i.name)),
  ];
  return { ...model, graph: { ...graph, nodes, inputs } };
}

/** Whether `node` is the RoiAlign of level i as addMultiScaleRoiAlign writes it (ONNX defaults applied). */
function poolsLevel(node: OnnxNode, expected: ExpectedPooler, i: number): boolean {
  const level = expected.levels[i];
  const a = node.attributes;
  const get = <T>(key: string, fallback: T) => (a[key]?.value ?? fallback) as T;
  return node.opType === 'RoiAlign' && (node.domain ?? '') === ''
    && node.inputs[0] === level.name && node.inputs[1] === poolerInputs.rois(level.name) && node.inputs[2] === poolerInputs.batchIndices(level.name)
    && get<string>('mode', 'avg') === 'avg' && get<string>('coordinate_transformation_mode', 'half_pixel') === 'output_half_pixel'
    && get('output_height', 1) === expected.outputSize && get('output_width', 1) === expected.outputSize
    && get('sampling_ratio', 0) === expected.samplingRatio && get('spatial_scale', 1) === Math.fround(1 / level.stride);
}

/** The input of a head that takes its pooled RoIs channels-last, [K, P, P, C] (see {@link channelsLastPooled}). */
export const POOLED_CHANNELS_LAST = 'pooledChannelsLast';

/**
 * A head taking `pooled` [K, C, P, P] (from {@link withoutPooler}) rewritten to take
 * `pooledChannelsLast` [K, P, P, C], the layout the SIMD pooler computes, when its first layer
 * is fully connected (TwoMLPHead's Flatten -> fc6): fc6's weight columns are permuted from
 * c * P * P + bin to bin * C + c, through the Cast (fp16 packages) or per-row DequantizeLinear
 * (int8) in front of it, and a per-tensor QuantizeLinear/DequantizeLinear pair on the flattened
 * RoIs is kept (it is element-wise). This saves transposing every pooled RoI back to planes.
 * @returns undefined for any other head (convolutions first: the mask head, v2 box heads)
 */
export function channelsLastPooled(model: OnnxModel): OnnxModel | undefined {
  const { graph } = model;
  const input = graph.inputs.find((i) => i.name === 'pooled');
  const [, c, p] = input?.shape ?? [];
  if (typeof c !== 'number' || typeof p !== 'number') return undefined;
  const users = (value: string) => graph.nodes.filter((n) => n.inputs.includes(value));
  const only = (value: string) => {
    const u = users(value);
    return u.length === 1 && !graph.outputs.some((o) => o.name === value) ? u[0] : undefined;
  };
  const flatten = only('pooled');
  if (flatten?.opType !== 'Flatten' || (flatten.attributes.axis?.value ?? 1) !== 1) return undefined;
  // Flatten -> [QuantizeLinear -> DequantizeLinear, per tensor] -> Gemm
  let next = only(flatten.outputs[0]);
  if (next?.opType === 'QuantizeLinear') {
    const dq = only(next.outputs[0]);
    if (!perTensor(model, next) || dq?.opType !== 'DequantizeLinear' || !perTensor(model, dq)) return undefined;
    next = only(dq.outputs[0]);
  }
  const gemm = next;
  if (gemm?.opType !== 'Gemm' || (gemm.attributes.transA?.value ?? 0) !== 0 || gemm.inputs[0] === gemm.inputs[1]) return undefined;
  const transB = (gemm.attributes.transB?.value ?? 0) === 1;
  // the weight: an initializer, or one behind a Cast or a DequantizeLinear along its rows
  let weightName = gemm.inputs[1];
  const front = graph.nodes.find((n) => n.outputs.includes(weightName));
  if (front) {
    const rowAxis = transB ? 0 : 1;
    const dqRows = front.opType === 'DequantizeLinear' && (perTensor(model, front) || (front.attributes.axis?.value ?? 1) === rowAxis);
    if ((front.opType !== 'Cast' && !dqRows) || only(front.outputs[0]) !== gemm) return undefined;
    weightName = front.inputs[0];
    if (users(weightName).length !== 1) return undefined;
  }
  const weight = graph.initializers.find((t) => t.name === weightName);
  if (!weight || weight.dims.length !== 2 || !ArrayBuffer.isView(weight.data) || weight.data instanceof DataView) return undefined;
  const [rows, cols] = transB ? weight.dims : [weight.dims[1], weight.dims[0]];
  if (cols !== c * p * p) return undefined;
  const bins = p * p;
  const from = weight.data;
  const to = new (from.constructor as new (n: number) => typeof from)(from.length);
  // (c * bins + b) -> (b * C + ch), along the weight's input dimension
  for (let o = 0; o < rows; o++) {
    for (let ch = 0; ch < c; ch++) {
      for (let b = 0; b < bins; b++) {
        const src = ch * bins + b, dst = b * c + ch;
        if (transB) to[o * cols + dst] = from[o * cols + src];
        else to[dst * rows + o] = from[src * rows + o];
      }
    }
  }
  const nodes = graph.nodes.map((n) => (n === flatten ? { ...n, inputs: [POOLED_CHANNELS_LAST] } : n));
  const initializers = graph.initializers.map((t) => (t === weight ? { ...t, data: to } : t));
  const inputs = graph.inputs.map((i) => (i === input ? { ...i, name: POOLED_CHANNELS_LAST, shape: ['K', p, p, c] } : i));
  return { ...model, graph: { ...graph, nodes, initializers, inputs } };
}

/** Whether a (De)QuantizeLinear node has one scale (and zero point) for the whole tensor. */
function perTensor(model: OnnxModel, node: OnnxNode): boolean {
  const scale = model.graph.initializers.find((t) => t.name === node.inputs[1]);
  return scale !== undefined && scale.dims.reduce((a, b) => a * b, 1) === 1;
}
