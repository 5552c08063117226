/**
 * The seeds of `npm run fuzz` (the real checkpoint with legacy and safetensors twins, the bundled
 * package, the sample images with a JPEG, a progressive JPEG, a BMP, WebP, GIF and TIFF made from
 * one) and the case generator: case `index` of target `target` under `--seed S` is a pure
 * function of those, so any case can be regenerated or replayed.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../src/checkpoint/index.js';
import {
  type LegacySeed, type ParsedZip, type SeedTensor, mutateLegacy, mutateSafetensors, mutateTorchZip, readZip, writeLegacy, writeSafetensors,
} from './fuzzArchives.js';
import { mutateBmp, mutateGif, mutateJpeg, mutatePng, writeBmp } from './fuzzImages.js';
import { type Json, type KnownKey, type Mutated, type Rng, interestingJsonValue, mutateBytes, mutateJson, pick, randInt, rngFor, weighted } from './fuzzMutations.js';

export type Target = 'checkpoint' | 'package' | 'image';
export const TARGETS: readonly Target[] = ['checkpoint', 'package', 'image'];

export type CaseOp = 'loadCheckpoint' | 'convert' | 'readModelPackage' | 'loadModel' | 'detect';

export interface ImageSeed { name: string; ext: string; kind: 'png' | 'jpeg' | 'bmp' | 'other'; bytes: Uint8Array }

export interface Seeds {
  zip: Uint8Array;
  zipParsed: ParsedZip;
  legacy: LegacySeed;
  safetensors: Uint8Array;
  /** The package folder the cases override files of. */
  packageDir: string;
  /** Its files by name (resdet.json and the ONNX networks). */
  packageFiles: Map<string, Uint8Array>;
  images: ImageSeed[];
  /** Decoded RGB of the first sample, for raw-pixel cases. */
  pixels: { rgb: Uint8Array; width: number; height: number };
}

/** One case: the files it consists of and how to run them. */
export interface FuzzCase {
  target: Target;
  index: number;
  op: CaseOp;
  /** Which seed was mutated. */
  seed: string;
  /** The mutation, as recorded in a finding's note. */
  what: string;
  /**
   * checkpoint: { 'checkpoint.pth' }; package: files replacing the seed package's of that name;
   * image: { 'image.<ext>' } (or raw pixel bytes).
   */
  files: Record<string, Uint8Array>;
  input?: 'path' | 'buffer' | 'pixels';
  pixels?: { width: number; height: number; channels?: number };
  options?: Record<string, unknown>;
}

/** Loads the seeds from the repository; the format twins and extra images are made here. */
export async function loadSeeds(root: string): Promise<Seeds> {
  const zipPath = join(root, 'test/fixtures/shapes/model_final.pth');
  const zip = new Uint8Array(readFileSync(zipPath));
  const sd = await loadCheckpoint(zipPath) as unknown as Map<string, SeedTensor>;
  const packageDir = join(root, 'models/shapes');
  const packageFiles = new Map(readdirSync(packageDir).filter((f) => f.endsWith('.json') || f.endsWith('.onnx'))
    .map((f) => [f, new Uint8Array(readFileSync(join(packageDir, f)))] as const));
  const samples = readdirSync(join(root, 'samples')).filter((f) => f.endsWith('.png')).sort();
  const images: ImageSeed[] = samples.map((f) => ({ name: f, ext: 'png', kind: 'png', bytes: new Uint8Array(readFileSync(join(root, 'samples', f))) }));
  const sharp = (await import('sharp')).default;
  const first = join(root, 'samples', samples[0]);
  const { data, info } = await sharp(first).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const rgb = new Uint8Array(data);
  const made: [string, string, ImageSeed['kind'], Promise<Buffer>][] = [
    ['shapes-1.jpg', 'jpg', 'jpeg', sharp(first).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer()],
    ['shapes-1-progressive.jpg', 'jpg', 'jpeg', sharp(first).jpeg({ quality: 80, progressive: true, chromaSubsampling: '4:2:0' }).toBuffer()],
    ['shapes-1.webp', 'webp', 'other', sharp(first).webp({ quality: 80 }).toBuffer()],
    ['shapes-1.gif', 'gif', 'other', sharp(first).gif().toBuffer()],
    ['shapes-1.tiff', 'tiff', 'other', sharp(first).tiff({ compression: 'lzw' }).toBuffer()],
  ];
  for (const [name, ext, kind, bytes] of made) images.push({ name, ext, kind, bytes: new Uint8Array(await bytes) });
  images.push({ name: 'shapes-1.bmp', ext: 'bmp', kind: 'bmp', bytes: writeBmp(rgb, info.width, info.height) });
  return {
    zip, zipParsed: readZip(zip), legacy: writeLegacy(sd), safetensors: writeSafetensors(sd),
    packageDir, packageFiles, images, pixels: { rgb, width: info.width, height: info.height },
  };
}

