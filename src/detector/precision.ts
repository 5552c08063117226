/**
 * The precision the networks compute in. An fp16 package's networks store float16 weights; they
 * compute in float16 only on 'webgpu' where the device runs float16 kernels (the adapter has
 * `shader-f16`), the networks then rewritten by `gpu/float16Compute.ts` when their sessions are
 * created. Everywhere else they compute in float32 (the CPU folds the weights' Casts at session
 * creation), as do fp32 and int8 packages' float parts.
 */
import { buildFloat16Probe } from '../../gpu/index.js';
import { serializeModel } from '../../onnx/index.js';
import type { Precision } from '../modelPackage/manifest.js';
import type { InferenceSession, OrtModule, Provider } from '../runtime/index.js';

/** The float precision of the networks' arithmetic. */
export type ComputePrecision = 'fp32' | 'fp16';

/** Whether the device behind `create`'s sessions runs float16 kernels, and if not, why. */
export async function probeFloat16(ort: OrtModule, create: (model: Uint8Array) => Promise<InferenceSession>): Promise<{ ok: boolean; reason?: string }> {
  const probe = buildFloat16Probe();
  let session: InferenceSession | undefined;
  try {
    session = await create(serializeModel(probe.model));
    const y = (await session.run({ x: new ort.Tensor('float32', probe.input, probe.dims) })).y.data as Float32Array;
    const exact = probe.expected.every((v, i) => y[i] === v);
    return exact ? { ok: true } : { ok: false, reason: `float16 probe computed [${Array.from(y)}], expected [${Array.from(probe.expected)}]` };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    await session?.release();
  }
}

/** The compute precision for a package variant on a provider ('fp16' only for fp16 on a float16-capable WebGPU device). */
export async function chooseComputePrecision(
  ort: OrtModule, provider: Provider, dtype: Precision | undefined, create: (model: Uint8Array) => Promise<InferenceSession>,
): Promise<ComputePrecision> {
  if (provider !== 'webgpu' || dtype !== 'fp16') return 'fp32';
  return (await probeFloat16(ort, create)).ok ? 'fp16' : 'fp32';
}
