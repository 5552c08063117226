/**
 * Image decoding in browsers: encoded files through the browser's own decoders (libjpeg-turbo for
 * JPEG in Chromium and Firefox) with createImageBitmap, EXIF orientation applied as the page would
 * show it; elements, canvases, bitmaps and video frames read back through a 2-D canvas.
 * Each DOM class is feature-detected (`typeof X !== 'undefined'`), so this also runs in workers,
 * where HTMLImageElement and friends do not exist.
 */
import { ImageDecodeError, kindOf } from './errors.js';
import type { BrowserImageInput } from './browserTypes.js';
import { DEFAULT_MAX_PIXELS, type DecodedImage, type DecodeOptions, type RawPixels } from './types.js';

/** What a 2-D canvas can draw, with the size to draw it at. */
interface Drawable { image: CanvasImageSource; width: number; height: number }

const is = <T>(type: (abstract new (...args: never[]) => T) | undefined, input: unknown): input is T =>
  type !== undefined && input instanceof type;

/** `globalThis[name]` when this realm has it (HTMLImageElement is absent in workers). */
function domClass<T>(name: string): (abstract new (...args: never[]) => T) | undefined {
  return (globalThis as Record<string, unknown>)[name] as (abstract new (...args: never[]) => T) | undefined;
}

function rgbFromRgba(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, source: string, channels = 4): DecodedImage {
  const n = width * height;
  if (rgba.length !== n * channels) throw new ImageDecodeError(source, `pixel data has ${rgba.length} bytes, expected ${n * channels} for ${width}x${height}x${channels}`);
  const rgb = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n * channels; i += channels, j += 3) {
    rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
  }
  return { rgb, width, height, decoder: 'browser' };
}

function checkSize(width: number, height: number, maxPixels: number, source: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new ImageDecodeError(source, `invalid image size ${width}x${height}`);
  if (width * height > maxPixels) throw new ImageDecodeError(source, `image is ${width}x${height} = ${width * height} pixels, over the limit of ${maxPixels} (option maxPixels)`);
}

/** An element or frame with the size it would be drawn at, or an error saying why it has no pixels yet. */
function drawable(input: BrowserImageInput): { drawable: Drawable; source: string } | undefined {
  if (is(domClass<HTMLImageElement>('HTMLImageElement'), input)) {
    const source = `HTMLImageElement ${input.currentSrc || input.src}`.trim();
    if (!input.complete) throw new ImageDecodeError(source, 'the image has not loaded yet: await img.decode() (or its load event) before detect');
    if (input.naturalWidth === 0) throw new ImageDecodeError(source, 'the image failed to load (broken or unsupported source)');
    return { drawable: { image: input, width: input.naturalWidth, height: input.naturalHeight }, source };
  }
  if (is(domClass<HTMLVideoElement>('HTMLVideoElement'), input)) {
    const source = `HTMLVideoElement ${input.currentSrc || input.src}`.trim();
    // HAVE_CURRENT_DATA: the frame at the current position is available.
    if (input.readyState < 2 || input.videoWidth === 0) throw new ImageDecodeError(source, "the video has no frame yet: wait for its 'loadeddata' event before detect");
    return { drawable: { image: input, width: input.videoWidth, height: input.videoHeight }, source };
  }
  if (is(domClass<HTMLCanvasElement>('HTMLCanvasElement'), input)) return { drawable: { image: input, width: input.width, height: input.height }, source: 'HTMLCanvasElement' };
  if (is(domClass<OffscreenCanvas>('OffscreenCanvas'), input)) return { drawable: { image: input, width: input.width, height: input.height }, source: 'OffscreenCanvas' };
  if (is(domClass<ImageBitmap>('ImageBitmap'), input)) {
    if (input.width === 0) throw new ImageDecodeError('ImageBitmap', 'the ImageBitmap is closed (detached) or empty');
    return { drawable: { image: input, width: input.width, height: input.height }, source: 'ImageBitmap' };
  }
  if (is(domClass<VideoFrame>('VideoFrame'), input)) {
    if (input.format === null && input.displayWidth === 0) throw new ImageDecodeError('VideoFrame', 'the VideoFrame is closed');
    return { drawable: { image: input, width: input.displayWidth, height: input.displayHeight }, source: 'VideoFrame' };
  }
  return undefined;
}

