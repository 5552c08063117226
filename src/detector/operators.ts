/**
 * The operators between the networks, chosen when the detector is created (as the runtime is):
 * - 'cpu' (the CPU and WASM providers): every network's outputs come back to the CPU and the
 *   TypeScript operators of postprocess/ and heads/ run there (the reference).
 * - 'webgpu': the pyramid stays on the GPU from the backbone to the pooled RoIs. The backbone and
 *   RPN head hand out `gpu-buffer` tensors; the RPN's per-level top-k runs on the GPU
 *   (gpu/rpnTopK.ts) so only the kept logits, indices and deltas come back; the heads' RoiAlign
 *   nodes are re-targeted at GridSample graphs (gpu/headPooling.ts) that read the GPU-resident
 *   levels; the heads' small outputs (class logits, deltas, 28x28 masks) come back. With
 *   compute 'fp16' (an fp16 package on a device with shader-f16, ./precision.ts) the four networks
 *   compute in float16 behind float32 interfaces (gpu/float16Compute.ts).
 * - 'cuda': the heads' RoiAlign-16 nodes become RoiAlign-10, which the CUDA provider implements.
 *
 * R: anchors, T: anchors kept by the top-k, K: RoIs, C: channels, P: pooled size.
 */
import type { FeaturePyramid, PyramidLevel } from '../../backbones/index.js';
import { buildDownload, buildGridMultiScaleRoiAlign, buildRpnTopK, retargetHeadPooling, rpnTopKOutputs, toFloat16Compute } from '../../gpu/index.js';
import { channelsLastPooled, type ExpectedPooler, splitByLevel, withoutPooler } from '../../heads/pooler.js';
import { levelRanges, type PreNmsSelection, selectPreNmsTopN } from '../../heads/rpn.js';
import { anchorsPerLocation, type RpnConfig } from '../../heads/config.js';
import { readModel, serializeModel } from '../../onnx/index.js';
import { type LevelFeatures, PoolerMemoryError, SimdRoiAlign, batchedNms, multiScaleRoiAlign } from '../../postprocess/typed.js';
import { type InferenceSession, type OrtModule, type Provider, ProviderUnavailableError, type Tensor } from '../runtime/index.js';
import type { ComputePrecision } from './precision.js';
import type { DetectorConfig } from '../config.js';
import { type GpuMaskPaster, gpuMaskPaster } from './gpuMasks.js';
import { type BatchedNmsOperator, gpuBatchedNms } from './gpuNms.js';

export type NetworkRole = 'backbone' | 'rpnHead' | 'boxHead' | 'maskHead';

/** Where a session's outputs are left: on the CPU, or as tensors on the provider's GPU. */
export type OutputLocation = 'cpu' | 'gpu-buffer';

/** The RPN head's two outputs, wherever they are. */
export interface RpnHeadTensors {
  /** [1, R] logits */
  objectness: Tensor;
  /** [1, R, 4] deltas */
  deltas: Tensor;
}

/** One pooler's parameters (torchvision's MultiScaleRoIAlign). */
export interface PoolerParams {
  levels: readonly PyramidLevel[];
  /** [K, P, P, C] instead of [K, C, P, P], for a head taking `pooledChannelsLast` (CPU operators only). */
  channelsLast?: boolean;
  outputSize: number;
  samplingRatio: number;
  canonicalScale: number;
  canonicalLevel: number;
  /** The level mapper's epsilon (torchvision: 1e-6). */
  eps: number;
}

export interface StageOperators {
  /** 'cpu' for the TypeScript reference operators, else the GPU provider they serve. */
  readonly kind: 'cpu' | 'webgpu' | 'cuda';
  /** Where the role's session leaves its outputs. */
  outputLocation(role: NetworkRole): OutputLocation;
  /** The network to create for a role: the package's, or re-targeted at the provider. */
  network(role: NetworkRole, bytes: Uint8Array): Uint8Array;
  /** Per level the top preNmsTopN anchors by logit, with their deltas, on the CPU. */
  preNmsTopN(head: RpnHeadTensors, gridSizes: Array<[number, number]>, cfg: RpnConfig): Promise<PreNmsSelection>;
  /**
   * torchvision's `batched_nms` (the RPN's per level, the box head's per class): postprocess's on
   * the CPU, or with the IoU bitmask on the GPU (webgpu with `nms: 'gpu'`); equal results.
   */
  batchedNms: BatchedNmsOperator;
  /** Pooled RoIs [K, C, P, P] for heads that take `pooled` (no RoiAlign in their graph). */
  pool(pyramid: FeaturePyramid<Tensor>, boxes: Float32Array, params: PoolerParams): Promise<Tensor>;
  /** The pyramid with every level on the CPU (`result.pyramid`). */
  download(pyramid: FeaturePyramid<Tensor>): Promise<FeaturePyramid<Tensor>>;
  /**
   * Pastes masks into the image on the GPU and leaves them there (`detect`'s `gpuMasks`); only the
   * 'webgpu' operators have it.
   */
  readonly pasteMasks?: GpuMaskPaster['paste'];
  /** Frees the GPU memory of tensors a forward is done with (CPU tensors: nothing to do). */
  dispose(tensors: Iterable<Tensor>): void;
  /** Frees the operators' own sessions. */
  release(): Promise<void>;
}

