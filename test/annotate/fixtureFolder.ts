/**
 * A folder of about 40 files for the `resdet annotate` tests: images the bundled `shapes` model
 * finds objects in (drawn by the project's shapes scene generator) in every format and shape the
 * decoder claims, files that must fail with an error the run records, and files the folder walker
 * must not pick up. A pure function of `options` (seeded, fixed encoder settings): two calls write
 * the same bytes (with the same sharp/libvips). About 1-2 s on 2 cores with the defaults.
 *
 * Layout (paths relative to the folder, '/'-separated):
 *   scene-NN.{png,jpg,jpeg,JPG,webp,tif,gif,bmp}  good scenes in several sizes and formats
 *   gray.png, gray.jpg, gray16.png (16-bit RGB), rgba.png, palette.png, exif-rotate-6.jpg
 *   a/…, a/b/…, a/b/c/…                             nested folders, 3 levels
 *   café/ß-图像.png, with space/my photo 1.jpg      unicode and spaces
 *   more/NNN.{png,jpg}                              extra good scenes past the fixed list
 *   bad/…                                           corrupt, truncated, empty, text, bombs, too thin
 *                                                   (a JPEG with garbage scan data is not here: libjpeg decodes it)
 *   notes.txt, a/readme.md, bad/labels.json         not images: the walker must ignore them
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { Prng, drawScene, sceneDefaults } from '../../src/dataset/index.js';

export type FixtureKind = 'good' | 'bad' | 'ignored';

/** One file of the fixture folder. */
export interface FixtureFile {
  /** Relative to the fixture folder, '/'-separated (NFC). */
  path: string;
  kind: FixtureKind;
  /** What the file is, for test messages. */
  description: string;
  /** Size of the file in bytes. */
  bytes: number;
  /** Good images: the decoded size (after the EXIF orientation). */
  width?: number;
  height?: number;
  /** Good scene images: the objects the scene generator annotated (what the model should find). */
  objects?: number;
  /** Bad files: the ResdetError code (ImageDecodeError and its ImageSizeError: 'IMAGE_DECODE'). */
  code?: string;
  /** Bad files: what the error message says (after the file's path). */
  error?: RegExp;
  /**
   * Bad files: where it fails. 'decode': decodeImage rejects it; 'transform': it decodes but the
   * transform's resize refuses it (ImageSizeError: a side resizes to 0 pixels).
   */
  failsAt?: 'decode' | 'transform';
}

export interface Fixture {
  dir: string;
  /** Every file written, sorted by path (code-unit order). */
  files: FixtureFile[];
  good: FixtureFile[];
  bad: FixtureFile[];
  ignored: FixtureFile[];
}

export interface FixtureOptions {
  /** Good images to write (default 30): the fixed variants first, then plain scenes under more/. */
  good?: number;
  /** Seed of the scenes and of the garbage bytes (default 11). */
  seed?: number;
}

type Encoding = 'png' | 'jpeg' | 'webp' | 'tiff' | 'gif' | 'bmp' | 'gray-png' | 'gray-jpeg' | 'png16' | 'rgba-png' | 'palette-png' | 'exif6-jpeg';

interface GoodSpec { path: string; width: number; height: number; encoding: Encoding; description: string }

