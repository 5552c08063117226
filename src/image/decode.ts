/**
 * Image decoding for Node. Encoded files go through sharp (libvips with libjpeg-turbo's decoder,
 * the decoder behind PIL, torchvision pipelines and browsers) when it is installed, and through
 * jimp otherwise. jimp's own JPEG decoder differs from libjpeg-turbo by up to 25 levels, enough to
 * move detections, so the decoder used is reported with every result. CMYK images (CMYK, YCCK and
 * Adobe-inverted JPEGs, CMYK TIFF) are converted to RGB as PIL's convert('RGB') does, not through
 * their ICC profile (see cmykToRgb); jimp, without sharp, converts them its own way.
 */
import { readFile } from 'node:fs/promises';
import { ImageDecodeError, kindOf } from './errors.js';
import { loadSharp, type SharpModule } from './sharp.js';
import { sniffFormat, steadyDecode } from './vipsReason.js';
import {
  DEFAULT_MAX_PIXELS, type DecodedImage, type DecodeOptions, type ImageInput, type JimpLike, type RawPixels,
} from './types.js';

/** Decode options with defaults filled in; `maxPixelsGiven` when the caller chose the limit. */
type ResolvedDecodeOptions = Required<DecodeOptions> & { maxPixelsGiven: boolean };

function isRawPixels(input: ImageInput): input is RawPixels {
  return typeof input === 'object' && 'data' in input && 'width' in input && !('bitmap' in input);
}

function isJimpLike(input: ImageInput): input is JimpLike {
  return typeof input === 'object' && 'bitmap' in input;
}

const ACCEPTED = 'give a file path, the encoded file as a Uint8Array (or Buffer), a jimp image, or raw pixels { data, width, height, channels? }';

/**
 * Refuses what is not one of the accepted inputs before anything reads it: a bare object would
 * otherwise reach libvips as "bytes", and pixels in a Float32Array (0-1 floats) would silently
 * become a black image.
 */
function checkInput(input: unknown): asserts input is ImageInput {
  if (typeof input === 'string' || input instanceof Uint8Array) return;
  if (input instanceof ArrayBuffer) throw new ImageDecodeError('image', `an ArrayBuffer is not an image input: wrap it as new Uint8Array(buffer) (${ACCEPTED})`);
  if (typeof input !== 'object' || input === null) throw new ImageDecodeError('image', `${kindOf(input)} is not an image input: ${ACCEPTED}`);
  if ('bitmap' in input) {
    const data = (input as { bitmap?: { data?: unknown } }).bitmap?.data;
    if (!(data instanceof Uint8Array)) throw new ImageDecodeError('jimp image', `its bitmap.data is ${kindOf(data)}, not 8-bit RGBA bytes (a Uint8Array or Buffer)`);
    return;
  }
  if ('data' in input) {
    const { data } = input as { data: unknown };
    if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) {
      throw new ImageDecodeError('pixels', `data is ${kindOf(data)}: raw pixels are 8-bit, 0-255, in a Uint8Array or Uint8ClampedArray (scale 0-1 floats by 255 first)`);
    }
    if (!('width' in input) || !('height' in input)) throw new ImageDecodeError('pixels', 'raw pixels need width and height beside data');
    return;
  }
  throw new ImageDecodeError('image', `${kindOf(input)} is not an image input: ${ACCEPTED}`);
}

/** Drops alpha (as PIL's convert('RGB') does: no compositing) from 3- or 4-channel pixels. */
function toRgb(data: Uint8Array | Uint8ClampedArray, width: number, height: number, channels: number, source: string): Uint8Array {
  const n = width * height;
  if (data.length !== n * channels) {
    throw new ImageDecodeError(source, `pixel data has ${data.length} bytes, expected ${n * channels} for ${width}x${height}x${channels}`);
  }
  if (channels === 3) return Uint8Array.from(data);
  const rgb = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n * channels; i += channels, j += 3) {
    rgb[j] = data[i];
    rgb[j + 1] = data[i + 1];
    rgb[j + 2] = data[i + 2];
  }
  return rgb;
}

/**
 * CMYK -> RGB as PIL's convert('RGB') does it (libImaging/Convert.c cmyk2rgb):
 * R = (255 - K) - C * (255 - K) / 255, rounded as its MULDIV255, and no ICC profile, the
 * conversion torchvision users' models saw. libvips would convert through the file's ICC profile
 * (or its own CMYK profile), which differs from PIL by ~13 levels on average. The CMYK samples
 * themselves are PIL's: libvips inverts Adobe JPEGs' samples as PIL does (measured equal for
 * Adobe CMYK, marker-less CMYK, YCCK and CMYK TIFF: test/image/cmyk.test.ts).
 */
