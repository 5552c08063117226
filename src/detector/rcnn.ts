/**
 * GeneralizedRCNN at test time: transform -> backbone -> RPN -> RoI heads, as torchvision's
 * `GeneralizedRCNN.forward` reads. Runtime-neutral: sessions come from whichever onnxruntime the
 * entry point loaded.
 *
 * Hp, Wp: padded input size; h, w: resized image size; C: pyramid channels; P: proposals;
 * D: detections; M: mask size (28).
 */
import type { FeaturePyramid, PyramidLevel } from '../../backbones/index.js';
import { type Detections, postprocessDetections } from '../../heads/roiHeads.js';
import { poolerInputs, splitByLevel } from '../../heads/pooler.js';
import { type Proposals, proposeRegions } from '../../heads/rpn.js';
import { multiScaleRoiAlign } from '../../postprocess/typed.js';
import type { DetectorConfig } from '../config.js';
import type { InferenceSession, OrtModule, Tensor } from '../runtime/index.js';
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
  /** The backbone's outputs, one tensor [1, C, Hi, Wi] per level. */
  features: FeaturePyramid<Tensor>;
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
  ) {
    this.pooledLevels = levels.filter((l) => config.levelMapper.featureNames.includes(l.name));
  }

  /** Milliseconds spent inside ONNX Runtime since the last forward began. */
  private onnxMs = 0;

  /**
   * One image through the network. `keep` filters detections before the mask head; `signal` is
   * checked between stages (a running ONNX Runtime call cannot be interrupted).
   */
  async forward(image: RgbImage | Rgb8Image, keep: DetectionFilter = (d) => d, signal?: AbortSignal): Promise<RcnnOutput> {
    this.onnxMs = 0;
    const clock = stopwatch();
    const batch = transformImage(image, this.config.transform);
    const transform = clock();
    signal?.throwIfAborted();
    const features = await this.backbone(batch);
    const backbone = clock();
    signal?.throwIfAborted();
    const proposals = await this.rpn(features, batch);
    const rpn = clock();
    signal?.throwIfAborted();
    const detections = keep(await this.boxHead(features, proposals, batch));
    const roiHeads = clock();
    signal?.throwIfAborted();
    const masks = this.sessions.maskHead ? await this.maskHead(features, detections) : undefined;
    return { batch, features, detections, masks, maskSize: 28, timings: { transform, backbone, rpn, roiHeads, masks: clock(), onnxRuntime: this.onnxMs } };
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
    const head = { objectness: out.objectness.data as Float32Array, deltas: out.deltas.data as Float32Array, gridSizes };
    return proposeRegions(head, this.config.rpn, batch.paddedSize, batch.imageSize);
  }

  /**
   * The pooled RoIs a head takes: when its graph pools (inputs `rois_<level>`, `order`), the
   * boxes split by level plus the level features; otherwise `pooled`, computed here in TypeScript.
   */
  private poolFeeds(session: InferenceSession, pyramid: FeaturePyramid<Tensor>, boxes: Float32Array, outputSize: number, samplingRatio: number): Record<string, Tensor> {
    if (!session.inputNames.includes(poolerInputs.order)) return { pooled: this.pool(pyramid, boxes, outputSize, samplingRatio) };
    const { canonicalScale, canonicalLevel, eps } = this.config.levelMapper;
    const split = splitByLevel(boxes, this.pooledLevels.map((l) => l.stride), canonicalScale, canonicalLevel, eps);
    const feeds: Record<string, Tensor> = { [poolerInputs.order]: new this.ort.Tensor('int64', split.order, [split.order.length]) };
    this.pooledLevels.forEach((l, i) => {
      feeds[l.name] = pyramid.features.get(l.name)!;
      feeds[poolerInputs.rois(l.name)] = new this.ort.Tensor('float32', split.rois[i], [split.rois[i].length / 4, 4]);
      feeds[poolerInputs.batchIndices(l.name)] = new this.ort.Tensor('int64', split.batchIndices[i], [split.batchIndices[i].length]);
    });
    return feeds;
  }

  /** MultiScaleRoIAlign over the pooled levels, for boxes of this one image. */
  private pool(pyramid: FeaturePyramid<Tensor>, boxes: Float32Array, outputSize: number, samplingRatio: number): Tensor {
    const levels = this.pooledLevels.map((l) => {
      const t = pyramid.features.get(l.name)!;
      return { ...l, data: t.data as Float32Array, shape: t.dims as [number, number, number, number] };
    });
    const { canonicalScale, canonicalLevel } = this.config.levelMapper;
    const pooled = multiScaleRoiAlign(levels, [boxes], { outputSize: [outputSize, outputSize], samplingRatio, canonicalScale, canonicalLevel });
    return new this.ort.Tensor('float32', pooled, [boxes.length / 4, levels[0].channels, outputSize, outputSize]);
  }

  private async boxHead(pyramid: FeaturePyramid<Tensor>, proposals: Proposals, batch: ImageBatch): Promise<Detections> {
    const cfg = this.config.roiHeads;
    if (proposals.scores.length === 0) return { boxes: new Float32Array(0), scores: new Float32Array(0), labels: new Int32Array(0) };
    const feeds = this.poolFeeds(this.sessions.boxHead, pyramid, proposals.boxes, cfg.poolerOutputSize, cfg.samplingRatio);
    const out = await this.run(this.sessions.boxHead, feeds);
    return postprocessDetections(out.classLogits.data as Float32Array, out.boxDeltas.data as Float32Array, proposals.boxes, batch.imageSize, cfg);
  }

  private async maskHead(pyramid: FeaturePyramid<Tensor>, detections: Detections): Promise<Float32Array> {
    const cfg = this.config.mask;
    if (detections.scores.length === 0) return new Float32Array(0);
    const feeds = this.poolFeeds(this.sessions.maskHead!, pyramid, detections.boxes, cfg.poolerOutputSize, cfg.samplingRatio);
    feeds.labels = new this.ort.Tensor('int64', BigInt64Array.from(detections.labels, (l) => BigInt(l)), [detections.labels.length]);
    const out = await this.run(this.sessions.maskHead!, feeds);
    return out.maskProbs.data as Float32Array;
  }
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
