/**
 * What the browser's `detect` accepts: what a page holds. DOM types only (no Node types), so the
 * browser entry's declarations compile without @types/node.
 */
import type { RawPixels } from './types.js';

/**
 * A browser image input:
 * - a URL (string or URL), fetched and decoded by the browser;
 * - encoded file bytes: a Blob or File, an ArrayBuffer or Uint8Array;
 * - something already decoded: a loaded HTMLImageElement, an HTMLVideoElement (its current
 *   frame), an HTMLCanvasElement or OffscreenCanvas, an ImageBitmap, a VideoFrame;
 * - pixels: ImageData, or any {data, width, height} RGBA / RGB (e.g. a jimp image's `bitmap`).
 */
export type BrowserImageInput =
  | string | URL
  | Blob | ArrayBuffer | Uint8Array
  | HTMLImageElement | HTMLVideoElement | HTMLCanvasElement | OffscreenCanvas | ImageBitmap | VideoFrame
  | ImageData | RawPixels;
