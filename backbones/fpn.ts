/**
 * torchvision's FeaturePyramidNetwork (ops/feature_pyramid_network.py) with LastLevelMaxPool, as
 * ONNX: 1x1 lateral ("inner") convolutions, a top-down path with nearest upsampling to each
 * lateral's size, 3x3 output ("layer") convolutions, and a max_pool2d(k=1, s=2) of the last
 * output for the 'pool' level. The v2 detectors put a BatchNorm2d after every convolution, folded in.
 *
 * Shapes: C_i input channels of level i, C the FPN's channels (256 in torchvision's detectors).
 */
import type { GraphBuilder, Value } from '../onnx/builder.js';
import { convNorm } from './convNorm.js';
import { BackboneError } from './backbone.js';
import { type BackboneWeights, fpnKeys } from './keys.js';

/**
 * Adds one FPN convolution under its new or old torchvision key: with bias (v1), or bias-free with
 * a norm layer after it folded in (v2's `norm_layer=nn.BatchNorm2d`: `fpn.inner_blocks.0.1.*`).
 */
function fpnConv(g: GraphBuilder, weights: BackboneWeights, x: Value, blocks: 'inner_blocks' | 'layer_blocks', index: number,
  shape: readonly number[], frozenEps: number): Value {
  const p = weights.prefix;
  const pad = (shape[2] - 1) / 2;
  return convNorm(g, weights.stateDict, x, {
    weight: fpnKeys(blocks, index, 'weight').map((k) => p + k),
    bias: fpnKeys(blocks, index, 'bias').map((k) => p + k),
    norm: `${p}fpn.${blocks}.${index}.1`,
    // name initializers by the new key whichever the checkpoint used
    name: `fpn.${blocks}.${index}.0`,
  }, shape, frozenEps, { strides: [1, 1], pads: [pad, pad, pad, pad] }).value;
}

/** Whether the FPN's convolutions are followed by norm layers (torchvision's v2 detectors). */
export function fpnHasNorm(weights: BackboneWeights): boolean {
  return weights.has('fpn.inner_blocks.0.1.running_mean');
}

/** Output channels of the FPN, read from the first lateral convolution. */
export function fpnChannels(weights: BackboneWeights): number {
  return weights.getAny(fpnKeys('inner_blocks', 0, 'weight')).shape[0];
}

/**
 * The ResNet layers (1..4) the FPN reads, as `resnet_fpn_backbone(returned_layers=...)` chose them:
 * one lateral ("inner") convolution per returned layer, matched in order to the layer whose output
 * channels are its input channels ([1, 2, 3, 4] by default, [2, 3, 4] for `returned_layers=[2, 3, 4]`).
 * @throws BackboneError naming the lateral convolution no layer feeds
 */
export function fpnReturnedLayers(weights: BackboneWeights, layerChannels: readonly number[]): number[] {
  const layers: number[] = [];
  let next = 0;
  for (let i = 0; weights.has(fpnKeys('inner_blocks', i, 'weight')[0]) || weights.has(fpnKeys('inner_blocks', i, 'weight')[1]); i++) {
    const inChannels = weights.getAny(fpnKeys('inner_blocks', i, 'weight')).shape[1];
    while (next < layerChannels.length && layerChannels[next] !== inChannels) next++;
    if (next === layerChannels.length) {
      throw new BackboneError(`'${weights.prefix}${fpnKeys('inner_blocks', i, 'weight')[0]}' takes ${inChannels} channels, which no ResNet layer after layer${layers.at(-1) ?? 0} emits (layer1..4: ${layerChannels.join(', ')})`);
    }
    layers.push(++next);
  }
  if (layers.length === 0) throw new BackboneError(`state dict has no FPN: no '${weights.prefix}${fpnKeys('inner_blocks', 0, 'weight')[0]}'`);
  return layers;
}

/**
 * Emits the FPN over `features` [N, C_i, Hi, Wi] (finest first) with LastLevelMaxPool.
 * @param frozenEps eps of FrozenBatchNorm2d layers after the convolutions, if any (BatchNorm2d: 1e-5)
 * @returns one [N, C, Hi, Wi] value per input level, then the 'pool' level [N, C, ceil(H_last / 2), ...]
 */
export function featurePyramidNetwork(g: GraphBuilder, weights: BackboneWeights, features: readonly Value[],
  inChannels: readonly number[], frozenEps = 0): Value[] {
  const c = fpnChannels(weights);
  const last = features.length - 1;
  let lastInner = fpnConv(g, weights, features[last], 'inner_blocks', last, [c, inChannels[last], 1, 1], frozenEps);
  const results: Value[] = [fpnConv(g, weights, lastInner, 'layer_blocks', last, [c, c, 3, 3], frozenEps)];
  for (let idx = last - 1; idx >= 0; idx--) {
    const lateral = fpnConv(g, weights, features[idx], 'inner_blocks', idx, [c, inChannels[idx], 1, 1], frozenEps);
    // F.interpolate(size=lateral's HxW, mode='nearest'): source index floor(dst * in / out)
    const sizes = g.concat([g.shape(lastInner, 0, 2), g.shape(lateral, 2)], 0);
    const topDown = g.resize(lastInner, { mode: 'nearest', coordinateTransformationMode: 'asymmetric', nearestMode: 'floor', sizes });
    lastInner = g.add(lateral, topDown);
    results.unshift(fpnConv(g, weights, lastInner, 'layer_blocks', idx, [c, c, 3, 3], frozenEps));
  }
  // LastLevelMaxPool: F.max_pool2d(x, kernel_size=1, stride=2, padding=0)
  results.push(g.maxPool(results[results.length - 1], { kernelShape: [1, 1], strides: [2, 2] }));
  return results;
}