function cmykToRgb(data: Uint8Array, width: number, height: number, channels: number, source: string): Uint8Array {
  const n = width * height;
  if (channels !== 4 || data.length !== n * 4) {
    throw new ImageDecodeError(source, `CMYK pixel data has ${data.length} bytes in ${channels} channels, expected ${n * 4} for ${width}x${height}x4`);
  }
  const rgb = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n * 4; i += 4, j += 3) {
    const nk = 255 - data[i + 3];
    for (let c = 0; c < 3; c++) {
      const t = data[i + c] * nk + 128;
      rgb[j + c] = nk - (((t >> 8) + t) >> 8); // never below 0: C * nk / 255 <= nk
    }
  }
  return rgb;
}

/** Past this many pixels, an image must hold at least one byte of file per {@link BOMB_PIXELS_PER_BYTE} pixels. */
const BOMB_MIN_PIXELS = 16_000_000;
/**
 * Real photos hold well under 20 pixels per byte of JPEG or PNG and flat screenshots a few
 * hundred at most; a 300 KB PNG of zeros claiming 10000 x 10000 (333 pixels per byte) or a 24 KB
 * JPEG whose header claims 100 MP would cost gigabytes to decode for nothing.
 */
const BOMB_PIXELS_PER_BYTE = 200;

/**
 * Refuses a large image whose header claims far more pixels than its bytes can describe (a
 * decompression bomb, or a truncated file that libjpeg would pad with grey). Applies under the
 * default `maxPixels`; a caller who passes `maxPixels` decides for themselves.
 */
function checkNotBomb(width: number, height: number, fileBytes: number, source: string): void {
  const pixels = width * height;
  if (pixels > BOMB_MIN_PIXELS && pixels > BOMB_PIXELS_PER_BYTE * fileBytes) {
    throw new ImageDecodeError(source, `claims ${width}x${height} = ${pixels} pixels from only ${fileBytes} bytes (${Math.round(pixels / fileBytes)} pixels per byte): a decompression bomb or a truncated file, refused before decoding (pass the maxPixels option explicitly to decode it anyway)`);
  }
}

function checkSize(width: number, height: number, maxPixels: number, source: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageDecodeError(source, `invalid image size ${width}x${height}`);
  }
  if (width * height > maxPixels) {
    throw new ImageDecodeError(source, `image is ${width}x${height} = ${width * height} pixels, over the limit of ${maxPixels} (option maxPixels)`);
  }
}

/**
 * The library that decoded `format` inside sharp's libvips, with versions: e.g.
 * 'libjpeg-turbo (mozjpeg 0826579), libvips 8.18.7, sharp 0.35.5'. (sharp's libvips decodes JPEG
 * with mozjpeg, whose decoder is libjpeg-turbo's: the pixels equal PIL's.)
 */
function sharpDecoderName(sharp: SharpModule, format: string | undefined): string {
  const v = sharp.versions as Record<string, string | undefined>;
  const lib = (name: string, key: string) => (v[key] ? `${name} ${v[key]}` : name);
  const byFormat: Record<string, string> = {
    jpeg: `libjpeg-turbo (${lib('mozjpeg', 'mozjpeg')})`,
    png: lib('libpng', 'png'),
    webp: lib('libwebp', 'webp'),
    tiff: lib('libtiff', 'tiff'),
    gif: 'libnsgif',
    heif: lib('libheif', 'heif'),
    svg: lib('librsvg', 'rsvg'),
  };
  return `${byFormat[format ?? ''] ?? `${format ?? 'unknown format'} loader`}, libvips ${v.vips}, sharp ${v.sharp}`;
}

/**
 * 16-bit images keep their high byte (v >> 8, as libvips and browsers do); PIL's convert('RGB')
 * clips them at 255 instead, which no model was trained on.
 */