const onCpu = (t: Tensor) => t.location === 'cpu' || t.location === 'cpu-pinned';

/** The pyramid's pooled levels as the operators of postprocess/ take them (CPU tensors only). */
function cpuLevels(pyramid: FeaturePyramid<Tensor>, p: PoolerParams): LevelFeatures[] {
  return p.levels.map((l) => {
    const t = pyramid.features.get(l.name)!;
    return { ...l, data: t.data as Float32Array, shape: t.dims as [number, number, number, number] };
  });
}

const poolerOptions = (p: PoolerParams) => ({
  outputSize: [p.outputSize, p.outputSize] as [number, number], samplingRatio: p.samplingRatio, canonicalScale: p.canonicalScale, canonicalLevel: p.canonicalLevel,
});

/** [K, C, bins] -> [K, bins, C]. */
function planesToChannelsLast(planes: Float32Array, k: number, c: number, bins: number): Float32Array {
  const out = new Float32Array(planes.length);
  for (let r = 0; r < k; r++) for (let ch = 0; ch < c; ch++) for (let b = 0; b < bins; b++) out[(r * bins + b) * c + ch] = planes[(r * c + ch) * bins + b];
  return out;
}

/** The poolers that heads without RoiAlign nodes (see {@link cpuOperators}) are fed by. */
export type HeadPoolers = Partial<Record<'boxHead' | 'maskHead', ExpectedPooler>>;

/** The heads' poolers as the config describes them (what GeneralizedRCNN pools with), by role. */
export function headPoolers(levels: readonly PyramidLevel[], config: DetectorConfig): HeadPoolers {
  const pooled = levels.filter((l) => config.levelMapper.featureNames.includes(l.name));
  return {
    boxHead: { levels: pooled, outputSize: config.roiHeads.poolerOutputSize, samplingRatio: config.roiHeads.samplingRatio },
    maskHead: { levels: pooled, outputSize: config.mask.poolerOutputSize, samplingRatio: config.mask.samplingRatio },
  };
}

/**
 * The CPU operators' RoIAlign: the WebAssembly SIMD pooler where the runtime has it, else the
 * TypeScript one. A pyramid's levels are copied into one SIMD pooler at its first pooling and
 * read there by the next (box head, then mask head); the pooler is lent to that pyramid until
 * its tensors are disposed (the end of the forward), so forwards running at once never share one.
 */
function cpuPooling(ort: OrtModule): Pick<StageOperators, 'pool' | 'dispose' | 'release'> {
  const free: SimdRoiAlign[] = [];
  // null: the pyramid is more than a WebAssembly memory holds, the TypeScript pooler takes it.
  const lent = new Map<Tensor, SimdRoiAlign | null>();
  const simd = (pyramid: FeaturePyramid<Tensor>, p: PoolerParams, levels: LevelFeatures[]): SimdRoiAlign | null => {
    const key = pyramid.features.get(p.levels[0].name)!;
    let pooler = lent.get(key);
    if (pooler === undefined) {
      pooler = free.pop() ?? new SimdRoiAlign();
      try {
        pooler.loadLevels(levels);
      } catch (e) {
        if (!(e instanceof PoolerMemoryError)) throw e;
        pooler = null;
      }
      lent.set(key, pooler);
    }
    return pooler;
  };
  return {
    async pool(pyramid, boxes, p) {
      const levels = cpuLevels(pyramid, p);
      const [k, c, s] = [boxes.length / 4, levels[0].channels, p.outputSize];
      const dims = p.channelsLast ? [k, s, s, c] : [k, c, s, s];
      const pooler = SimdRoiAlign.supported && c % 4 === 0 ? simd(pyramid, p, levels) : null;
      if (pooler) {
        try {
          return new ort.Tensor('float32', pooler.pool([boxes], poolerOptions(p), p.channelsLast), dims);
        } catch (e) {
          if (!(e instanceof PoolerMemoryError)) throw e;
        }
      }
      const planes = multiScaleRoiAlign(levels, [boxes], poolerOptions(p));
      return new ort.Tensor('float32', p.channelsLast ? planesToChannelsLast(planes, k, c, s * s) : planes, dims);
    },
    dispose(tensors) {
      for (const t of tensors) {
        const pooler = lent.get(t);
        if (pooler === undefined) continue;
        lent.delete(t);
        if (pooler === null) continue;
        // Two kept: enough for forwards overlapping in pairs, without holding every pyramid's memory.
        if (free.length < 2) free.push(pooler);
      }
    },
    async release() {
      free.length = 0;
      lent.clear();
    },
  };
}

