/**
 * Image decoding in browsers: the browser's own decoders (libjpeg-turbo for JPEG in Chromium and
 * Firefox) through createImageBitmap, EXIF orientation applied as the page would show it.
 */
import { ImageDecodeError } from './errors.js';
import { DEFAULT_MAX_PIXELS, type DecodedImage, type DecodeOptions, type ImageInput } from './types.js';

function rgbFromRgba(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, source: string, channels = 4): DecodedImage {
  const n = width * height;
  if (rgba.length !== n * channels) throw new ImageDecodeError(source, `pixel data has ${rgba.length} bytes, expected ${n * channels} for ${width}x${height}x${channels}`);
  const rgb = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n * channels; i += channels, j += 3) {
    rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
  }
  return { rgb, width, height, decoder: 'browser' };
}

/** Decodes a URL, encoded bytes, a jimp image or raw pixels to 8-bit RGB in a browser. */
export async function decodeImageInBrowser(input: ImageInput, options: DecodeOptions = {}): Promise<DecodedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (typeof input === 'object' && 'bitmap' in input) {
    return rgbFromRgba(input.bitmap.data, input.bitmap.width, input.bitmap.height, 'jimp image');
  }
  if (typeof input === 'object' && 'width' in input && 'data' in input) {
    const channels = input.channels ?? (input.data.length === input.width * input.height * 3 ? 3 : 4);
    return rgbFromRgba(input.data, input.width, input.height, 'pixels', channels);
  }
  const source = typeof input === 'string' ? input : 'buffer';
  let blob: Blob;
  if (typeof input === 'string') {
    const response = await fetch(input).catch((e: Error) => { throw new ImageDecodeError(source, `cannot fetch (${e.message})`); });
    if (!response.ok) throw new ImageDecodeError(source, `cannot fetch (HTTP ${response.status})`);
    blob = await response.blob();
  } else {
    blob = new Blob([input as Uint8Array<ArrayBuffer>]);
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: options.applyExifOrientation === false ? 'none' : 'from-image' });
  } catch (e) {
    throw new ImageDecodeError(source, `not a readable image (${(e as Error).message})`);
  }
  const { width, height } = bitmap;
  if (width * height > maxPixels) throw new ImageDecodeError(source, `image is ${width}x${height} = ${width * height} pixels, over the limit of ${maxPixels} (option maxPixels)`);
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d')!;
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { ...rgbFromRgba(context.getImageData(0, 0, width, height).data, width, height, source), decoder: 'browser (createImageBitmap)' };
}
