/**
 * What Node's `detect` accepts as an image, the options and the decoded form every input becomes.
 * Runtime-neutral: no Node or DOM types, so both entry points' declarations can include it (the
 * browser's inputs are in browserTypes.ts).
 */

/** Raw pixels as in ImageData: RGBA (4 channels) or RGB (3), row-major, 8 bits per channel. */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** 3 or 4; inferred from data.length when omitted. */
  channels?: 3 | 4;
}

/** The subset of a jimp image resdet reads (jimp's pixel data is a Uint8Array subclass). */
export interface JimpLike {
  bitmap: { data: Uint8Array; width: number; height: number };
}

/**
 * Node's inputs: a file path, an encoded file in memory (any Uint8Array, Node's buffers too), a jimp image,
 * or raw pixels (an ImageData-like object).
 */
export type ImageInput = string | Uint8Array | JimpLike | RawPixels;

export interface DecodeOptions {
  /** Apply the EXIF orientation tag (default true), as PIL's exif_transpose does. */
  applyExifOrientation?: boolean;
  /** Refuse images with more pixels than this before decoding them (default 100 MP). */
  maxPixels?: number;
}

/** Decoded 8-bit RGB pixels, interleaved, row-major. */
export interface DecodedImage {
  rgb: Uint8Array;
  width: number;
  height: number;
  /** Which decoder produced the pixels, e.g. 'libjpeg-turbo (sharp)' or 'jimp'. */
  decoder: string;
}

export const DEFAULT_MAX_PIXELS = 100_000_000;