/**
 * The TypeScript reference operators: everything on the CPU. With `poolers` (kind 'cpu' only),
 * heads whose RoiAlign nodes compute exactly those poolers lose them at load and take `pooled`
 * from the WebAssembly SIMD pooler instead (onnxruntime's CPU RoiAlign is scalar over NCHW
 * planes: 2.5x slower on the bundled model's box head, see docs/ARCHITECTURE.md).
 */
export function cpuOperators(ort: OrtModule, kind: 'cpu' | 'cuda' = 'cpu', poolers: HeadPoolers = {}): StageOperators {
  const pooling = cpuPooling(ort);
  return {
    kind,
    outputLocation: () => 'cpu',
    network: (role, bytes) => {
      if (kind === 'cuda' && (role === 'boxHead' || role === 'maskHead')) return rewritten('cuda', role, () => retargeted(bytes, 'cuda'));
      const expected = role === 'boxHead' || role === 'maskHead' ? poolers[role] : undefined;
      if (kind !== 'cpu' || !expected || !SimdRoiAlign.supported) return bytes;
      const cut = withoutPooler(readModel(bytes), expected);
      return cut ? serializeModel(channelsLastPooled(cut) ?? cut) : bytes;
    },
    preNmsTopN: async (head, gridSizes, cfg) => selectPreNmsTopN({ objectness: head.objectness.data as Float32Array, deltas: head.deltas.data as Float32Array, gridSizes }, cfg),
    batchedNms: async (boxes, scores, idxs, iouThreshold, limit) => batchedNms(boxes, scores, idxs, iouThreshold, limit),
    download: async (pyramid) => pyramid,
    ...pooling,
  };
}

/**
 * A network rewritten for a GPU provider; a graph the rewrite cannot take (gpu/ says why, e.g. a
 * non-square or half-pixel RoiAlign) is the provider being unavailable for this package, with
 * the way out, not an internal error.
 */
function rewritten(provider: 'webgpu' | 'cuda', role: NetworkRole, rewrite: () => Uint8Array): Uint8Array {
  try {
    return rewrite();
  } catch (e) {
    throw new ProviderUnavailableError(provider, `this package's ${role} network cannot be rewritten for it (${(e as Error).message}); load the model with provider 'cpu'`, { cause: e });
  }
}

/** A head network with its RoiAlign nodes re-targeted; a head without them as it is. */
function retargeted(bytes: Uint8Array, target: 'webgpu' | 'cuda'): Uint8Array {
  const model = readModel(bytes);
  if (!model.graph.nodes.some((n) => n.opType === 'RoiAlign')) return bytes;
  return serializeModel(retargetHeadPooling(model, target));
}

/** A network as the WebGPU provider runs it: heads' RoiAlign re-targeted, float16 compute when asked. */
function webgpuNetwork(role: NetworkRole, bytes: Uint8Array, compute: ComputePrecision): Uint8Array {
  const head = role === 'boxHead' || role === 'maskHead';
  if (compute === 'fp32') return head ? retargeted(bytes, 'webgpu') : bytes;
  let model = readModel(bytes);
  if (head && model.graph.nodes.some((n) => n.opType === 'RoiAlign')) model = retargetHeadPooling(model, 'webgpu');
  // A backbone's outputs are features: its last layers compute in float16 too; the heads' predictors do not.
  return serializeModel(toFloat16Compute(model, { float32Predictors: role !== 'backbone' }).model);
}