/** The RGBA pixels of something drawable, through a 2-D canvas. */
function readPixels({ image, width, height }: Drawable, source: string): Uint8ClampedArray {
  const canvas = typeof OffscreenCanvas !== 'undefined'
    ? new OffscreenCanvas(width, height)
    : Object.assign(document.createElement('canvas'), { width, height });
  const context = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!context) throw new ImageDecodeError(source, 'no 2-D canvas context to read the pixels with');
  context.drawImage(image, 0, 0, width, height);
  try {
    return context.getImageData(0, 0, width, height).data;
  } catch (e) {
    // A cross-origin image without CORS taints the canvas; its pixels cannot be read.
    throw new ImageDecodeError(source, `its pixels cannot be read (${(e as Error).message}): serve a cross-origin image with Access-Control-Allow-Origin and set img.crossOrigin = 'anonymous'`, { cause: e });
  }
}

/** Encoded bytes (a URL's body, a Blob, an ArrayBuffer or Uint8Array) as a Blob, or undefined. */
async function encodedBlob(input: BrowserImageInput, source: string): Promise<Blob | undefined> {
  if (typeof input === 'string' || input instanceof URL) {
    const response = await fetch(input).catch((e: Error) => { throw new ImageDecodeError(source, `cannot fetch (${e.message})`); });
    if (!response.ok) throw new ImageDecodeError(source, `cannot fetch (HTTP ${response.status})`);
    return response.blob();
  }
  if (input instanceof Blob) return input;
  if (input instanceof ArrayBuffer || input instanceof Uint8Array) return new Blob([input as Uint8Array<ArrayBuffer>]);
  return undefined;
}

function isRawPixels(input: BrowserImageInput): input is RawPixels | ImageData {
  return typeof input === 'object' && input !== null && 'data' in input && 'width' in input && 'height' in input;
}

/**
 * Decodes what a page holds (see BrowserImageInput) to 8-bit RGB. Errors name the input (its URL
 * where it has one) and what to do, e.g. wait for an image to load.
 */
export async function decodeImageInBrowser(input: BrowserImageInput, options: DecodeOptions = {}): Promise<DecodedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const element = drawable(input);
  if (element) {
    checkSize(element.drawable.width, element.drawable.height, maxPixels, element.source);
    const { width, height } = element.drawable;
    return { ...rgbFromRgba(readPixels(element.drawable, element.source), width, height, element.source), decoder: `browser (${element.source.split(' ')[0]})` };
  }
  if (isRawPixels(input)) {
    const source = is(domClass<ImageData>('ImageData'), input) ? 'ImageData' : 'pixels';
    // 0-1 floats would otherwise become a black image without a word.
    if (!(input.data instanceof Uint8Array || input.data instanceof Uint8ClampedArray)) {
      throw new ImageDecodeError(source, `data is ${kindOf(input.data)}: raw pixels are 8-bit, 0-255, in a Uint8Array or Uint8ClampedArray (scale 0-1 floats by 255 first)`);
    }
    checkSize(input.width, input.height, maxPixels, source);
    const channels = ('channels' in input ? input.channels : undefined) ?? (input.data.length === input.width * input.height * 3 ? 3 : 4);
    return { ...rgbFromRgba(input.data, input.width, input.height, source, channels), decoder: source === 'ImageData' ? 'ImageData (given)' : 'raw pixels' };
  }
  const source = typeof input === 'string' ? input : input instanceof URL ? input.href : input instanceof Blob ? ((input as File).name || 'Blob') : 'buffer';
  const blob = await encodedBlob(input, source);
  if (!blob) throw new ImageDecodeError(typeof input === 'object' && input !== null ? 'image' : String(input), 'not an image input: pass a URL, Blob, ArrayBuffer/Uint8Array, image or video element, canvas, ImageBitmap, VideoFrame or ImageData');
  if (blob.size === 0) throw new ImageDecodeError(source, 'empty file');
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: options.applyExifOrientation === false ? 'none' : 'from-image' });
  } catch (e) {
    throw new ImageDecodeError(source, `not a readable image (${(e as Error).message})`, { cause: e });
  }
  try {
    checkSize(bitmap.width, bitmap.height, maxPixels, source);
    const { width, height } = bitmap;
    return { ...rgbFromRgba(readPixels({ image: bitmap, width, height }, source), width, height, source), decoder: 'browser (createImageBitmap)' };
  } finally {
    bitmap.close();
  }
}
