/**
 * torchvision's `resnet_fpn_backbone` / `BackboneWithFPN` as one ONNX model built from a state
 * dict: input 'images' [N, 3, H, W] (H, W multiples of 32), outputs '0', '1', '2', '3', 'pool'
 * [N, C, H/4, W/4] ... [N, C, H/64, W/64]; with `returned_layers=[2, 3, 4]` (three lateral
 * convolutions in the weights) '0', '1', '2', 'pool' at strides 8, 16, 32, 64.
 */
import { GraphBuilder, type OnnxNetwork, onnxNetwork } from '../onnx/builder.js';
import type { StateDict } from '../onnx/tensor.js';
import { type Backbone, BackboneError, torchvisionFpnLevels } from './backbone.js';
import { featurePyramidNetwork, fpnChannels, fpnHasNorm, fpnReturnedLayers } from './fpn.js';
import { BackboneWeights, findBackbonePrefix } from './keys.js';
import { type ResNetDescription, describeResNet, resnetArchs, resnetBody } from './resnet.js';

export interface ResNetFpnOptions {
  /**
   * FrozenBatchNorm2d eps: torchvision uses 0.0 for its COCO_V1 detection weights
   * (`overwrite_eps`) and 1e-5 otherwise, so it belongs to the model package.
   */
  eps: number;
  /** Expected torchvision builder name ('resnet50', 'resnext101_32x8d', ...); checked against the weights. */
  arch?: string;
  /** Where the backbone sits in the state dict; found from 'body.conv1.weight' when omitted. */
  prefix?: string;
}

/**
 * A ResNet-FPN backbone and what its weights say it is. `onnx` is serialized on first read;
 * `model` streams to a file without it (`serializeModelToFile`).
 */
export interface ResNetFpnBackbone extends Backbone, OnnxNetwork {
  readonly description: ResNetDescription & {
    fpnChannels: number;
    /** The FrozenBatchNorm2d eps (BatchNorm2d layers use 1e-5 whatever it is). */
    eps: number;
    /** Whether the FPN's convolutions carry a norm layer (torchvision's v2 detectors). */
    fpnNorm: boolean;
    /** The ResNet layers the FPN reads (torchvision's `returned_layers`, [1, 2, 3, 4] by default). */
    returnedLayers: number[];
  };
}

/**
 * Builds torchvision's ResNet-FPN detection backbone from a state dict (a detection model's, with
 * `backbone.body.` / `backbone.fpn.` keys, or a bare BackboneWithFPN's). Old and new FPN key
 * names are accepted.
 * @throws BackboneError for an unrecognised layout or an `arch` the weights contradict;
 *   StateDictError naming a missing or misshapen key
 */
export function buildResNetFpn(stateDict: StateDict, options: ResNetFpnOptions): ResNetFpnBackbone {
  if (!Number.isFinite(options.eps) || options.eps < 0) {
    throw new BackboneError(`options.eps must be a non-negative number (FrozenBatchNorm2d eps), got ${options.eps}`);
  }
  if (options.arch !== undefined && !resnetArchs.includes(options.arch)) {
    throw new BackboneError(`options.arch '${options.arch}' is not one of ${resnetArchs.join(', ')}`);
  }
  const weights = new BackboneWeights(stateDict, options.prefix ?? findBackbonePrefix(stateDict));
  const description = describeResNet(weights);
  if (options.arch !== undefined && options.arch !== description.arch) {
    throw new BackboneError(`options.arch is '${options.arch}' but the weights are a ${describe(description)}`);
  }
  const channels = fpnChannels(weights);
  const returnedLayers = fpnReturnedLayers(weights, description.layerChannels);
  const levels = torchvisionFpnLevels(channels, returnedLayers);
  const g = new GraphBuilder(`${description.arch}_fpn`);
  const images = g.input('images', 'float32', ['N', 3, 'H', 'W']);
  const body = resnetBody(g, weights, description, images, options.eps);
  const pyramid = featurePyramidNetwork(g, weights, returnedLayers.map((l) => body[l - 1]), returnedLayers.map((l) => description.layerChannels[l - 1]), options.eps);
  const fpnNorm = fpnHasNorm(weights);
  levels.forEach((level, i) => g.output(pyramid[i], level.name, 'float32', ['N', channels, `H/${level.stride}`, `W/${level.stride}`]));
  const model = g.toModel({ docString: `torchvision 0.14 resnet_fpn_backbone: ${describe(description)}, ${description.norm === 'BatchNorm2d' ? 'BatchNorm2d eps 1e-5' : `FrozenBatchNorm2d eps ${options.eps}`}${fpnNorm ? ', FPN with BatchNorm2d' : ''}` });
  return onnxNetwork(model, { inputName: 'images', levels, sizeDivisible: 32, description: { ...description, fpnChannels: channels, eps: options.eps, fpnNorm, returnedLayers } });
}

/** "resnet50 (Bottleneck [3, 4, 6, 3], groups 1, width per group 64)". */
export function describe(d: ResNetDescription): string {
  return `${d.arch} (${d.block} [${d.layers.join(', ')}], depth ${d.depth}, groups ${d.groups}, width per group ${d.widthPerGroup}, channels ${d.stemChannels}/${d.layerChannels.join('/')})`;
}
