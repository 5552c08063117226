/** Helpers to run a built ONNX graph in onnxruntime-node (CPU) and compare with a reference. */
import * as ort from 'onnxruntime-node';
import type { HostTensor, StateDict } from '../../onnx/index.js';
import { type Archive, getFloat32 } from './tensorArchive.js';

/** The state dict stored under `prefix` (e.g. 'sd/') in a reference archive. */
export function stateDictFromArchive(a: Archive, prefix = 'sd/'): StateDict {
  const sd: StateDict = new Map();
  for (const [name, t] of a.tensors) {
    if (!name.startsWith(prefix)) continue;
    const key = name.slice(prefix.length);
    if (t.data instanceof BigInt64Array) sd.set(key, { dtype: 'int64', shape: t.shape, data: t.data });
    else sd.set(key, { dtype: 'float32', shape: t.shape, data: getFloat32(a, name) });
  }
  return sd;
}

/** Runs a model once on CPU with one thread per op. */
export async function runOnnx(onnx: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(onnx, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** A float32 ORT tensor from an archive entry. */
export function feed(a: Archive, name: string): ort.Tensor {
  const t = a.tensors.get(name);
  if (!t) throw new Error(`reference archive has no tensor '${name}'`);
  if (t.data instanceof BigInt64Array) return new ort.Tensor('int64', t.data, t.shape);
  return new ort.Tensor('float32', getFloat32(a, name), t.shape);
}

/** max |a - b| / max |b|: the error relative to the output's scale. */
export function relativeMaxDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs expected ${expected.length}`);
  let maxDiff = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return maxDiff / (scale || 1);
}

export type { HostTensor };
