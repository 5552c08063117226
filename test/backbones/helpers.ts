/**
 * Shared by the backbone tests: state dicts from reference archives, running an ONNX backbone in
 * onnxruntime-node (CPU), and the parity measure.
 */
import * as ort from 'onnxruntime-node';
import type { StateDict } from '../../onnx/tensor.js';
import type { Archive } from '../helpers/tensorArchive.js';
import { getFloat32, getShape } from '../helpers/tensorArchive.js';

/** The state dict a reference script saved as 'state/<key>', in its key order (meta.keys). */
export function archiveStateDict(ref: Archive): StateDict {
  const sd: StateDict = new Map();
  for (const key of ref.meta.keys as string[]) {
    sd.set(key, { dtype: 'float32', shape: getShape(ref, `state/${key}`), data: getFloat32(ref, `state/${key}`) });
  }
  return sd;
}

/** Runs `model` once on float32 `images` [N, 3, H, W]; returns the named outputs. */
export async function runOnnx(model: Uint8Array, inputName: string, images: Float32Array, shape: number[],
  outputs: readonly string[]): Promise<Map<string, { dims: readonly number[]; data: Float32Array }>> {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const result = await session.run({ [inputName]: new ort.Tensor('float32', images, shape) }, [...outputs]);
    const out = new Map<string, { dims: readonly number[]; data: Float32Array }>();
    for (const name of outputs) out.set(name, { dims: result[name].dims, data: result[name].data as Float32Array });
    return out;
  } finally {
    await session.release();
  }
}

/** max |expected - actual| / max |expected|: the parity measure, relative to the output's scale. */
export function relativeMaxDiff(expected: Float32Array, actual: Float32Array): number {
  if (expected.length !== actual.length) throw new Error(`length ${actual.length}, expected ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / (scale || 1);
}