/** The fixed good variants: formats, sizes, pixel layouts, folders, names. */
const GOOD_VARIANTS: GoodSpec[] = [
  { path: 'scene-01.png', width: 256, height: 256, encoding: 'png', description: 'RGB PNG 256x256' },
  { path: 'scene-02.jpg', width: 320, height: 240, encoding: 'jpeg', description: 'JPEG q90 320x240' },
  { path: 'scene-03.webp', width: 256, height: 192, encoding: 'webp', description: 'WebP q90 256x192' },
  { path: 'scene-04.jpeg', width: 180, height: 320, encoding: 'jpeg', description: 'JPEG (.jpeg) portrait 180x320' },
  { path: 'scene-05.JPG', width: 256, height: 256, encoding: 'jpeg', description: 'JPEG with an upper-case extension' },
  { path: 'scene-06.tif', width: 200, height: 200, encoding: 'tiff', description: 'TIFF 200x200' },
  { path: 'scene-07.gif', width: 160, height: 120, encoding: 'gif', description: 'GIF (palette) 160x120' },
  { path: 'scene-08.bmp', width: 150, height: 100, encoding: 'bmp', description: '24-bit BMP 150x100 (decoded by jimp)' },
  { path: 'scene-09.png', width: 480, height: 360, encoding: 'png', description: 'RGB PNG 480x360 (resized down)' },
  { path: 'scene-10.png', width: 96, height: 64, encoding: 'png', description: 'RGB PNG 96x64 (resized up)' },
  { path: 'gray.png', width: 256, height: 256, encoding: 'gray-png', description: 'grayscale PNG' },
  { path: 'gray.jpg', width: 240, height: 200, encoding: 'gray-jpeg', description: 'grayscale JPEG' },
  { path: 'gray16.png', width: 256, height: 256, encoding: 'png16', description: '16-bit RGB PNG' },
  { path: 'rgba.png', width: 256, height: 256, encoding: 'rgba-png', description: 'RGBA PNG (alpha dropped)' },
  { path: 'palette.png', width: 200, height: 150, encoding: 'palette-png', description: 'palette PNG' },
  { path: 'exif-rotate-6.jpg', width: 240, height: 160, encoding: 'exif6-jpeg', description: 'JPEG stored 160x240 with EXIF orientation 6: decodes upright to 240x160' },
  { path: 'a/top.png', width: 256, height: 256, encoding: 'png', description: 'nested, level 1' },
  { path: 'a/b/middle.jpg', width: 256, height: 256, encoding: 'jpeg', description: 'nested, level 2' },
  { path: 'a/b/c/deep.png', width: 224, height: 224, encoding: 'png', description: 'nested, level 3' },
  { path: 'a/b/c/deep-2.webp', width: 256, height: 256, encoding: 'webp', description: 'nested, level 3, WebP' },
  { path: 'café/ß-图像.png', width: 256, height: 256, encoding: 'png', description: 'unicode folder and name' },
  { path: 'with space/my photo 1.jpg', width: 256, height: 256, encoding: 'jpeg', description: 'spaces in folder and name' },
];

/** Plain good scene number `i` (0-based) past the fixed variants. */
function extraSpec(i: number): GoodSpec {
  const n = String(i + 1).padStart(3, '0');
  const jpeg = i % 2 === 1;
  return { path: `more/${n}.${jpeg ? 'jpg' : 'png'}`, width: 256, height: 256, encoding: jpeg ? 'jpeg' : 'png', description: `extra scene ${n}` };
}

/** The good images of a fixture of `count` good images. */
export function goodSpecs(count: number): GoodSpec[] {
  const specs = GOOD_VARIANTS.slice(0, count);
  for (let i = 0; specs.length < count; i++) specs.push(extraSpec(i));
  return specs;
}

/** 32-bit hash of (seed, index), the seed of one image's scene. */
function fileSeed(seed: number, index: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x2545f491, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ index, 0x85ebca77) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const raw = (width: number, height: number, channels: 1 | 3 | 4) => ({ raw: { width, height, channels } });

/** Luma of RGB [H, W, 3] (BT.601, rounded): a grayscale scene. */
function toGray(rgb: Uint8Array): Buffer {
  const gray = Buffer.alloc(rgb.length / 3);
  for (let i = 0; i < gray.length; i++) gray[i] = Math.round(0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]);
  return gray;
}

/** A 24-bit uncompressed bottom-up BMP (BITMAPINFOHEADER), written by hand: sharp cannot write BMP. */
export function encodeBmp(rgb: Uint8Array, width: number, height: number): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(stride * height, 34);
  out.writeInt32LE(2835, 38); // 72 dpi
  out.writeInt32LE(2835, 42);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const s = 3 * (y * width + x);
      out[row + 3 * x] = rgb[s + 2];
      out[row + 3 * x + 1] = rgb[s + 1];
      out[row + 3 * x + 2] = rgb[s];
    }
  }
  return out;
}

