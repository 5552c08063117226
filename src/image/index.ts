/**
 * Image input for Node: decoding (see decode.ts) and the conversion to the float tensor the
 * transform takes. Exports decodeImage, toRgbImage, ImageDecodeError and the input types.
 */

export { decodeImage } from './decode.js';
export { ImageDecodeError } from './errors.js';
export * from './types.js';
export { toRgbImage } from './convert.js';