const extremes: Record<string, Json[]> = {
  // The sample package caps maxSize at 256: the two together decide the network's input size.
  transform: [{ minSize: 8192, maxSize: 8192 }, { minSize: 4096, maxSize: 4096 }, { minSize: 1, maxSize: 1 }, { minSize: 2048, maxSize: 8192, sizeDivisible: 1 }],
  'transform.minSize': [8192, 4096, 1, 2], 'transform.maxSize': [8192, 4096, 1, 2], 'transform.sizeDivisible': [1, 3, 1024, 4096],
  'transform.imageMean': [[0, 0, 0], [1e30, 0, 0]], 'transform.imageStd': [[1e-30, 1, 1], [0, 0, 0]],
  'rpn.anchorSizes': [[[1], [1], [1], [1], [1]], [[100000], [100000], [100000], [100000], [100000]], [[32, 64, 128, 256, 512, 1024, 2048, 4096]]],
  'rpn.aspectRatios': [[1e-6, 1e6], Array(64).fill(1), [0.5]], 'rpn.preNmsTopN': [1, 0, 100000, 1000000], 'rpn.postNmsTopN': [1, 0, 100000, 1000000],
  'rpn.nmsThresh': [0, 1], 'rpn.scoreThresh': [0, 1], 'rpn.minSize': [0, 1e6], 'rpn.boxCoderWeights': [[1e-9, 1e-9, 1e-9, 1e-9], [1e9, 1e9, 1e9, 1e9]],
  'roiHeads.poolerOutputSize': [1, 14, 64], 'roiHeads.samplingRatio': [0, 1, 64, 1000], 'roiHeads.scoreThresh': [0, 1],
  'roiHeads.nmsThresh': [0, 1], 'roiHeads.detectionsPerImage': [0, 1, 100000, 1000000], 'roiHeads.boxCoderWeights': [[1e-9, 1e-9, 1e-9, 1e-9], [1e9, 1e9, 1e9, 1e9]],
  'roiHeads.minSize': [0, 1e6], 'mask.poolerOutputSize': [1, 28, 256], 'mask.samplingRatio': [0, 64, 1000], 'mask.pastePadding': [0, 100, 10000],
  'levelMapper.featureNames': [['0'], ['pool'], ['0', '0', '0', '0'], []], 'levelMapper.canonicalScale': [1e-6, 1, 1e5], 'levelMapper.canonicalLevel': [0, 2, 100],
  'levelMapper.eps': [0, 1e-30, 1],
};

/** The config keys resdet.json may set (heads/config.ts, src/config.ts), for targeted injection. */
const configKeys: KnownKey[] = [
  ...Object.entries(extremes).map(([k, values]) => ({ path: ['config', ...k.split('.')], sample: values[0], extremes: values })),
  { path: ['backbone', 'frozenBnEps'], sample: 1e-5, extremes: [0, 1e30] }, { path: ['formatVersion'], sample: 1 }, { path: ['architecture'], sample: 'maskrcnn', extremes: ['fasterrcnn'] },
  { path: ['files', 'maskHead', 'path'], sample: 'maskHead.onnx' }, { path: ['files', 'backbone', 'bytes'], sample: 5637293 },
];