/** The encoded bytes of an RGB scene [H, W, 3]; fixed settings so bytes depend on pixels only. */
async function encode(rgb: Uint8Array, width: number, height: number, encoding: Encoding): Promise<Buffer> {
  const img = () => sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), raw(width, height, 3));
  switch (encoding) {
    case 'png': return img().png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
    case 'jpeg': return img().jpeg({ quality: 90 }).toBuffer();
    case 'webp': return img().webp({ quality: 90 }).toBuffer();
    case 'tiff': return img().tiff({ compression: 'lzw' }).toBuffer();
    case 'gif': return img().gif().toBuffer();
    case 'bmp': return encodeBmp(rgb, width, height);
    case 'gray-png': return sharp(toGray(rgb), raw(width, height, 1)).png().toBuffer();
    case 'gray-jpeg': return sharp(toGray(rgb), raw(width, height, 1)).jpeg({ quality: 90 }).toBuffer();
    case 'png16': return img().toColourspace('rgb16').png().toBuffer();
    case 'rgba-png': {
      const rgba = Buffer.alloc(width * height * 4);
      for (let i = 0; i < width * height; i++) {
        rgba.set(rgb.subarray(3 * i, 3 * i + 3), 4 * i);
        rgba[4 * i + 3] = 128 + (i % 128); // varying alpha, which the decoder drops without compositing
      }
      return sharp(rgba, raw(width, height, 4)).png().toBuffer();
    }
    case 'palette-png': return img().png({ palette: true, colours: 128, dither: 0 }).toBuffer();
    case 'exif6-jpeg': {
      // Stored rotated back by 90 degrees, so orientation 6 (rotate 90 clockwise to view) shows the scene upright.
      return img().rotate(-90).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer();
    }
  }
}

/** CRC-32 (ISO 3309, the PNG chunk checksum) of `bytes`. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/**
 * A valid-looking PNG of a few hundred bytes whose IHDR claims width x height (8-bit RGB), with one
 * IDAT of a few rows of zeros: a header-declared decompression bomb.
 */
export function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, no filter, no interlace
  const rows = deflateSync(Buffer.alloc(4 * (1 + 3 * width)), { level: 9 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', rows), pngChunk('IEND', new Uint8Array(0))]);
}

/** Bytes from a seeded generator. */
function garbage(rng: Prng, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rng.next() * 256);
  return out;
}

/** What bad files are made from: a good PNG and JPEG of one scene, and a generator for garbage. */
interface BadSource { png: Buffer; jpeg: Buffer; rng: Prng }

interface BadSpec { path: string; description: string; bytes: (src: BadSource) => Buffer | Promise<Buffer>; error: RegExp; failsAt: 'decode' | 'transform' }

/** Offset just past a PNG's IHDR chunk (signature 8 + length 4 + type 4 + data 13 + crc 4). */
const PNG_HEADER_END = 33;

