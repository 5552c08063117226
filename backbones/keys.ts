/**
 * State-dict key names of torchvision's ResNet-FPN backbone (`BackboneWithFPN`): the body
 * (`IntermediateLayerGetter` over models/resnet.py) and the FPN, under the prefix where they sit
 * (`backbone.` in a detection model, none in a bare `BackboneWithFPN`). FPN convolutions were
 * renamed in torchvision 0.13 (`fpn.inner_blocks.0.weight` -> `fpn.inner_blocks.0.0.weight`, as
 * they became `Conv2dNormActivation`s); both are accepted.
 */
import type { HostTensor, StateDict } from '../onnx/tensor.js';
import { StateDictError, requireWeight } from './stateDictKeys.js';
import { BackboneError } from './backbone.js';

/** The folded parameters' source: a torchvision FrozenBatchNorm2d's four buffers. */
export interface FrozenBatchNormTensors {
  weight: HostTensor;
  bias: HostTensor;
  runningMean: HostTensor;
  runningVar: HostTensor;
}

/**
 * Finds where the ResNet-FPN backbone lives in a state dict: the prefix before `body.conv1.weight`
 * ('backbone.' for a detection model, '' for a BackboneWithFPN).
 * @throws BackboneError when there is no such key, saying what was found instead
 */
export function findBackbonePrefix(stateDict: StateDict): string {
  const found: string[] = [];
  for (const key of stateDict.keys()) {
    if (key === 'body.conv1.weight' || key.endsWith('.body.conv1.weight')) found.push(key.slice(0, -'body.conv1.weight'.length));
  }
  if (found.length === 1) return found[0];
  if (found.length > 1) throw new BackboneError(`state dict holds several ResNet bodies (${found.map((p) => `'${p}body.'`).join(', ')})`);
  if (stateDict.has('conv1.weight') && stateDict.has('fc.weight')) {
    throw new BackboneError("state dict is a classification ResNet (conv1..fc), not a detection backbone: it has no FPN weights ('fpn.*')");
  }
  const sample = [...stateDict.keys()].slice(0, 3).map((k) => `'${k}'`).join(', ');
  throw new BackboneError(`state dict has no ResNet-FPN backbone: no 'backbone.body.conv1.weight' or 'body.conv1.weight' (first keys: ${sample})`);
}

/** Reads one backbone's weights, failing with the key name when one is missing or misshapen. */
export class BackboneWeights {
  constructor(readonly stateDict: StateDict, readonly prefix: string) {}

  /** Whether `key` (relative to the prefix) exists. */
  has(key: string): boolean {
    return this.stateDict.has(this.prefix + key);
  }

  /** The float tensor at `key`; `shape` entries of -1 match any size. */
  get(key: string, shape?: readonly number[]): HostTensor {
    return requireWeight(this.stateDict, [this.prefix + key], shape);
  }

  /** The first present of several names of one weight (old and new torchvision names). */
  getAny(keys: readonly string[], shape?: readonly number[]): HostTensor {
    return requireWeight(this.stateDict, keys.map((k) => this.prefix + k), shape);
  }

  /** The four FrozenBatchNorm2d buffers at `module` (e.g. 'body.bn1'), each of `channels` values. */
  frozenBatchNorm(module: string, channels: number): FrozenBatchNormTensors {
    return {
      weight: this.get(`${module}.weight`, [channels]),
      bias: this.get(`${module}.bias`, [channels]),
      runningMean: this.get(`${module}.running_mean`, [channels]),
      runningVar: this.get(`${module}.running_var`, [channels]),
    };
  }

  /** Shape of the tensor at `key`, or a StateDictError naming it. */
  shapeOf(key: string): readonly number[] {
    return this.get(key).shape;
  }
}

/** Keys of the ResNet body, relative to the backbone prefix. */
export const resnetKeys = {
  stemConv: 'body.conv1.weight',
  stemBn: 'body.bn1',
  /** `body.layer{layer}.{block}`, layer 1..4 */
  block: (layer: number, block: number): string => `body.layer${layer}.${block}`,
};

/** New (0.13+) and old names of an FPN convolution's parameter. */
export function fpnKeys(blocks: 'inner_blocks' | 'layer_blocks', index: number, param: 'weight' | 'bias'): string[] {
  return [`fpn.${blocks}.${index}.0.${param}`, `fpn.${blocks}.${index}.${param}`];
}

export { StateDictError };
