/** The transform's error: an image it cannot resize. Runtime-neutral. */
import { ImageDecodeError } from '../image/errors.js';

/**
 * An image so thin that resizing gives it a side of 0 pixels (e.g. 1x5000 with max_size 1333:
 * scale 0.2666, floor(1 * 0.2666) = 0). torchvision 0.14 fails on it too, inside F.interpolate
 * ("Input and output sizes should be greater than 0"). An ImageDecodeError, so code that catches
 * unusable images catches this one; it names the image's source (file, 'buffer', 'pixels').
 */
export class ImageSizeError extends ImageDecodeError {
  constructor(source: string, readonly height: number, readonly width: number, readonly resized: readonly [number, number]) {
    super(source, `a ${width}x${height} image resizes to ${resized[1]}x${resized[0]}, a side of 0 pixels: too thin to detect on (torchvision fails on it too); crop or pad it`);
  }
}

/** What an error names as the image: the path of a file, else the kind of input. */
export function imageSourceName(input: unknown): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return 'buffer';
  if (typeof input === 'object' && input !== null && 'bitmap' in input) return 'jimp image';
  if (typeof input === 'object' && input !== null && 'data' in input) return 'pixels';
  return 'image';
}
