/**
 * Folding torchvision's FrozenBatchNorm2d into the convolution before it.
 *
 * FrozenBatchNorm2d.forward computes, in float32,
 *   scale = weight * (running_var + eps).rsqrt();  bias = bias - running_mean * scale
 *   y = x * scale + bias
 * so conv(x, W) * scale + bias == conv(x, W * scale) + bias (per output channel). The scale and
 * bias are computed with float32 rounding at every step, as torch does, so the folded values equal
 * the ones torch multiplies by.
 */
import type { ComputedFloat32 } from './graph/onnx.js';
import type { HostTensor } from './graph/tensor.js';
import type { FrozenBatchNormTensors } from './keys.js';

const f32 = Math.fround;

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
