/**
 * The ResNet body of torchvision's detection backbones (models/resnet.py, v1.5: the stride sits on
 * the 3x3 convolution), read from a state dict and emitted as ONNX with every FrozenBatchNorm2d
 * folded into its convolution. Block type, blocks per layer, groups and widths all come from the
 * weights, so ResNet-18..152, ResNeXt, wide ResNets and narrow custom widths share one builder.
 *
 * Shapes: N images, H x W input; layer k emits [N, C_k, H / 2^(k+1), W / 2^(k+1)].
 * Not representable in a state dict and so unsupported: `replace_stride_with_dilation`.
 */
import type { GraphBuilder, Value } from '../onnx/builder.js';
import { BackboneError } from './backbone.js';
import { type NormLayer, frozenBatchNormScale, normEpsAt, normLayerAt, scaledWeight } from './frozenBatchNorm.js';
import { type BackboneWeights, resnetKeys } from './keys.js';

export type ResNetBlock = 'BasicBlock' | 'Bottleneck';

/** What the weights say the network is. */
export interface ResNetDescription {
  /** torchvision's builder name when the layout is one of them ('resnet50', 'resnext101_32x8d', ...), else 'custom'. */
  arch: string;
  block: ResNetBlock;
  /** Blocks in layer1..4. */
  layers: number[];
  /** Weighted layers: 2 + (2 or 3) * total blocks, e.g. 50. */
  depth: number;
  /** Groups of the 3x3 convolutions (ResNeXt's cardinality); 1 otherwise. */
  groups: number;
  /** torchvision's `width_per_group` (64 for ResNet, 4 or 8 for ResNeXt, 128 for wide ResNet). */
  widthPerGroup: number;
  /** Output channels of the stem (conv1). */
  stemChannels: number;
  /** Output channels of layer1..4, the FPN's in_channels_list. */
  layerChannels: number[];
  /**
   * The body's norm layer: FrozenBatchNorm2d (v1 detectors) or BatchNorm2d (v2, eps 1e-5), read
   * from the stem's buffers.
   */
  norm: NormLayer;
}

/** torchvision's builders: [name, block, layers, groups, widthPerGroup]. */
const TORCHVISION_ARCHS: ReadonlyArray<readonly [string, ResNetBlock, readonly number[], number, number]> = [
  ['resnet18', 'BasicBlock', [2, 2, 2, 2], 1, 64],
  ['resnet34', 'BasicBlock', [3, 4, 6, 3], 1, 64],
  ['resnet50', 'Bottleneck', [3, 4, 6, 3], 1, 64],
  ['resnet101', 'Bottleneck', [3, 4, 23, 3], 1, 64],
  ['resnet152', 'Bottleneck', [3, 8, 36, 3], 1, 64],
  ['resnext50_32x4d', 'Bottleneck', [3, 4, 6, 3], 32, 4],
  ['resnext101_32x8d', 'Bottleneck', [3, 4, 23, 3], 32, 8],
  ['resnext101_64x4d', 'Bottleneck', [3, 4, 23, 3], 64, 4],
  ['wide_resnet50_2', 'Bottleneck', [3, 4, 6, 3], 1, 128],
  ['wide_resnet101_2', 'Bottleneck', [3, 4, 23, 3], 1, 128],
];

/** Names of torchvision's ResNet builders, accepted as `arch`. */
export const resnetArchs: readonly string[] = TORCHVISION_ARCHS.map((a) => a[0]);

const EXPANSION: Record<ResNetBlock, number> = { BasicBlock: 1, Bottleneck: 4 };

/**
 * Reads the layout of the ResNet body from its weights.
 * @throws BackboneError for a layout that is not a torchvision ResNet; StateDictError naming a
 *   missing or misshapen key
 */
export function describeResNet(weights: BackboneWeights): ResNetDescription {
  const stem = weights.get(resnetKeys.stemConv);
  if (stem.shape.length !== 4 || stem.shape[1] !== 3 || stem.shape[2] !== 7 || stem.shape[3] !== 7) {
    throw new BackboneError(`'${weights.prefix}${resnetKeys.stemConv}' has shape [${stem.shape}], expected a 7x7 stem over RGB [C, 3, 7, 7]`);
  }
  const block: ResNetBlock = weights.has(`${resnetKeys.block(1, 0)}.conv3.weight`) ? 'Bottleneck' : 'BasicBlock';
  const layers = [1, 2, 3, 4].map((layer) => {
    let n = 0;
    while (weights.has(`${resnetKeys.block(layer, n)}.conv1.weight`)) n++;
    if (n === 0) throw new BackboneError(`state dict has no '${weights.prefix}${resnetKeys.block(layer, 0)}.conv1.weight': not a 4-layer ResNet body`);
    return n;
  });
  const lastConv = block === 'Bottleneck' ? 'conv3' : 'conv2';
  const layerChannels = layers.map((n, i) => weights.shapeOf(`${resnetKeys.block(i + 1, n - 1)}.${lastConv}.weight`)[0]);
  const conv2 = weights.shapeOf(`${resnetKeys.block(1, 0)}.conv2.weight`);
  const groups = conv2[0] / conv2[1];
  if (!Number.isInteger(groups)) {
    throw new BackboneError(`'${weights.prefix}${resnetKeys.block(1, 0)}.conv2.weight' [${conv2}] is not a grouped 3x3 convolution`);
  }
  // torchvision: width = int(planes * width_per_group / 64) * groups, planes = C_1 / expansion
  const planes = layerChannels[0] / EXPANSION[block];
  const widthPerGroup = block === 'Bottleneck' ? (conv2[0] / groups) * (64 / planes) : 64;
  const depth = 2 + layers.reduce((a, b) => a + b, 0) * (block === 'Bottleneck' ? 3 : 2);
  const standardChannels = [64, 128, 256, 512].map((c) => c * EXPANSION[block]);
  const match = TORCHVISION_ARCHS.find(([, b, l, g, w]) => b === block && l.every((n, i) => n === layers[i]) && g === groups && w === widthPerGroup);
  const standard = stem.shape[0] === 64 && layerChannels.every((c, i) => c === standardChannels[i]);
  return {
    arch: match && standard ? match[0] : 'custom',
    block, layers, depth, groups, widthPerGroup, stemChannels: stem.shape[0], layerChannels,
    norm: normLayerAt((k) => weights.has(k), resnetKeys.stemBn),
  };
}

