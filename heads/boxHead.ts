/**
 * The box head network of Faster R-CNN as an ONNX graph: torchvision's TwoMLPHead (v1: flatten ->
 * fc6 + ReLU -> fc7 + ReLU) or FastRCNNConvFCHead (v2: 4 x conv3x3 + BatchNorm2d (folded) + ReLU ->
 * flatten -> fc + ReLU), then FastRCNNPredictor: class logits and per-class box deltas.
 *
 * K: RoIs, C: channels, P: pooled size (7), L: classes including background.
 */
import {
  GraphBuilder, type OnnxNetwork, type StateDict, type Value, onnxNetwork,
} from '../onnx/index.js';
import { StateDictError, requireWeight } from '../backbones/stateDictKeys.js';
import { convNorm } from '../backbones/convNorm.js';
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
  /** Channels and pooled size the head was trained on: the first fc takes C' * P * P features. */
  inChannels: number;
  pooledSize: number;
  representationSize: number;
  /**
   * 'mlp': TwoMLPHead (fc6, fc7; v1). 'conv': FastRCNNConvFCHead (v2: conv3x3 + BatchNorm2d +
   * ReLU layers, flatten, fully connected + ReLU layers).
   */
  kind: 'mlp' | 'conv';
  /** Conv layers before the fully connected ones (0 for 'mlp'). */
  convLayers: number;
}

/** The layers of the box head as the state dict holds them. */
interface BoxHeadLayout {
  kind: 'mlp' | 'conv';
  /** Conv(+norm) module stems, e.g. 'roi_heads.box_head.0'. */
  convs: string[];
  /** Linear layer stems, e.g. 'roi_heads.box_head.fc6' or 'roi_heads.box_head.5'. */
  fcs: string[];
}

/**
 * TwoMLPHead names its layers fc6, fc7; FastRCNNConvFCHead is an nn.Sequential of
 * Conv2dNormActivation blocks (`{i}.0` conv, `{i}.1` norm), a Flatten, then Linear, ReLU pairs.
 */
function boxHeadLayout(sd: StateDict, prefix: string): BoxHeadLayout {
  const head = `${prefix}box_head.`;
  if (sd.has(`${head}fc6.weight`)) return { kind: 'mlp', convs: [], fcs: [`${head}fc6`, `${head}fc7`] };
  const convs: string[] = [];
  let i = 0;
  for (; sd.has(`${head}${i}.0.weight`); i++) convs.push(`${head}${i}`);
  const fcs: string[] = [];
  for (let j = i + 1; sd.has(`${head}${j}.weight`); j += 2) fcs.push(`${head}${j}`); // skip Flatten, then each ReLU
  if (fcs.length === 0) {
    throw new StateDictError(`${head}fc6.weight`, `state dict has no '${head}fc6.weight' (TwoMLPHead) or '${head}0.0.weight' ... '${head}${i + 1}.weight' (FastRCNNConvFCHead): not a torchvision box head`);
  }
  return { kind: 'conv', convs, fcs };
}

/**
 * Builds the box head from `roi_heads.box_head.*` (TwoMLPHead or FastRCNNConvFCHead) and
 * `roi_heads.box_predictor.*`.
 * Input `pooled` [K, C, P, P], or with `options.pooler` the pooler's inputs (see pooler.ts);
 * outputs `classLogits` [K, L] and `boxDeltas` [K, L*4].
 * @param inChannels the pyramid's channels, to recover P from the first fc's input width
 */
export function buildBoxHead(sd: StateDict, inChannels: number, options: HeadBuildOptions = {}): BoxHeadNetwork {
  const prefix = options.prefix ?? 'roi_heads.';
  const layout = boxHeadLayout(sd, prefix);
  const convWeights = layout.convs.map((c, i) => requireWeight(sd, [`${c}.0.weight`], [-1, i === 0 ? inChannels : -1, 3, 3]));
  const flatChannels = convWeights.length ? convWeights[convWeights.length - 1].shape[0] : inChannels;
  const first = requireWeight(sd, [`${layout.fcs[0]}.weight`], [-1, -1]);
  const fcIn = first.shape[1];
  const pooledSize = Math.round(Math.sqrt(fcIn / flatChannels));
  if (pooledSize * pooledSize * flatChannels !== fcIn) {
    throw new StateDictError(`${layout.fcs[0]}.weight`, `'${layout.fcs[0]}.weight' takes ${fcIn} features, not C * P * P for C = ${flatChannels}`);
  }
  const representationSize = requireWeight(sd, [`${layout.fcs[layout.fcs.length - 1]}.weight`], [-1, -1]).shape[0];
  const cls = requireWeight(sd, [`${prefix}box_predictor.cls_score.weight`], [-1, representationSize]);
  const numClasses = cls.shape[0];

  const g = new GraphBuilder('box_head');
  const w = (key: string, shape: number[]) => g.initializer(key, requireWeight(sd, [key], shape));
  let x = options.pooler
    ? addMultiScaleRoiAlign(g, { ...options.pooler, channels: inChannels, outputSize: pooledSize })
    : g.input('pooled', 'float32', ['K', inChannels, pooledSize, pooledSize]);
  layout.convs.forEach((c, i) => {
    x = g.relu(convNorm(g, sd, x, { weight: [`${c}.0.weight`], bias: [`${c}.0.bias`], norm: `${c}.1`, name: `${c}.0` },
      convWeights[i].shape, 0, { pads: [1, 1, 1, 1] }).value);
  });
  // Linear layers: y = x W^T + b, as Gemm with transB.
  const linear = (t: Value, name: string, outDim: number, inDim: number) =>
    g.gemm(t, w(`${name}.weight`, [outDim, inDim]), w(`${name}.bias`, [outDim]), { transB: true });
  let t = g.flatten(x, 1);
  let width = fcIn;
  for (const fc of layout.fcs) {
    const out = requireWeight(sd, [`${fc}.weight`], [-1, width]).shape[0];
    t = g.relu(linear(t, fc, out, width));
    width = out;
  }
  g.output(linear(t, `${prefix}box_predictor.cls_score`, numClasses, representationSize), 'classLogits', 'float32', ['K', numClasses]);
  g.output(linear(t, `${prefix}box_predictor.bbox_pred`, numClasses * 4, representationSize), 'boxDeltas', 'float32', ['K', numClasses * 4]);
  return onnxNetwork(g.toModel(), { numClasses, inChannels, pooledSize, representationSize, kind: layout.kind, convLayers: layout.convs.length });
}