const BAD: BadSpec[] = [
  { path: 'bad/corrupt.png', description: 'PNG signature and IHDR, then garbage', error: /cannot decode|not a readable image/, failsAt: 'decode',
    bytes: ({ png, rng }) => Buffer.concat([png.subarray(0, PNG_HEADER_END), garbage(rng, 4000)]) },
  { path: 'bad/truncated.png', description: 'first half of a PNG', error: /cannot decode|not a readable image/, failsAt: 'decode',
    bytes: ({ png }) => png.subarray(0, png.length >> 1) },
  { path: 'bad/truncated.jpg', description: 'first half of a JPEG', error: /cannot decode|not a readable image/, failsAt: 'decode',
    bytes: ({ jpeg }) => jpeg.subarray(0, jpeg.length >> 1) },
  { path: 'bad/empty.png', description: 'zero bytes', error: /empty file/, failsAt: 'decode', bytes: () => Buffer.alloc(0) },
  { path: 'bad/text.jpg', description: 'text with an image extension', error: /not a readable image/, failsAt: 'decode',
    bytes: () => Buffer.from('This is not a JPEG: it is a text file that happens to be named .jpg.\n') },
  { path: 'bad/bomb-60000x60000.png', description: 'a tiny PNG whose IHDR claims 60000x60000 (3.6 GP)', error: /over the limit of 100000000/, failsAt: 'decode',
    bytes: () => bombPng(60000, 60000) },
  { path: 'bad/bomb-5000x4000.png', description: 'a tiny PNG whose IHDR claims 5000x4000: under the pixel limit, far over the pixels per byte', error: /decompression bomb/, failsAt: 'decode',
    bytes: () => bombPng(5000, 4000) },
  { path: 'bad/thin-1x2000.png', description: 'a valid 1x2000 PNG: resizes to a side of 0 pixels (ImageSizeError)', error: /a side of 0 pixels/, failsAt: 'transform',
    bytes: () => sharp(Buffer.alloc(2000 * 3, 200), raw(1, 2000, 3)).png().toBuffer() },
];

const IGNORED: { path: string; text: string }[] = [
  { path: 'notes.txt', text: 'Fixture folder of resdet annotate tests. Not an image.\n' },
  { path: 'a/readme.md', text: '# nested folder\n' },
  { path: 'bad/labels.json', text: '{"images": []}\n' },
];

/**
 * Writes the fixture into `dir` (emptied first) and describes every file.
 * @param dir folder to (re)create
 */
export async function makeAnnotateFixture(dir: string, options: FixtureOptions = {}): Promise<Fixture> {
  const seed = options.seed ?? 11;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const write = (path: string, bytes: Uint8Array): number => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), bytes);
    return bytes.byteLength;
  };
  const files: FixtureFile[] = [];
  const specs = goodSpecs(options.good ?? 30);
  // Scenes are drawn on this thread while sharp encodes the previous ones on its own threads; in
  // batches, so a fixture of thousands of images (benchmarks) holds a few dozen at a time.
  for (let start = 0; start < specs.length; start += 32) {
    const batch = specs.slice(start, start + 32).map((spec, j) => {
      const scene = drawScene(new Prng(fileSeed(seed, start + j)), { ...sceneDefaults, width: spec.width, height: spec.height });
      return { spec, objects: scene.objects.length, bytes: encode(scene.rgb, spec.width, spec.height, spec.encoding) };
    });
    const bytes = await Promise.all(batch.map((e) => e.bytes));
    for (const [j, { spec, objects }] of batch.entries()) {
      // The EXIF-rotated JPEG stores the scene turned; decoded upright, its size is the scene's own.
      files.push({ path: spec.path, kind: 'good', description: spec.description, bytes: write(spec.path, bytes[j]), width: spec.width, height: spec.height, objects });
    }
  }
  const rng = new Prng(fileSeed(seed, 1_000_000));
  const base = drawScene(rng.fork(), { ...sceneDefaults, width: 256, height: 256 });
  const src: BadSource = { png: await encode(base.rgb, 256, 256, 'png'), jpeg: await encode(base.rgb, 256, 256, 'jpeg'), rng };
  for (const spec of BAD) {
    const content = await spec.bytes(src);
    files.push({ path: spec.path, kind: 'bad', description: spec.description, bytes: write(spec.path, content), code: 'IMAGE_DECODE', error: spec.error, failsAt: spec.failsAt });
  }
  for (const f of IGNORED) files.push({ path: f.path, kind: 'ignored', description: 'not an image', bytes: write(f.path, Buffer.from(f.text)) });
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { dir, files, good: files.filter((f) => f.kind === 'good'), bad: files.filter((f) => f.kind === 'bad'), ignored: files.filter((f) => f.kind === 'ignored') };
}
