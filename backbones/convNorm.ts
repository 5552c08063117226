/**
 * A convolution that may be followed by a norm layer, as torchvision's `Conv2dNormActivation`
 * blocks are: with `norm_layer` the convolution has no bias and the norm (BatchNorm2d in the v2
 * detectors, FrozenBatchNorm2d in the v1 bodies) is folded into it; without, the convolution's own
 * bias is used. Shared by the FPN and the heads.
 */
import type { ConvOptions, GraphBuilder, Value } from '../onnx/builder.js';
import type { StateDict } from '../onnx/tensor.js';
import { requireWeight } from './stateDictKeys.js';
import { type NormLayer, frozenBatchNormScale, normEpsAt, normLayerAt, scaledWeight } from './frozenBatchNorm.js';

/** Where one conv(+norm) block's parameters are in the state dict (full keys). */
export interface ConvNormKeys {
  /** Candidate names of the convolution's weight (new first); the first present is used. */
  weight: readonly string[];
  /** Candidate names of its bias, read when there is no norm layer. */
  bias: readonly string[];
  /** Module of the norm layer after it (e.g. 'backbone.fpn.inner_blocks.0.1'), if it may have one. */
  norm?: string;
  /** Initializer names in the graph (the new key's stem), e.g. 'fpn.inner_blocks.0.0'. */
  name: string;
}

/** Whether `keys.norm` names a norm layer present in the state dict. */
export function hasNorm(sd: StateDict, norm: string | undefined): norm is string {
  return norm !== undefined && sd.has(`${norm}.running_mean`);
}

/**
 * Adds the convolution with its norm layer folded in (or its bias), weight of `shape`.
 * @param frozenEps eps of a FrozenBatchNorm2d (a BatchNorm2d's is 1e-5)
 * @returns the output and the norm layer folded in, if any
 */
export function convNorm(g: GraphBuilder, sd: StateDict, x: Value, keys: ConvNormKeys, shape: readonly number[],
  frozenEps: number, opts: ConvOptions = {}): { value: Value; norm?: NormLayer } {
  const w = requireWeight(sd, keys.weight, shape);
  const out = w.shape[0];
  if (!hasNorm(sd, keys.norm)) {
    const b = requireWeight(sd, keys.bias, [out]);
    return { value: g.conv(x, g.initializer(`${keys.name}.weight`, w), g.initializer(`${keys.name}.bias`, b), opts) };
  }
  const norm = keys.norm;
  const get = (p: string) => requireWeight(sd, [`${norm}.${p}`], [out]);
  const has = (k: string) => sd.has(k);
  const { scale, shift } = frozenBatchNormScale(
    { weight: get('weight'), bias: get('bias'), runningMean: get('running_mean'), runningVar: get('running_var') },
    normEpsAt(has, norm, frozenEps),
  );
  const weight = g.computedInitializer(`${keys.name}.weight`, w.shape, scaledWeight(w, scale));
  const bias = g.initializer(`${keys.name}.bias`, { dtype: 'float32', shape: [out], data: shift });
  return { value: g.conv(x, weight, bias, opts), norm: normLayerAt(has, norm) };
}
