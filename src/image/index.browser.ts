/**
 * Image input for browsers: the browser decoder, its input type (BrowserImageInput) and the
 * runtime-neutral types and error class, without the Node decoder.
 */
export { decodeImageInBrowser } from './browserDecode.js';
export type { BrowserImageInput } from './browserTypes.js';
export { ImageDecodeError } from './errors.js';
export { DEFAULT_MAX_PIXELS, type DecodedImage, type DecodeOptions, type RawPixels } from './types.js';
export { toRgbImage } from './convert.js';
