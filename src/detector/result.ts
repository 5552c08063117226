/**
 * What `detect` returns: one result type, always. The mask of a detection is present when masks
 * were asked for and the model has a mask head; its `format` says which form it has.
 */
import type { Tensor } from '../runtime/index.js';

/**
 * Where a mask's pixels lie: a window of the image, columns left .. left + width - 1 and rows
 * top .. top + height - 1. By default (`maskExtent: 'box'`) the window is the detection's pasted box
 * clipped to the image, outside of which torchvision's full-image mask is 0, so masks cost memory in
 * proportion to the objects; with `maskExtent: 'image'` it is the whole image. `fullImageMask`
 * expands either to [imageHeight, imageWidth].
 */
export interface MaskWindow {
  left: number;
  top: number;
  width: number;
  height: number;
  imageWidth: number;
  imageHeight: number;
}

/** A binary mask: `data` [height, width] of 0 / 1, row-major, over its window. */
export interface BinaryMask extends MaskWindow {
  format: 'binary';
  data: Uint8Array;
}

/** Pasted probabilities in [0, 1]: `data` [height, width], row-major, over its window. */
export interface ProbabilityMask extends MaskWindow {
  format: 'probability';
  data: Float32Array;
}

/** COCO run-length encoding of the whole image (compressed string counts, as pycocotools writes it). */
export interface RleMask {
  format: 'rle';
  /** [height, width] as COCO writes it. */
  size: [number, number];
  counts: string;
}

export type Mask = BinaryMask | ProbabilityMask | RleMask;

export interface Detection {
  /** [x1, y1, x2, y2] in original-image pixels. */
  box: [number, number, number, number];
  score: number;
  label: number;
  className: string;
  mask?: Mask;
}

/** Milliseconds spent in each stage of one image. */
export interface StageTimings {
  decode: number;
  transform: number;
  backbone: number;
  rpn: number;
  roiHeads: number;
  masks: number;
  postprocess: number;
  total: number;
  /** Of the above, the time inside ONNX Runtime (the networks); the rest is resdet's TypeScript. */
  onnxRuntime: number;
}

/**
 * One level of the feature pyramid as the backbone (ResNet body + FPN) emitted it for this image:
 * P2 (stride 4) .. P5 (stride 32) and LastLevelMaxPool's P6 (stride 64), in the package's names.
 */
export interface PyramidLevelActivations {
  /** The level's name in the package (torchvision's '0', '1', '2', '3', 'pool'). */
  name: string;
  /** Input pixels per feature cell (4 for P2 .. 64 for P6). */
  stride: number;
  channels: number;
  /** The map's size: the padded input's, divided by the stride (rounded up). */
  height: number;
  width: number;
  /** [channels, height, width], row-major. */
  data: Float32Array;
}

/**
 * The feature pyramid of one image, asked for with `detect(image, { pyramid: true })`. The maps
 * cover the network's input: the image resized to `imageSize` at the top-left of `paddedSize`,
 * the rest zero padding (after normalisation), so the image's part of a level is its first
 * ceil(imageSize / stride) rows and columns.
 */
export interface PyramidActivations {
  /** [height, width] of the resized image inside the input. */
  imageSize: [number, number];
  /** [height, width] of the input, padded to a multiple of 32. */
  paddedSize: [number, number];
  /** In the order the package declares them (finest first). */
  levels: PyramidLevelActivations[];
}

export interface DetectionResult {
  width: number;
  height: number;
  detections: Detection[];
  timings: StageTimings;
  /** Which image decoder produced the pixels (e.g. libjpeg-turbo through sharp). */
  decoder: string;
  /**
   * The execution provider that ran the networks ('cpu', 'cuda', 'webgpu', 'wasm'): with
   * `loadModel(..., { fallback: 'cpu' })` the CPU (in browsers WASM) when the one asked for could not start.
   */
  provider: 'cpu' | 'cuda' | 'webgpu' | 'wasm';
  /** Why the provider asked for did not start, when a fallback ran instead. */
  providerFallback?: string;
  /** The backbone's feature maps; present only when `detect` was called with `pyramid: true`. */
  pyramid?: PyramidActivations;
  /**
   * The detections' masks pasted into the image on the GPU, left there; present only when `detect`
   * was called with `gpuMasks` (provider 'webgpu') and the model has a mask head. The caller owns
   * the GPU memory: call `dispose()` when done.
   */
  gpuMasks?: GpuMasks;
}

