/** Image input for browsers: the types and error class, without the Node decoder. */
export { decodeImageInBrowser } from './browserDecode.js';
export { ImageDecodeError } from './errors.js';
export * from './types.js';
export { toRgbImage } from './convert.js';