/**
 * Adds a convolution with its norm folded in; `conv` and `bn` are key stems. `eps` is the
 * FrozenBatchNorm2d's; a BatchNorm2d (it saves `num_batches_tracked`) uses its own 1e-5.
 */
function convBn(g: GraphBuilder, weights: BackboneWeights, x: Value, conv: string, bn: string, eps: number,
  shape: readonly number[], opts: { stride?: number; pad?: number; group?: number } = {}): Value {
  const w = weights.get(`${conv}.weight`, shape);
  const { scale, shift } = frozenBatchNormScale(weights.frozenBatchNorm(bn, w.shape[0]), normEpsAt((k) => weights.has(k), bn, eps));
  const p = opts.pad ?? 0;
  const s = opts.stride ?? 1;
  const weight = g.computedInitializer(`${conv}.weight`, w.shape, scaledWeight(w, scale));
  const bias = g.initializer(`${conv}.bias`, { dtype: 'float32', shape: [shift.length], data: shift });
  return g.conv(x, weight, bias, { strides: [s, s], pads: [p, p, p, p], group: opts.group ?? 1 });
}

/** One BasicBlock or Bottleneck: relu(body(x) + identity or downsample(x)). */
function residualBlock(g: GraphBuilder, weights: BackboneWeights, d: ResNetDescription, x: Value, inChannels: number,
  layer: number, index: number, eps: number): Value {
  const m = resnetKeys.block(layer, index);
  const stride = layer > 1 && index === 0 ? 2 : 1;
  const outChannels = d.layerChannels[layer - 1];
  let out: Value;
  if (d.block === 'Bottleneck') {
    const width = weights.shapeOf(`${m}.conv1.weight`)[0];
    out = g.relu(convBn(g, weights, x, `${m}.conv1`, `${m}.bn1`, eps, [width, inChannels, 1, 1]));
    out = g.relu(convBn(g, weights, out, `${m}.conv2`, `${m}.bn2`, eps, [width, width / d.groups, 3, 3],
      { stride, pad: 1, group: d.groups }));
    out = convBn(g, weights, out, `${m}.conv3`, `${m}.bn3`, eps, [outChannels, width, 1, 1]);
  } else {
    out = g.relu(convBn(g, weights, x, `${m}.conv1`, `${m}.bn1`, eps, [outChannels, inChannels, 3, 3], { stride, pad: 1 }));
    out = convBn(g, weights, out, `${m}.conv2`, `${m}.bn2`, eps, [outChannels, outChannels, 3, 3], { pad: 1 });
  }
  let identity = x;
  if (weights.has(`${m}.downsample.0.weight`)) {
    identity = convBn(g, weights, x, `${m}.downsample.0`, `${m}.downsample.1`, eps, [outChannels, inChannels, 1, 1], { stride });
  } else if (stride !== 1 || inChannels !== outChannels) {
    throw new BackboneError(`'${weights.prefix}${m}' changes stride or channels but has no 'downsample.0.weight'`);
  }
  return g.relu(g.add(out, identity));
}

/**
 * Emits the ResNet body on `images` [N, 3, H, W] as IntermediateLayerGetter returns it.
 * @returns the outputs of layer1..4 (C2..C5, strides 4, 8, 16, 32)
 */
export function resnetBody(g: GraphBuilder, weights: BackboneWeights, d: ResNetDescription, images: Value, eps: number): Value[] {
  let x = g.relu(convBn(g, weights, images, 'body.conv1', resnetKeys.stemBn, eps, [d.stemChannels, 3, 7, 7], { stride: 2, pad: 3 }));
  x = g.maxPool(x, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  let channels = d.stemChannels;
  const features: Value[] = [];
  for (let layer = 1; layer <= 4; layer++) {
    for (let i = 0; i < d.layers[layer - 1]; i++) {
      x = residualBlock(g, weights, d, x, channels, layer, i, eps);
      channels = d.layerChannels[layer - 1];
    }
    features.push(x);
  }
  return features;
}
