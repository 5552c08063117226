/**
 * The GeneralizedRCNNTransform stage: RGB [0, 1] -> normalise -> bilinear resize to min/max size ->
 * zero-pad to a multiple of `sizeDivisible` (torchvision 0.14 models/detection/transform.py, in that
 * order: padding is zero after normalisation).
 *
 * H, W: original image size; h, w: resized size; Hp, Wp: padded size.
 */
import type { TransformConfig } from '../config.js';
import { ImageSizeError } from './errors.js';
import { resizeBilinearInto, resizeBilinearRgb8Into } from './resize.js';

export { ImageSizeError, imageSourceName } from './errors.js';

/** An RGB image as planar float32 [3, H, W], values in [0, 1] (torchvision's `to_tensor`). */
export interface RgbImage {
  data: Float32Array;
  height: number;
  width: number;
}

/** Decoded 8-bit RGB, interleaved [H, W, 3]: what decoders give; to_tensor's v / 255 is applied on the fly. */
export interface Rgb8Image {
  rgb: Uint8Array;
  height: number;
  width: number;
}

/** One image ready for the backbone. */
export interface ImageBatch {
  /** [1, 3, Hp, Wp] normalised, resized, zero-padded. */
  data: Float32Array;
  paddedSize: [number, number];
  /** (h, w) after resizing, before padding: the image size the heads clip to. */
  imageSize: [number, number];
  /** (H, W) of the input, to map detections back. */
  originalSize: [number, number];
}

/**
 * The resized (h, w) of an H x W image. torchvision 0.14 computes the scale in float32 as
 * `reciprocal(short) * min_size` (so 427x640 -> 799x1199); 'float64' is newer releases' rule.
 * The output size is floor(side * scale), as F.interpolate with recompute_scale_factor=True does.
 */
export function resizedSize(height: number, width: number, cfg: TransformConfig): [number, number] {
  const short = Math.min(height, width);
  const long = Math.max(height, width);
  let scale: number;
  if (cfg.resizeScaleRule === 'torchvision-0.14') {
    const f = Math.fround;
    scale = Math.min(f(f(1 / f(short)) * cfg.minSize), f(f(1 / f(long)) * cfg.maxSize));
  } else {
    scale = Math.min(cfg.minSize / short, cfg.maxSize / long);
  }
  return [Math.floor(height * scale), Math.floor(width * scale)];
}

/**
 * The resized (h, w), or an ImageSizeError naming `source` when a side would be 0 pixels
 * (floor(short * scale) < 1: a long side over about max_size times the short one).
 */
export function checkedResizedSize(height: number, width: number, cfg: TransformConfig, source = 'image'): [number, number] {
  const size = resizedSize(height, width, cfg);
  if (size[0] < 1 || size[1] < 1) throw new ImageSizeError(source, height, width, size);
  return size;
}

/** Padded size: each side rounded up to a multiple of `divisible`. */
export function paddedSize(height: number, width: number, divisible: number): [number, number] {
  return [Math.ceil(height / divisible) * divisible, Math.ceil(width / divisible) * divisible];
}

/**
 * Normalise, resize and pad one image (torchvision `GeneralizedRCNNTransform.forward` at test time).
 * 8-bit images never get a full-size float copy: each channel's 256 possible normalised values
 * (`(float32(v / 255) - mean) / std` in float32, what the float path computes per pixel) are a table
 * the resize reads through, giving the same tensor to the bit.
 */
export function transformImage(image: RgbImage | Rgb8Image, cfg: TransformConfig): ImageBatch {
  const { height, width } = image;
  const [h, w] = checkedResizedSize(height, width, cfg); // before any allocation
  const [hp, wp] = paddedSize(h, w, cfg.sizeDivisible);
  const data = new Float32Array(3 * hp * wp);
  if ('rgb' in image) {
    const lut = new Float32Array(3 * 256);
    for (let c = 0; c < 3; c++) {
      const mean = Math.fround(cfg.imageMean[c]);
      const std = Math.fround(cfg.imageStd[c]);
      for (let v = 0; v < 256; v++) lut[c * 256 + v] = (Math.fround(v / 255) - mean) / std;
    }
    resizeBilinearRgb8Into(image.rgb, lut, height, width, data, h, w, wp, hp * wp);
  } else {
    const plane = height * width;
    const normalized = new Float32Array(3 * plane);
    for (let c = 0; c < 3; c++) {
      const mean = Math.fround(cfg.imageMean[c]);
      const std = Math.fround(cfg.imageStd[c]);
      for (let i = c * plane, end = i + plane; i < end; i++) normalized[i] = (image.data[i] - mean) / std;
    }
    resizeBilinearInto(normalized, 3, height, width, data, h, w, wp, hp * wp);
  }
  return { data, paddedSize: [hp, wp], imageSize: [h, w], originalSize: [height, width] };
}
