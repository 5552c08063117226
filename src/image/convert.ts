/** Decoded pixels -> the float tensor the transform takes. Runtime-neutral (no Node APIs). */
import type { RgbImage } from '../transform/index.js';
import type { DecodedImage } from './types.js';

/** Interleaved 8-bit RGB -> planar float32 [3, H, W] in [0, 1], as torchvision's to_tensor. */
export function toRgbImage(image: DecodedImage): RgbImage {
  const { rgb, width, height } = image;
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    data[i] = rgb[j] / 255;
    data[plane + i] = rgb[j + 1] / 255;
    data[2 * plane + i] = rgb[j + 2] / 255;
  }
  return { data, width, height };
}
