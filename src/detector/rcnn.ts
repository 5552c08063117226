/**
 * GeneralizedRCNN at test time: transform -> backbone -> RPN -> RoI heads, as torchvision's
 * `GeneralizedRCNN.forward` reads. Runtime-neutral: sessions come from whichever onnxruntime the
 * entry point loaded.
 *
 * Hp, Wp: padded input size; h, w: resized image size; C: pyramid channels; P: proposals;
 * D: detections; M: mask size (28).
 */
import type { FeaturePyramid, PyramidLevel } from '../../backbones/index.js';
import { type Detections, detectionCandidates, selectDetections } from '../../heads/roiHeads.js';
import { POOLED_CHANNELS_LAST, poolerInputs, splitByLevel } from '../../heads/pooler.js';
import { gather, type Proposals, rpnNmsCandidates } from '../../heads/rpn.js';
import type { DetectorConfig } from '../config.js';
import type { InferenceSession, OrtModule, Tensor } from '../runtime/index.js';
import type { PoolerParams, StageOperators } from './operators.js';
import { type ImageBatch, type Rgb8Image, type RgbImage, transformImage } from '../transform/index.js';

export interface RcnnSessions {
  backbone: InferenceSession;
  rpnHead: InferenceSession;
  boxHead: InferenceSession;
  maskHead?: InferenceSession;
}

/** Which detections go on to the mask head (the caller's filters, applied before masks are computed). */
export type DetectionFilter = (d: Detections) => Detections;

export interface RcnnOutput {
  batch: ImageBatch;
  /** The backbone's outputs on the CPU, one tensor [1, C, Hi, Wi] per level, when asked for. */
  features?: FeaturePyramid<Tensor>;
  detections: Detections;
  /** [D, M, M] mask probabilities of each detection's label, when the model has a mask head. */
  masks?: Float32Array;
  maskSize: number;
  timings: { transform: number; backbone: number; rpn: number; roiHeads: number; masks: number; onnxRuntime: number };
}

export class GeneralizedRCNN {
  /** Levels the poolers read: all but the RPN-only LastLevelMaxPool level. */
  private readonly pooledLevels: PyramidLevel[];

  constructor(
    private readonly ort: OrtModule,
    private readonly sessions: RcnnSessions,
    readonly levels: readonly PyramidLevel[],
    readonly config: DetectorConfig,
    /** The operators between the networks: the CPU reference, or GPU graphs (see operators.ts). */
    private readonly ops: StageOperators,
  ) {
    this.pooledLevels = levels.filter((l) => config.levelMapper.featureNames.includes(l.name));
  }

  /** Milliseconds spent inside ONNX Runtime since the last forward began. */
  private onnxMs = 0;

  /**
   * One image through the network. `keep` filters detections before the mask head; `signal` is
   * checked between stages (a running ONNX Runtime call cannot be interrupted); `pyramid` asks for
   * the backbone's outputs on the CPU in the result. GPU-resident tensors are freed before it returns.
   */
  async forward(image: RgbImage | Rgb8Image, keep: DetectionFilter = (d) => d, signal?: AbortSignal, pyramid = false): Promise<RcnnOutput> {
    this.onnxMs = 0;
    const clock = stopwatch();
    const batch = transformImage(image, this.config.transform);
    const transform = clock();
    signal?.throwIfAborted();
    const features = await this.backbone(batch);
    try {
      const backbone = clock();
      signal?.throwIfAborted();
      const proposals = await this.rpn(features, batch);
      const rpn = clock();
      signal?.throwIfAborted();
      const detections = keep(await this.boxHead(features, proposals, batch));
      const roiHeads = clock();
      signal?.throwIfAborted();
      const masks = this.sessions.maskHead ? await this.maskHead(features, detections) : undefined;
      const maskMs = clock();
      const cpuFeatures = pyramid ? await this.ops.download(features) : undefined;
      return { batch, features: cpuFeatures, detections, masks, maskSize: 28, timings: { transform, backbone, rpn, roiHeads, masks: maskMs, onnxRuntime: this.onnxMs } };
    } finally {
      this.ops.dispose(features.features.values());
    }
  }

  /** session.run, timed: the stage timings include our TypeScript, this isolates ONNX Runtime. */
  private async run(session: InferenceSession, feeds: Record<string, Tensor>): Promise<InferenceSession.ReturnType> {
    const t0 = performance.now();
    const out = await session.run(feeds);
    this.onnxMs += performance.now() - t0;
    return out;
  }

  private async backbone(batch: ImageBatch): Promise<FeaturePyramid<Tensor>> {
    const input = new this.ort.Tensor('float32', batch.data, [1, 3, ...batch.paddedSize]);
    const out = await this.run(this.sessions.backbone, { [this.sessions.backbone.inputNames[0]]: input });
    return { levels: this.levels, features: new Map(this.levels.map((l) => [l.name, out[l.name]])) };
  }

