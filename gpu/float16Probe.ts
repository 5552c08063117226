/**
 * Whether a WebGPU device computes in float16: a 3x3 convolution put through `toFloat16Compute`,
 * run once. onnxruntime's WebGPU provider (Node's Dawn and onnxruntime-web's) asks for the
 * adapter's `shader-f16` feature when the adapter has it, and without it fails to compile any
 * float16 kernel ("requires f16 but the device does not support it"); running the graph is the
 * one check that reads the same in Node (where no adapter object is exposed) and in browsers.
 */
import { GraphBuilder, type OnnxModel, attr } from '../onnx/index.js';
import { toFloat16Compute } from './float16Compute.js';

/** The probe: input `x` [1, 1, 3, 3] of ones, output `y`; `expected` is exact in float16. */
export function buildFloat16Probe(): { model: OnnxModel; input: Float32Array; dims: number[]; expected: Float32Array } {
  const g = new GraphBuilder('float16Probe');
  const x = g.input('x', 'float32', [1, 1, 3, 3]);
  const w = g.constFloat(new Array(9).fill(0.5), [1, 1, 3, 3]);
  const conv = g.node('Conv', [x, w], { pads: attr.ints([1, 1, 1, 1]), strides: attr.ints([1, 1]), dilations: attr.ints([1, 1]) })[0];
  g.output(g.node('Relu', [conv])[0], 'y', 'float32', [1, 1, 3, 3]);
  // With padding 1 each output sums the 4, 6 or 9 ones in its window, times 0.5.
  const expected = Float32Array.from([2, 3, 2, 3, 4.5, 3, 2, 3, 2]);
  return { model: toFloat16Compute(g.toModel(), { float32Predictors: false }).model, input: new Float32Array(9).fill(1), dims: [1, 1, 3, 3], expected };
}