/**
 * The WebGPU operators. `create` makes a session on the same provider (and so the same device) as
 * the networks, with CPU outputs unless told otherwise. `compute` is the networks' precision;
 * `nms` where NMS's IoUs are computed: 'cpu' (the boxes are there already) or 'gpu' (the bitmask
 * of gpu/nms.ts, read back and scanned).
 */
export async function webgpuOperators(
  ort: OrtModule, levels: readonly PyramidLevel[],
  create: (model: Uint8Array, outputs: OutputLocation) => Promise<InferenceSession>,
  { compute = 'fp32', nms = 'cpu' }: { compute?: ComputePrecision; nms?: 'cpu' | 'gpu' } = {},
): Promise<StageOperators> {
  const topK = await create(serializeModel(buildRpnTopK(levels.length)), 'cpu');
  let download: InferenceSession | undefined;
  const poolers = new Map<string, InferenceSession>();
  const int64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [values.length]);
  const paster = gpuMaskPaster(ort, create);
  const gpuNms = nms === 'gpu' ? gpuBatchedNms(ort, create) : undefined;
  return {
    kind: 'webgpu',
    pasteMasks: paster.paste,
    batchedNms: gpuNms?.nms ?? (async (boxes, scores, idxs, iouThreshold, limit) => batchedNms(boxes, scores, idxs, iouThreshold, limit)),
    outputLocation: (role) => (role === 'backbone' || role === 'rpnHead' ? 'gpu-buffer' : 'cpu'),
    network: (role, bytes) => rewritten('webgpu', role, () => webgpuNetwork(role, bytes, compute)),
    async preNmsTopN(head, gridSizes, cfg) {
      const ranges = levelRanges(gridSizes, anchorsPerLocation(cfg), cfg.preNmsTopN);
      const out = await topK.run({
        objectness: head.objectness, deltas: head.deltas,
        starts: int64(ranges.map((r) => r.start)), ends: int64(ranges.map((r) => r.end)), k: int64(ranges.map((r) => r.k)),
      });
      const relative = out[rpnTopKOutputs.indices].data as BigInt64Array;
      const sel: PreNmsSelection = {
        indices: new Int32Array(relative.length), levels: new Int32Array(relative.length),
        logits: out[rpnTopKOutputs.logits].data as Float32Array, deltas: out[rpnTopKOutputs.deltas].data as Float32Array,
      };
      let t = 0;
      ranges.forEach((r, level) => {
        for (let j = 0; j < r.k; j++, t++) {
          sel.indices[t] = r.start + Number(relative[t]);
          sel.levels[t] = level;
        }
      });
      return sel;
    },
    async pool(pyramid, boxes, p) {
      const key = `${p.outputSize}/${p.samplingRatio}`;
      let pooler = poolers.get(key);
      if (!pooler) {
        const channels = p.levels[0].channels;
        pooler = await create(serializeModel(buildGridMultiScaleRoiAlign({ levels: p.levels, channels, outputSize: p.outputSize, samplingRatio: p.samplingRatio })), 'gpu-buffer');
        poolers.set(key, pooler);
      }
      const split = splitByLevel(boxes, p.levels.map((l) => l.stride), p.canonicalScale, p.canonicalLevel, p.eps);
      const feeds: Record<string, Tensor> = { order: new ort.Tensor('int64', split.order, [split.order.length]) };
      p.levels.forEach((l, i) => {
        feeds[l.name] = pyramid.features.get(l.name)!;
        feeds[`rois_${l.name}`] = new ort.Tensor('float32', split.rois[i], [split.rois[i].length / 4, 4]);
      });
      return (await pooler.run(feeds)).pooled;
    },
    async download(pyramid) {
      const names = pyramid.levels.map((l) => l.name);
      download ??= await create(serializeModel(buildDownload(names)), 'cpu');
      const out = await download.run(Object.fromEntries(names.map((n) => [n, pyramid.features.get(n)!])));
      return { levels: pyramid.levels, features: new Map(names.map((n) => [n, out[`${n}_cpu`]])) };
    },
    dispose(tensors) {
      for (const t of tensors) if (!onCpu(t)) t.dispose();
    },
    async release() {
      await Promise.all([paster.release(), gpuNms?.release(), ...[topK, download, ...poolers.values()].filter((s) => s !== undefined).map((s) => s.release())]);
    },
  };
}
