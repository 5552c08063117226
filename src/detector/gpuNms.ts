/**
 * Batched NMS with its IoU matrix on the GPU (the webgpu detector's `nms: 'gpu'`): the CPU
 * reference's own plan (postprocess `planBatchedNms`: torchvision's branch, offset boxes or
 * per-class problems, the final sort) with each plain NMS solved as torchvision's CUDA kernel
 * does: the GPU computes the IoU bitmask of the score-sorted boxes (gpu/nms.ts) and the CPU scans it.
 *
 * N: boxes of one problem, Np: N rounded up to 32, W = Np / 32 mask words per row.
 */
import { buildNmsMask, MASK_WORD_BITS, scanSuppressionMask, sortedPaddedBoxes } from '../../gpu/index.js';
import { serializeModel } from '../../onnx/index.js';
import { planBatchedNms } from '../../postprocess/typed.js';
import type { InferenceSession, OrtModule } from '../runtime/index.js';
import type { OutputLocation } from './operators.js';

/**
 * `batchedNms(boxes, scores, idxs, iouThreshold)` with the same result as postprocess's; `limit`
 * says only the first that many indices are needed (an implementation may return more).
 */
export type BatchedNmsOperator = (boxes: Float32Array, scores: Float32Array, idxs: Int32Array, iouThreshold: number, limit?: number) => Promise<Int32Array>;

/** Problems this small are scanned on the CPU directly: a dispatch costs more than their IoUs. */
const MIN_GPU_BOXES = 2;

/**
 * The GPU batched NMS of one detector, with its session (made on first use) and a release.
 * @param create makes a session on the detector's provider
 */
export function gpuBatchedNms(ort: OrtModule, create: (model: Uint8Array, outputs: OutputLocation) => Promise<InferenceSession>): { nms: BatchedNmsOperator; release(): Promise<void> } {
  let session: Promise<InferenceSession> | undefined;
  const maskSession = () => {
    if (!session) {
      session = create(serializeModel(buildNmsMask()), 'cpu');
      session.catch(() => { session = undefined; }); // a failed creation is retried by the next call
    }
    return session;
  };
  const nms: BatchedNmsOperator = async (boxes, scores, idxs, iouThreshold) => {
    const plan = planBatchedNms(boxes, scores, idxs, iouThreshold);
    const kept: Int32Array[] = [];
    for (const p of plan.problems) {
      if (p.order.length < MIN_GPU_BOXES) {
        kept.push(p.order.slice()); // one box: nothing to suppress it
        continue;
      }
      const { data, padded } = sortedPaddedBoxes(p.boxes, p.order);
      const out = await (await maskSession()).run({
        boxes: new ort.Tensor('float32', data, [padded, 4]),
        iouThreshold: new ort.Tensor('float32', Float32Array.of(iouThreshold), [1]),
      });
      const positions = scanSuppressionMask(out.mask.data as Int32Array, p.order.length, padded / MASK_WORD_BITS);
      kept.push(positions.map((k) => p.order[k]));
    }
    return plan.finish(kept);
  };
  return {
    nms,
    async release() {
      const s = session;
      session = undefined;
      if (s) await s.then((x) => x.release(), () => {});
    },
  };
}
