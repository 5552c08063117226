/**
 * Host tensors: the values a checkpoint holds and ONNX initializers are built from.
 * A leaf module: imports nothing of ours, so backbones, heads and src can all use it.
 */

/** Element types a torchvision state dict holds, widened to what we compute in. */
export type HostDType = 'float32' | 'int64';

/** A dense, row-major (C-contiguous) tensor in host memory. */
export interface HostTensor {
  dtype: HostDType;
  shape: number[];
  /** float32 for 'float32' (float16/float64 checkpoints are converted on read), BigInt64Array for 'int64'. */
  data: Float32Array | BigInt64Array;
}

/** A torch state dict: parameter name -> tensor, in the checkpoint's order. */
export type StateDict = Map<string, HostTensor>;

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