function sha256(b: Uint8Array): string { return createHash('sha256').update(b).digest('hex'); }

/** resdet.json with the entry of the network stored in `file` pointing at `bytes` (size and sha256 fixed up). */
function manifestFor(seeds: Seeds, edits: Record<string, { path?: string; bytes: Uint8Array }>): Uint8Array {
  const manifest = JSON.parse(new TextDecoder().decode(seeds.packageFiles.get('resdet.json'))) as { files: Record<string, { path: string; bytes: number; sha256: string }> };
  for (const [role, e] of Object.entries(edits)) {
    const entry = manifest.files[role];
    if (e.path !== undefined) entry.path = e.path;
    entry.bytes = e.bytes.length;
    entry.sha256 = sha256(e.bytes);
  }
  return new TextEncoder().encode(JSON.stringify(manifest, null, 2));
}

function checkpointCase(rng: Rng, seeds: Seeds): Omit<FuzzCase, 'target' | 'index'> {
  const seed = weighted(rng, [[6, 'model_final.pth (zip)'], [2, 'legacy'], [2, 'safetensors']] as const);
  const m: Mutated = seed === 'legacy' ? mutateLegacy(rng, seeds.legacy)
    : seed === 'safetensors' ? mutateSafetensors(rng, seeds.safetensors)
      : mutateTorchZip(rng, seeds.zip, seeds.zipParsed);
  // Edits that keep the file loadable are meant for the converter.
  const op: CaseOp = rng() < (/safetensors (reshape|dtype|drop|swap|empty|rename) /.test(m.what) ? 0.8 : 0.2) ? 'convert' : 'loadCheckpoint';
  return { op, seed, what: m.what, files: { [seed === 'safetensors' ? 'checkpoint.safetensors' : 'checkpoint.pth']: m.bytes } };
}

const roles = { backbone: 'backbone.onnx', rpnHead: 'rpnHead.onnx', boxHead: 'boxHead.onnx', maskHead: 'maskHead.onnx' } as const;
type Role = keyof typeof roles;

