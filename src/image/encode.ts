/** PNG encoding for previews: sharp (libvips, fast) when installed, jimp otherwise. */
import type sharpFn from 'sharp';

/** PNG bytes of RGBA pixels [H, W, 4]. */
export async function encodePng(rgba: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const sharp = await import('sharp').then((m) => m.default as unknown as typeof sharpFn, () => null);
  if (sharp) return sharp(rgba, { raw: { width, height, channels: 4 } }).png({ compressionLevel: 6 }).toBuffer();
  const { Jimp } = await import('jimp');
  const image = Jimp.fromBitmap({ data: Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength), width, height });
  return image.getBuffer('image/png');
}