async function decodeWithSharp(sharp: SharpModule, bytes: Uint8Array, source: string, options: ResolvedDecodeOptions): Promise<DecodedImage> {
  const unsupported = (message: string) => /unsupported image format/i.test(message);
  const meta = await steadyDecode(() => sharp(bytes, { limitInputPixels: false }).metadata(), sniffFormat(bytes), unsupported);
  if (!meta.ok) {
    // Formats libvips lacks (BMP) go to jimp; jimp names the problem if it cannot read them either.
    if (unsupported(meta.reason)) return decodeWithJimp(bytes, source, options);
    throw new ImageDecodeError(source, `not a readable image (${meta.reason})`);
  }
  const { width = 0, height = 0, format, space, depth } = meta.value;
  // The limits are checked on the header, before any pixel is decoded.
  checkSize(width, height, options.maxPixels, source);
  if (!options.maxPixelsGiven) checkNotBomb(width, height, bytes.byteLength, source);
  const cmyk = space === 'cmyk' && depth === 'uchar';
  const pixels = await steadyDecode(() => sharpPixels(sharp, bytes, format, cmyk, source, options), format);
  if (!pixels.ok) throw new ImageDecodeError(source, `cannot decode (${pixels.reason})`);
  return pixels.value;
}

async function sharpPixels(sharp: SharpModule, bytes: Uint8Array, format: string | undefined, cmyk: boolean, source: string, options: ResolvedDecodeOptions): Promise<DecodedImage> {
  let pipeline = sharp(bytes, { limitInputPixels: false, failOn: 'truncated' });
  if (options.applyExifOrientation) pipeline = pipeline.rotate();
  if (cmyk) {
    const { data, info } = await pipeline.pipelineColourspace('cmyk').toColourspace('cmyk').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { rgb: cmykToRgb(data, info.width, info.height, info.channels, source), width: info.width, height: info.height, decoder: `${sharpDecoderName(sharp, format)}, CMYK to RGB as PIL` };
  }
  const { data, info } = await pipeline
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  // sharp's buffer is ours alone: an RGB one is used as it is, not copied.
  const rgb = info.channels === 3 && data.byteLength === 3 * info.width * info.height
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : toRgb(data, info.width, info.height, info.channels, source);
  return { rgb, width: info.width, height: info.height, decoder: sharpDecoderName(sharp, format) };
}

async function decodeWithJimp(bytes: Uint8Array, source: string, options: ResolvedDecodeOptions): Promise<DecodedImage> {
  const { Jimp } = await import('jimp');
  let image;
  try {
    image = await Jimp.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    // jimp's word for bytes of no format it knows is "Could not find MIME for Buffer".
    const reason = /could not find mime/i.test((e as Error).message) ? 'its bytes are in no image format resdet reads, e.g. JPEG, PNG, WebP, TIFF, GIF or BMP' : (e as Error).message;
    throw new ImageDecodeError(source, `not a readable image (${reason})`);
  }
  // jimp decodes before we can see the header; the limit still guards everything after.
  checkSize(image.bitmap.width, image.bitmap.height, options.maxPixels, source);
  const { data, width, height } = image.bitmap;
  return { rgb: toRgb(data, width, height, 4, source), width, height, decoder: 'jimp' };
}

/** Decodes any accepted input to 8-bit RGB. Errors name the file (or 'buffer' / 'pixels'). */
export async function decodeImage(input: ImageInput, options: DecodeOptions = {}): Promise<DecodedImage> {
  checkInput(input);
  const opts: ResolvedDecodeOptions = {
    applyExifOrientation: options.applyExifOrientation ?? true,
    maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
    maxPixelsGiven: options.maxPixels !== undefined,
  };
  if (isJimpLike(input)) {
    const { data, width, height } = input.bitmap;
    checkSize(width, height, opts.maxPixels, 'jimp image');
    return { rgb: toRgb(data, width, height, 4, 'jimp image'), width, height, decoder: 'jimp (given)' };
  }
  if (isRawPixels(input)) {
    const { data, width, height } = input;
    checkSize(width, height, opts.maxPixels, 'pixels');
    const channels = input.channels ?? (data.length === width * height * 3 ? 3 : 4);
    return { rgb: toRgb(data, width, height, channels, 'pixels'), width, height, decoder: 'raw pixels' };
  }
  let bytes: Uint8Array;
  let source = 'buffer';
  if (typeof input === 'string') {
    source = input;
    try {
      bytes = await readFile(input);
    } catch (e) {
      throw new ImageDecodeError(source, `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  } else {
    bytes = input;
  }
  if (bytes.byteLength === 0) throw new ImageDecodeError(source, 'empty file');
  const sharp = await loadSharp();
  return sharp ? decodeWithSharp(sharp, bytes, source, opts) : decodeWithJimp(bytes, source, opts);
}