function packageCase(rng: Rng, seeds: Seeds): Omit<FuzzCase, 'target' | 'index'> {
  const manifest = new TextDecoder().decode(seeds.packageFiles.get('resdet.json'));
  const kind = weighted(rng, [[5, 'json'], [4, 'config'], [1, 'jsonText'], [3, 'onnx'], [1, 'swap'], [1, 'onnxUnfixed'], [1, 'fsPath']] as const);
  if (kind === 'config') {
    // Hyper-parameters at the edge of (or past) what the validator accepts, run through a detection.
    const doc = JSON.parse(manifest) as { [k: string]: Json };
    const set: string[] = [];
    for (let i = 0, n = weighted(rng, [[3, 1], [2, 2], [1, 3]]); i < n; i++) {
      const k = pick(rng, configKeys.filter((c) => c.extremes));
      const v = rng() < 0.8 ? pick(rng, k.extremes!) : interestingJsonValue(rng, k.sample);
      let obj = doc;
      for (const seg of k.path.slice(0, -1)) {
        if (!obj[seg] || typeof obj[seg] !== 'object' || Array.isArray(obj[seg])) obj[seg] = {};
        obj = obj[seg] as { [k: string]: Json };
      }
      obj[k.path[k.path.length - 1]] = v;
      const shown = JSON.stringify(v);
      set.push(`${k.path.join('.')}=${shown.length > 40 ? `${shown.slice(0, 37)}...` : shown}`);
    }
    return { op: 'loadModel', seed: 'resdet.json', what: `config ${set.join('; ')}`, files: { 'resdet.json': new TextEncoder().encode(JSON.stringify(doc, null, 2)) } };
  }
  if (kind === 'json' || kind === 'jsonText') {
    const m = kind === 'json' ? mutateJson(rng, manifest, configKeys) : mutateBytes(rng, new TextEncoder().encode(manifest));
    return { op: rng() < 0.5 ? 'loadModel' : 'readModelPackage', seed: 'resdet.json', what: m.what, files: { 'resdet.json': m.bytes } };
  }
  const role = weighted<Role>(rng, [[1, 'backbone'], [3, 'rpnHead'], [2, 'boxHead'], [2, 'maskHead']]);
  const onnx = seeds.packageFiles.get(roles[role])!;
  if (kind === 'onnx' || kind === 'onnxUnfixed') {
    const m = rng() < 0.15 ? { bytes: onnx.slice(0, randInt(rng, 0, onnx.length)), what: 'truncate' } : mutateBytes(rng, onnx);
    const files: Record<string, Uint8Array> = { [roles[role]]: m.bytes };
    if (kind === 'onnx') files['resdet.json'] = manifestFor(seeds, { [role]: { bytes: m.bytes } });
    return { op: kind === 'onnx' ? 'loadModel' : 'readModelPackage', seed: roles[role], what: `${roles[role]} ${kind === 'onnx' ? '(sha256 fixed)' : '(sha256 stale)'}: ${m.what}`, files };
  }
  if (kind === 'swap') {
    // One role's entry names another role's network (size and sha256 valid): a well-formed package of the wrong graphs.
    const other = pick(rng, (Object.keys(roles) as Role[]).filter((r) => r !== role));
    const bytes = seeds.packageFiles.get(roles[other])!;
    return { op: 'loadModel', seed: 'resdet.json', what: `files.${role} -> ${roles[other]}`, files: { 'resdet.json': manifestFor(seeds, { [role]: { path: roles[other], bytes } }) } };
  }
  // A file path outside the package or not a regular file, with a size that matches what is there.
  const path = pick(rng, ['../../../../../../../../dev/zero', '../../../../../../../../proc/self/status', '.', '', 'resdet.json', '../shapes/backbone.onnx',
    '/dev/zero', '../../../../../../../../dev/urandom', 'backbone.onnx/', 'BACKBONE.ONNX', './rpnHead.onnx']);
  const doc = JSON.parse(manifest) as { files: Record<string, { path: unknown; bytes: unknown }> };
  doc.files[role].path = path;
  if (rng() < 0.5) doc.files[role].bytes = pick(rng, [0, 4096, 1024]);
  return { op: 'readModelPackage', seed: 'resdet.json', what: `files.${role}.path=${JSON.stringify(path)} bytes=${String(doc.files[role].bytes)}`, files: { 'resdet.json': new TextEncoder().encode(JSON.stringify(doc)) } };
}

function detectOptions(rng: Rng): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  const keys = ['scoreThreshold', 'maxDetections', 'classes', 'maskThreshold', 'masks', 'maskExtent', 'applyExifOrientation', 'maxPixels'];
  for (let i = 0, n = randInt(rng, 1, 4); i < n; i++) {
    const k = pick(rng, keys);
    options[k] = weighted<() => unknown>(rng, [
      [3, () => pick(rng, [NaN, Infinity, -Infinity, -1, 0, 0.5, 1, 2, 1e9, -0, 2 ** 53 + 2, 1e-300])],
      [2, () => pick(rng, ['binary', 'probability', 'rle', 'none', 'box', 'image', '', 'bogus', 'circle', 'BINARY'])],
      [2, () => pick(rng, [[], [999], [-1], ['circle', 3], [null], [NaN], ['__background__'], [0], Array(100000).fill('star')])],
      [1, () => pick(rng, [null, true, false, {}, '0.5'])],
      [1, () => interestingJsonValue(rng, 1)],
    ])();
  }
  return options;
}