  private async rpn(pyramid: FeaturePyramid<Tensor>, batch: ImageBatch): Promise<Proposals> {
    const feeds = Object.fromEntries(this.levels.map((l) => [l.name, pyramid.features.get(l.name)!]));
    const out = await this.run(this.sessions.rpnHead, feeds);
    const gridSizes = this.levels.map((l) => {
      const dims = pyramid.features.get(l.name)!.dims;
      return [dims[2], dims[3]] as [number, number];
    });
    let selection;
    try {
      const t0 = performance.now();
      selection = await this.ops.preNmsTopN({ objectness: out.objectness, deltas: out.deltas }, gridSizes, this.config.rpn);
      if (this.ops.kind === 'webgpu') this.onnxMs += performance.now() - t0;
    } finally {
      this.ops.dispose(Object.values(out));
    }
    const c = rpnNmsCandidates(selection, gridSizes, this.config.rpn, batch.paddedSize, batch.imageSize);
    // non-maximum suppression, independently per level; keep the best postNmsTopN
    const keep = await this.ops.batchedNms(c.boxes, c.scores, c.levels, this.config.rpn.nmsThresh, this.config.rpn.postNmsTopN);
    return gather(c.boxes, c.scores, keep.subarray(0, this.config.rpn.postNmsTopN));
  }

  /**
   * The pooled RoIs a head takes: when its graph pools (inputs `rois_<level>`, `order`), the
   * boxes split by level plus the level features; otherwise `pooled`, computed by the operators.
   */
  private async poolFeeds(session: InferenceSession, pyramid: FeaturePyramid<Tensor>, boxes: Float32Array, outputSize: number, samplingRatio: number): Promise<Record<string, Tensor>> {
    const { canonicalScale, canonicalLevel, eps } = this.config.levelMapper;
    if (!session.inputNames.includes(poolerInputs.order)) {
      // `pooledChannelsLast`: a head whose fc6 was permuted to read the SIMD pooler's layout (operators.ts)
      const channelsLast = session.inputNames.includes(POOLED_CHANNELS_LAST);
      const params: PoolerParams = { levels: this.pooledLevels, outputSize, samplingRatio, canonicalScale, canonicalLevel, eps, channelsLast };
      return { [channelsLast ? POOLED_CHANNELS_LAST : 'pooled']: await this.ops.pool(pyramid, boxes, params) };
    }
    const split = splitByLevel(boxes, this.pooledLevels.map((l) => l.stride), canonicalScale, canonicalLevel, eps);
    const feeds: Record<string, Tensor> = { [poolerInputs.order]: new this.ort.Tensor('int64', split.order, [split.order.length]) };
    this.pooledLevels.forEach((l, i) => {
      feeds[l.name] = pyramid.features.get(l.name)!;
      feeds[poolerInputs.rois(l.name)] = new this.ort.Tensor('float32', split.rois[i], [split.rois[i].length / 4, 4]);
      feeds[poolerInputs.batchIndices(l.name)] = new this.ort.Tensor('int64', split.batchIndices[i], [split.batchIndices[i].length]);
    });
    return feeds;
  }

  private async boxHead(pyramid: FeaturePyramid<Tensor>, proposals: Proposals, batch: ImageBatch): Promise<Detections> {
    const cfg = this.config.roiHeads;
    if (proposals.scores.length === 0) return { boxes: new Float32Array(0), scores: new Float32Array(0), labels: new Int32Array(0) };
    const feeds = await this.poolFeeds(this.sessions.boxHead, pyramid, proposals.boxes, cfg.poolerOutputSize, cfg.samplingRatio);
    const out = await this.run(this.sessions.boxHead, feeds).finally(() => this.ops.dispose(pooledFeeds(feeds)));
    const candidates = detectionCandidates(out.classLogits.data as Float32Array, out.boxDeltas.data as Float32Array, proposals.boxes, batch.imageSize, cfg);
    // non-maximum suppression, independently done per class; keep the best detectionsPerImage
    const keep = await this.ops.batchedNms(candidates.boxes, candidates.scores, candidates.labels, cfg.nmsThresh, cfg.detectionsPerImage);
    return selectDetections(candidates, keep.subarray(0, cfg.detectionsPerImage));
  }

  private async maskHead(pyramid: FeaturePyramid<Tensor>, detections: Detections): Promise<Float32Array> {
    const cfg = this.config.mask;
    if (detections.scores.length === 0) return new Float32Array(0);
    const feeds = await this.poolFeeds(this.sessions.maskHead!, pyramid, detections.boxes, cfg.poolerOutputSize, cfg.samplingRatio);
    feeds.labels = new this.ort.Tensor('int64', BigInt64Array.from(detections.labels, (l) => BigInt(l)), [detections.labels.length]);
    const out = await this.run(this.sessions.maskHead!, feeds).finally(() => this.ops.dispose(pooledFeeds(feeds)));
    return out.maskProbs.data as Float32Array;
  }
}

/** The pooled-RoI tensors among a head's feeds (the operators' to free). */
function pooledFeeds(feeds: Record<string, Tensor>): Tensor[] {
  return [feeds.pooled, feeds[POOLED_CHANNELS_LAST]].filter((t) => t !== undefined);
}

/** Returns a function giving the milliseconds since its previous call. */
function stopwatch(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const ms = now - last;
    last = now;
    return ms;
  };
}
