/**
 * `detect(..., { gpuMasks })` on 'webgpu': the mask head's [D, M, M] probabilities (already on the
 * CPU, 3 KB a detection) and the detections' boxes go up, and gpu/pasteMasks.ts pastes them into
 * [D, H, W] full-image masks that stay on the GPU for the caller. Sessions are made on first use,
 * one per form, and kept until the detector is released.
 *
 * D: detections, M: mask side (28), H, W: the original image's size.
 */
import { buildMaskDownload, buildPasteMasks, type GpuMaskForm, pasteMasksIo } from '../../gpu/index.js';
import { serializeModel } from '../../onnx/index.js';
import { ResdetError } from '../../postprocess/errors.js';
import { expandBoxesToInt } from '../../postprocess/pasteMasks.js';
import type { InferenceSession, OrtModule, Tensor } from '../runtime/index.js';
import type { OutputLocation } from './operators.js';
import type { GpuMasks } from './result.js';

/** `result.gpuMasks.download()` after its `dispose()`: the GPU memory is gone. */
export class GpuMasksDisposedError extends ResdetError {
  constructor() {
    super('GPU_MASKS_DISPOSED', 'gpuMasks.download() after gpuMasks.dispose(): the masks\' GPU memory was freed; download before disposing');
  }
}

/** What to paste: torchvision's `paste_masks_in_image(masks, boxes, (H, W), padding)`, then the form. */
export interface GpuPasteRequest {
  /** [D, M, M] probabilities of each detection's label. */
  masks: Float32Array;
  /** [D, 4] x1,y1,x2,y2 in original-image pixels. */
  boxes: Float32Array;
  maskSize: number;
  imageHeight: number;
  imageWidth: number;
  /** torchvision's `padding` (the package's `mask.pastePadding`). */
  padding: number;
  form: GpuMaskForm;
  /** For 'binary': keep probability > this (float32, as torch compares). */
  maskThreshold: number;
}

/** The GPU paster of one detector. */
export interface GpuMaskPaster {
  paste(request: GpuPasteRequest): Promise<GpuMasks>;
  release(): Promise<void>;
}

/**
 * @param create makes a session on the detector's provider (the same GPU device as its networks)
 */
export function gpuMaskPaster(ort: OrtModule, create: (model: Uint8Array, outputs: OutputLocation) => Promise<InferenceSession>): GpuMaskPaster {
  const sessions = new Map<string, Promise<InferenceSession>>();
  const session = (key: string, make: () => Uint8Array, outputs: OutputLocation) => {
    let s = sessions.get(key);
    if (!s) {
      s = create(make(), outputs);
      sessions.set(key, s);
      s.catch(() => sessions.delete(key)); // a failed creation is retried by the next call
    }
    return s;
  };
  const dtype = (form: GpuMaskForm) => (form === 'binary' ? 'uint8' : 'float32');

  async function paste(r: GpuPasteRequest): Promise<GpuMasks> {
    const d = r.boxes.length / 4;
    let tensor: Tensor;
    if (d === 0) {
      // No dispatch for an empty paste (zero-sized GPU buffers are where kernels differ).
      tensor = new ort.Tensor(dtype(r.form), r.form === 'binary' ? new Uint8Array(0) : new Float32Array(0), [0, r.imageHeight, r.imageWidth]);
    } else {
      const paster = await session(`paste/${r.form}/${r.maskSize}/${r.padding}`, () => serializeModel(buildPasteMasks({ maskSize: r.maskSize, padding: r.padding, form: r.form })), 'gpu-buffer');
      const side = r.maskSize + 2 * r.padding;
      const feeds: Record<string, Tensor> = {
        [pasteMasksIo.masks]: new ort.Tensor('float32', r.masks, [d, r.maskSize, r.maskSize]),
        [pasteMasksIo.boxes]: new ort.Tensor('float32', Float32Array.from(expandBoxesToInt(r.boxes, side / r.maskSize)), [d, 4]),
        [pasteMasksIo.imageSize]: new ort.Tensor('int64', BigInt64Array.of(BigInt(r.imageHeight), BigInt(r.imageWidth)), [2]),
      };
      if (r.form === 'binary') feeds[pasteMasksIo.threshold] = new ort.Tensor('float32', Float32Array.of(r.maskThreshold), [1]);
      tensor = (await paster.run(feeds))[pasteMasksIo.output];
    }
    let disposed = false;
    const onGpu = tensor.location === 'gpu-buffer';
    const download = async () => {
      if (disposed) throw new GpuMasksDisposedError();
      if (!onGpu) return tensor.data;
      const copy = await session(`download/${r.form}`, () => serializeModel(buildMaskDownload(dtype(r.form))), 'cpu');
      return (await copy.run({ pastedMasks: tensor })).pastedMasks_cpu.data;
    };
    const dispose = () => {
      if (disposed) return;
      disposed = true;
      if (onGpu) tensor.dispose();
    };
    return r.form === 'binary'
      ? { format: 'binary', tensor, dispose, download: async () => (await download()) as Uint8Array }
      : { format: 'probability', tensor, dispose, download: async () => (await download()) as Float32Array };
  }

  return {
    paste,
    async release() {
      const all = await Promise.allSettled(sessions.values());
      sessions.clear();
      await Promise.all(all.flatMap((s) => (s.status === 'fulfilled' ? [s.value.release()] : [])));
    },
  };
}