function imageCase(rng: Rng, seeds: Seeds): Omit<FuzzCase, 'target' | 'index'> {
  const kind = weighted(rng, [[5, 'png'], [4, 'jpeg'], [1, 'bmp'], [2, 'other'], [1, 'pixels'], [1, 'options']] as const);
  const input = rng() < 0.7 ? 'path' as const : 'buffer' as const;
  if (kind === 'pixels') {
    const { rgb, width, height } = seeds.pixels;
    const num = () => pick(rng, [0, -1, 1, 1.5, NaN, Infinity, 2 ** 31, 2 ** 32 + 256, 255, 257, 1e9, width, height, width * 2]);
    const field = pick(rng, ['width', 'height', 'channels', 'data', 'all'] as const);
    const pixels: { width: number; height: number; channels?: number } = { width, height, channels: 3 };
    let data: Uint8Array = rgb;
    if (field === 'width' || field === 'all') pixels.width = num();
    if (field === 'height' || field === 'all') pixels.height = num();
    if (field === 'channels' || field === 'all') pixels.channels = pick(rng, [0, 1, 2, 4, 5, NaN, undefined, 3.5, -3]);
    if (field === 'data' || field === 'all') data = rgb.subarray(0, randInt(rng, 0, rgb.length + 1));
    return { op: 'detect', seed: 'pixels', input: 'pixels', pixels, what: `pixels ${JSON.stringify({ ...pixels, bytes: data.length }, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`, files: { 'pixels.rgb': data } };
  }
  if (kind === 'options') {
    const seed = seeds.images[0];
    const options = detectOptions(rng);
    return { op: 'detect', seed: seed.name, input, options, what: `options ${describeOptions(options)}`, files: { [`image.${seed.ext}`]: seed.bytes } };
  }
  const candidates = seeds.images.filter((s) => s.kind === kind);
  const seed = pick(rng, candidates);
  const m = kind === 'png' ? mutatePng(rng, seed.bytes) : kind === 'jpeg' ? mutateJpeg(rng, seed.bytes)
    : kind === 'bmp' ? mutateBmp(rng, seed.bytes) : seed.ext === 'gif' && rng() < 0.6 ? mutateGif(rng, seed.bytes) : mutateBytes(rng, seed.bytes);
  return { op: 'detect', seed: seed.name, input, what: m.what, files: { [`image.${seed.ext}`]: m.bytes } };
}

function describeOptions(o: Record<string, unknown>): string {
  const s = JSON.stringify(o, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : Array.isArray(v) && v.length > 5 ? `[${v.length} items]` : v));
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Case `index` of `target` under `seed`. */
export function makeCase(seeds: Seeds, target: Target, seed: number, index: number): FuzzCase {
  const rng = rngFor(seed, target, index);
  const c = target === 'checkpoint' ? checkpointCase(rng, seeds) : target === 'package' ? packageCase(rng, seeds) : imageCase(rng, seeds);
  return { target, index, ...c };
}

/** The unmutated seeds as cases, run first: each must come out ok, or the fuzzer's seeds are wrong. */
export function seedCases(seeds: Seeds): FuzzCase[] {
  const base = { index: -1, what: 'none (seed check)' };
  return [
    { ...base, target: 'checkpoint', op: 'loadCheckpoint', seed: 'model_final.pth (zip)', files: { 'checkpoint.pth': seeds.zip } },
    { ...base, target: 'checkpoint', op: 'loadCheckpoint', seed: 'legacy', files: { 'checkpoint.pth': seeds.legacy.bytes } },
    { ...base, target: 'checkpoint', op: 'convert', seed: 'legacy', files: { 'checkpoint.pth': seeds.legacy.bytes } },
    { ...base, target: 'checkpoint', op: 'loadCheckpoint', seed: 'safetensors', files: { 'checkpoint.safetensors': seeds.safetensors } },
    { ...base, target: 'package', op: 'loadModel', seed: 'models/shapes', files: {} },
    ...seeds.images.map((s): FuzzCase => ({ ...base, target: 'image', op: 'detect', seed: s.name, input: 'path', files: { [`image.${s.ext}`]: s.bytes } })),
  ];
}
