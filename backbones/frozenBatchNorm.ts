/**
 * Folding torchvision's FrozenBatchNorm2d (and an eval-mode BatchNorm2d, which computes the same
 * per-channel affine map from its running statistics) into the convolution before it.
 *
 * FrozenBatchNorm2d.forward computes, in float32,
 *   scale = weight * (running_var + eps).rsqrt();  bias = bias - running_mean * scale
 *   y = x * scale + bias
 * so conv(x, W) * scale + bias == conv(x, W * scale) + bias (per output channel). The scale and
 * bias are computed with float32 rounding at every step, as torch does, so the folded values equal
 * the ones torch multiplies by.
 */
import type { ComputedFloat32 } from '../onnx/onnx.js';
import type { HostTensor } from '../onnx/tensor.js';
import type { FrozenBatchNormTensors } from './keys.js';

const f32 = Math.fround;

/**
 * eps of torch's BatchNorm2d, which torchvision's v2 detectors (and any model built with
 * `norm_layer=nn.BatchNorm2d`) use: neither layer type stores its eps in the state dict.
 */
export const BATCH_NORM_EPS = 1e-5;

/** The two norm layers a torchvision detector's state dict can hold, told apart by their buffers. */
export type NormLayer = 'FrozenBatchNorm2d' | 'BatchNorm2d';

/**
 * Which norm layer sits at `module`: BatchNorm2d saves `num_batches_tracked`, FrozenBatchNorm2d
 * does not (it even drops the key when loading one).
 */
export function normLayerAt(has: (key: string) => boolean, module: string): NormLayer {
  return has(`${module}.num_batches_tracked`) ? 'BatchNorm2d' : 'FrozenBatchNorm2d';
}

/** eps of the norm layer at `module`: 1e-5 for a BatchNorm2d, `frozenEps` for a FrozenBatchNorm2d. */
export function normEpsAt(has: (key: string) => boolean, module: string, frozenEps: number): number {
  return normLayerAt(has, module) === 'BatchNorm2d' ? BATCH_NORM_EPS : frozenEps;
}

/** A convolution with its batch norm folded in: weight [Cout, Cin/g, kH, kW], bias [Cout]. */
export interface FoldedConv {
  weight: HostTensor;
  bias: HostTensor;
}

/**
 * Per-channel scale and shift of a FrozenBatchNorm2d, rounded as torch's float32 ops round.
 * @param eps torchvision uses 1e-5, and 0.0 for the COCO_V1 detection weights (`overwrite_eps`)
 */
export function frozenBatchNormScale(bn: FrozenBatchNormTensors, eps: number): { scale: Float32Array; shift: Float32Array } {
  const w = bn.weight.data as Float32Array;
  const b = bn.bias.data as Float32Array;
  const rm = bn.runningMean.data as Float32Array;
  const rv = bn.runningVar.data as Float32Array;
  const eps32 = f32(eps); // the Python float scalar is cast to the tensor's float32
  const scale = new Float32Array(w.length);
  const shift = new Float32Array(w.length);
  for (let c = 0; c < w.length; c++) {
    // rsqrt as torch's CPU kernel: 1 / sqrt(x), each correctly rounded to float32
    const rsqrt = f32(1 / f32(Math.sqrt(f32(rv[c] + eps32))));
    scale[c] = f32(w[c] * rsqrt);
    shift[c] = f32(b[c] - f32(rm[c] * scale[c]));
  }
  return { scale, shift };
}

/**
 * The weight of a bias-free convolution `convWeight` [Cout, ...] with per-channel `scale` folded
 * in, computed chunk by chunk when the model is serialized (no second copy of the weights).
 */
export function scaledWeight(convWeight: HostTensor, scale: Float32Array): ComputedFloat32 {
  const src = convWeight.data as Float32Array;
  const perChannel = src.length / scale.length;
  return {
    length: src.length,
    fill(chunk: Float32Array, start: number): void {
      let c = Math.floor(start / perChannel);
      let channelEnd = (c + 1) * perChannel;
      let s = scale[c];
      for (let i = 0, j = start; i < chunk.length; i++, j++) {
        if (j === channelEnd) {
          s = scale[++c];
          channelEnd += perChannel;
        }
        chunk[i] = src[j] * s;
      }
    },
  };
}

/**
 * Folds a FrozenBatchNorm2d into the bias-free convolution `convWeight` [Cout, ...] before it.
 * @returns a new weight (the input is left untouched) and the bias
 */
export function foldFrozenBatchNorm(convWeight: HostTensor, bn: FrozenBatchNormTensors, eps: number): FoldedConv {
  const { scale, shift } = frozenBatchNormScale(bn, eps);
  const out = new Float32Array(convWeight.data.length);
  scaledWeight(convWeight, scale).fill(out, 0);
  return {
    weight: { dtype: 'float32', shape: [...convWeight.shape], data: out },
    bias: { dtype: 'float32', shape: [scale.length], data: shift },
  };
}