/** Where `gpuMasks` are pasted and what they hold: see {@link DetectOptions.gpuMasks}. */
export type GpuMaskOutput = 'probability' | 'binary' | 'none';

interface GpuMasksBase {
  /**
   * [D, H, W] in detection order over the original image (torchvision's `paste_masks_in_image`
   * output without the 1), on the GPU: `location` 'gpu-buffer' (in browsers `tensor.gpuBuffer` is a
   * `GPUBuffer` on onnxruntime-web's device, `env.webgpu.device`). With no detections it is an
   * empty CPU tensor [0, H, W]. In Node never call `getData()` on it (onnxruntime-node aborts
   * the process for a gpu-buffer tensor): use `download()`.
   */
  readonly tensor: Tensor;
  /** Frees the GPU memory (idempotent); `tensor` and `download()` are unusable after it. */
  dispose(): void;
}

/** Pasted probabilities in [0, 1] on the GPU: float32 [D, H, W]. */
export interface GpuProbabilityMasks extends GpuMasksBase {
  readonly format: 'probability';
  /** Copies the masks to the CPU: [D, H, W] row-major (equal to `masks: 'probability', maskExtent: 'image'` to ~1e-6). */
  download(): Promise<Float32Array>;
}

/** Binary masks on the GPU after `maskThreshold` (torchvision's `>`): uint8 [D, H, W] of 0 / 1. */
export interface GpuBinaryMasks extends GpuMasksBase {
  readonly format: 'binary';
  /** Copies the masks to the CPU: [D, H, W] row-major 0 / 1 (the CPU's binary masks, but for exact-threshold ties). */
  download(): Promise<Uint8Array>;
}

export type GpuMasks = GpuProbabilityMasks | GpuBinaryMasks;

export type MaskOutput = 'binary' | 'probability' | 'rle' | 'none';

/** The window binary and probability masks cover: the detection's box (default) or the whole image. */
export type MaskExtent = 'box' | 'image';

/** Options of `detect`. */
export interface DetectOptions {
  /**
   * Drop detections below this score (default 0.5, as the CLI; the model's own floor, torchvision's
   * 0.05, applies first: pass 0 to get everything the model keeps, as COCO evaluation does).
   */
  scoreThreshold?: number;
  /** Keep at most this many detections (by decreasing score); the model's cap (100) applies first. */
  maxDetections?: number;
  /** Keep only these class names (or labels). */
  classes?: ReadonlyArray<string | number>;
  /** Probability above which a pixel belongs to the mask (default 0.5, as torchvision's `> 0.5`). */
  maskThreshold?: number;
  /** Mask form: 'binary' (default), 'probability', 'rle', or 'none'. */
  masks?: MaskOutput;
  /** Window of binary and probability masks: 'box' (default, the detection's box) or 'image'. */
  maskExtent?: MaskExtent;
  /** Apply the EXIF orientation of encoded images (default true). */
  applyExifOrientation?: boolean;
  /** Refuse images with more pixels than this, before decoding (default 100 MP). */
  maxPixels?: number;
  /** Aborts the call between stages; it then rejects with `signal.reason` (an AbortError). */
  signal?: AbortSignal;
  /**
   * Also return the backbone's feature maps as `result.pyramid` (default false): every level's
   * [C, H, W] activations, e.g. to look at what the network sees. Costs the maps' memory
   * (a COCO ResNet-50-FPN at 800x1216: 83 MB; the bundled shapes model: 1.4 MB); no extra computation.
   */
  pyramid?: boolean;
  /**
   * Also paste the masks on the GPU and leave them there as `result.gpuMasks` (default 'none'):
   * 'probability' (float32 [D, H, W]) or 'binary' (uint8 0 / 1 after `maskThreshold`), e.g. to draw
   * them without a round trip through the CPU. Only on provider 'webgpu' (elsewhere a
   * DetectOptionsError). Independent of `masks`: pass `masks: 'none'` to skip the CPU paste.
   */
  gpuMasks?: GpuMaskOutput;
}

/** The defaults `detect` applies, shared by the library and the CLI. */
export const detectDefaults = {
  scoreThreshold: 0.5,
  maskThreshold: 0.5,
  masks: 'binary',
  maskExtent: 'box',
  gpuMasks: 'none',
} as const;
