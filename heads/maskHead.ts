/**
 * The mask head network of Mask R-CNN (torchvision MaskRCNNHeads + MaskRCNNPredictor) as an ONNX
 * graph: conv3x3 (+ BatchNorm2d in v2, folded) + ReLU layers, ConvTranspose 2x2 stride 2 + ReLU, 1x1 conv to per-class logits;
 * then, as torchvision's maskrcnn_inference, sigmoid and the channel of each RoI's predicted label.
 * Selecting in the graph returns K*M*M values instead of K*L*M*M.
 *
 * K: RoIs, C: channels, S: pooled size (14), M = 2S: mask size (28), L: classes.
 */
import { GraphBuilder, type OnnxNetwork, type StateDict, type Value, onnxNetwork } from '../onnx/index.js';
import { StateDictError, requireWeight } from '../backbones/stateDictKeys.js';
import { convNorm } from '../backbones/convNorm.js';
import type { HeadBuildOptions } from './boxHead.js';
import { addMultiScaleRoiAlign } from './pooler.js';

/** The head's ONNX network (`onnx` serialized on first read, `model` to stream to a file) and its sizes. */
export interface MaskHeadNetwork extends OnnxNetwork {
  numClasses: number;
  inChannels: number;
  layers: number;
}

/** Conv layers of MaskRCNNHeads: new names (`mask_head.{i}.0`) or pre-0.13 (`mask_head.mask_fcn{i+1}`). */
function maskConvs(sd: StateDict, prefix: string): string[] {
  const keys: string[] = [];
  for (let i = 0; ; i++) {
    const key = [`${prefix}mask_head.${i}.0`, `${prefix}mask_head.mask_fcn${i + 1}`].find((k) => sd.has(`${k}.weight`));
    if (!key) break;
    keys.push(key);
  }
  if (keys.length === 0) throw new StateDictError(`${prefix}mask_head.0.0.weight`, `state dict has no '${prefix}mask_head.0.0.weight' or '${prefix}mask_head.mask_fcn1.weight' (mask head)`);
  return keys;
}

/**
 * Builds the mask head from `roi_heads.mask_head.*` and `roi_heads.mask_predictor.*`.
 * Inputs `pooled` [K, C, S, S] (or with `options.pooler` the pooler's inputs, see pooler.ts) and
 * `labels` int64 [K]; output `maskProbs` [K, 1, M, M] — the
 * sigmoid of each RoI's label channel.
 */
export function buildMaskHead(sd: StateDict, inChannels: number, options: HeadBuildOptions = {}): MaskHeadNetwork {
  const prefix = options.prefix ?? 'roi_heads.';
  const convs = maskConvs(sd, prefix);
  const g = new GraphBuilder('mask_head');
  const pooled = options.pooler
    ? addMultiScaleRoiAlign(g, { ...options.pooler, channels: inChannels, outputSize: options.pooler.outputSize ?? 14 })
    : g.input('pooled', 'float32', ['K', inChannels, 'S', 'S']);
  const labels = g.input('labels', 'int64', ['K']);
  let t: Value = pooled;
  let channels = inChannels;
  for (const key of convs) {
    const weight = requireWeight(sd, [`${key}.weight`], [-1, channels, 3, 3]);
    const out = weight.shape[0];
    const dilation = 1; // torchvision's MaskRCNNHeads default
    // v2 (norm_layer=BatchNorm2d): `mask_head.{i}.0` bias-free, `mask_head.{i}.1` its BatchNorm, folded
    const norm = key.endsWith('.0') ? `${key.slice(0, -2)}.1` : undefined;
    t = g.relu(convNorm(g, sd, t, { weight: [`${key}.weight`], bias: [`${key}.bias`], norm, name: key }, weight.shape, 0,
      { pads: [dilation, dilation, dilation, dilation], dilations: [dilation, dilation] }).value);
    channels = out;
  }
  const up = `${prefix}mask_predictor.conv5_mask`;
  const upWeight = requireWeight(sd, [`${up}.weight`], [channels, -1, 2, 2]);
  t = g.relu(g.convTranspose(t, g.initializer(`${up}.weight`, upWeight), g.initializer(`${up}.bias`, requireWeight(sd, [`${up}.bias`], [upWeight.shape[1]])), { strides: [2, 2] }));
  const logitsKey = `${prefix}mask_predictor.mask_fcn_logits`;
  const logitsWeight = requireWeight(sd, [`${logitsKey}.weight`], [-1, upWeight.shape[1], 1, 1]);
  const numClasses = logitsWeight.shape[0];
  const logits = g.conv(t, g.initializer(`${logitsKey}.weight`, logitsWeight), g.initializer(`${logitsKey}.bias`, requireWeight(sd, [`${logitsKey}.bias`], [numClasses])));
  // labels [K] -> [K, 1, 1, 1] -> broadcast to [K, 1, M, M] -> pick that channel of each RoI.
  const index = g.node('Expand', [g.reshape(labels, g.constInt64([-1, 1, 1, 1])), g.shape(g.slice(logits, [0], [1], [1]))])[0];
  const picked = g.node('GatherElements', [logits, index], { axis: { type: 'int', value: 1 } })[0];
  g.output(g.sigmoid(picked), 'maskProbs', 'float32', ['K', 1, 'M', 'M']);
  return onnxNetwork(g.toModel(), { numClasses, inChannels, layers: convs.length });
}
