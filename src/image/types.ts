/**
 * What `detect` accepts as an image, and the decoded form every input becomes.
 */

/** Raw pixels as in ImageData: RGBA (4 channels) or RGB (3), row-major, 8 bits per channel. */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** 3 or 4; inferred from data.length when omitted. */
  channels?: 3 | 4;
}

/** The subset of a jimp image resdet reads. */
export interface JimpLike {
  bitmap: { data: Uint8Array | Buffer; width: number; height: number };
}

/** A file path, an encoded file in memory, a jimp image, or raw pixels. */
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
