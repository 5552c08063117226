/**
 * sharp is an optional dependency (prebuilt libvips is not on every platform): loaded once, on
 * first use, or null when it cannot be, and then jimp does the work. Node only.
 */
import type sharpFn from 'sharp';

export type SharpModule = typeof sharpFn;

let sharpModule: Promise<SharpModule | null> | undefined;

/** sharp if it can be loaded on this platform, else null. */
export function loadSharp(): Promise<SharpModule | null> {
  sharpModule ??= import('sharp').then((m) => m.default as unknown as SharpModule, () => null);
  return sharpModule;
}
