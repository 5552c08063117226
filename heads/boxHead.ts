/**
 * The box head network of Faster R-CNN (torchvision TwoMLPHead + FastRCNNPredictor) as an ONNX
 * graph: flatten -> fc6 + ReLU -> fc7 + ReLU -> class logits and per-class box deltas.
 *
 * K: RoIs, C: channels, P: pooled size (7), L: classes including background.
 */
import { GraphBuilder, type OnnxNetwork, type StateDict, onnxNetwork, requireWeight } from '../backbones/graph/index.js';
import { addMultiScaleRoiAlign, type PoolerSpec } from './pooler.js';

export interface HeadBuildOptions {
  /** State-dict prefix of the RoI heads (torchvision: 'roi_heads.'). */
  prefix?: string;
  /**
   * Pool inside the graph (ONNX RoiAlign per level) instead of taking `pooled` as input. The box
   * head's pooled size comes from fc6; the mask head's from `outputSize` (torchvision: 14).
   */
  pooler?: Omit<PoolerSpec, 'outputSize' | 'channels'> & { outputSize?: number };
}

/** The head's ONNX network (`onnx` serialized on first read, `model` to stream to a file) and its sizes. */
export interface BoxHeadNetwork extends OnnxNetwork {
  numClasses: number;
  /** Channels and pooled size the head was trained on: fc6 takes C * P * P features. */
  inChannels: number;
  pooledSize: number;
  representationSize: number;
}

/**
 * Builds the box head from `roi_heads.box_head.fc{6,7}` and `roi_heads.box_predictor.*`.
 * Input `pooled` [K, C, P, P], or with `options.pooler` the pooler's inputs (see pooler.ts);
 * outputs `classLogits` [K, L] and `boxDeltas` [K, L*4].
 * @param inChannels the pyramid's channels, to recover P from fc6's input width
 */
export function buildBoxHead(sd: StateDict, inChannels: number, options: HeadBuildOptions = {}): BoxHeadNetwork {
  const prefix = options.prefix ?? 'roi_heads.';
  const fc6 = requireWeight(sd, [`${prefix}box_head.fc6.weight`], [-1, -1]);
  const [representationSize, fc6In] = fc6.shape;
  const pooledSize = Math.round(Math.sqrt(fc6In / inChannels));
  if (pooledSize * pooledSize * inChannels !== fc6In) {
    throw new Error(`'${prefix}box_head.fc6.weight' takes ${fc6In} features, not C * P * P for C = ${inChannels}`);
  }
  const cls = requireWeight(sd, [`${prefix}box_predictor.cls_score.weight`], [-1, representationSize]);
  const numClasses = cls.shape[0];

  const g = new GraphBuilder('box_head');
  const w = (key: string, shape: number[]) => g.initializer(key, requireWeight(sd, [key], shape));
  const x = options.pooler
    ? addMultiScaleRoiAlign(g, { ...options.pooler, channels: inChannels, outputSize: pooledSize })
    : g.input('pooled', 'float32', ['K', inChannels, pooledSize, pooledSize]);
  // Linear layers: y = x W^T + b, as Gemm with transB.
  const linear = (t: ReturnType<typeof g.flatten>, name: string, outDim: number, inDim: number) =>
    g.gemm(t, w(`${prefix}${name}.weight`, [outDim, inDim]), w(`${prefix}${name}.bias`, [outDim]), { transB: true });
  let t = g.flatten(x, 1);
  t = g.relu(linear(t, 'box_head.fc6', representationSize, fc6In));
  t = g.relu(linear(t, 'box_head.fc7', representationSize, representationSize));
  g.output(linear(t, 'box_predictor.cls_score', numClasses, representationSize), 'classLogits', 'float32', ['K', numClasses]);
  g.output(linear(t, 'box_predictor.bbox_pred', numClasses * 4, representationSize), 'boxDeltas', 'float32', ['K', numClasses * 4]);
  return onnxNetwork(g.toModel(), { numClasses, inChannels, pooledSize, representationSize });
}
