/**
 * Writes the shapes dataset: `<out>/{train,val}/<id>.png` and `<out>/annotations/instances_<split>.json`.
 * Every image has its own seed, hashed from (seed, split, index), so a larger split starts with the
 * same images as a smaller one and the two splits never share an image.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadSharp } from '../image/sharp.js';
import { type CocoAnnotation, type CocoImage, type CocoInstances, sceneAnnotations, shapeCategories } from './coco.js';
import { ResdetError } from '../../postprocess/errors.js';
import { writeFileAtomic } from '../cli/files.js';
import { Prng } from './prng.js';
import { BACKGROUND_KINDS, isBackgroundKind } from './background.js';
import { type Scene, type SceneOptions, drawScene, sceneDefaults } from './scene.js';
import { ALL_SHAPE_CLASSES, isShapeClass } from './shapes.js';

/** A bad dataset option; names the option and the accepted values. */
export class DatasetOptionsError extends ResdetError {
  constructor(message: string) {
    super('DATASET_OPTIONS', message);
  }
}

export interface DatasetOptions {
  out: string;
  train: number;
  val: number;
  seed: number;
  width: number;
  height: number;
  /** Replace annotation files that already exist in `out`. */
  force?: boolean;
  /** Overrides of the scene parameters. */
  scene?: Partial<Omit<SceneOptions, 'width' | 'height'>>;
}

export interface DatasetSummary {
  split: string;
  images: number;
  annotations: number;
  perClass: Record<string, number>;
  file: string;
}

const SPLITS = { train: 1, val: 2 } as const;

/** 32-bit hash of (seed, split, index): the seed of one image. */
export function imageSeed(seed: number, split: number, index: number): number {
  let h = Math.imul(seed >>> 0 ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (split * 0xc2b2ae35), 0x27d4eb2f) >>> 0;
  h = Math.imul(h ^ index, 0x165667b1) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** Checks the options, naming the one at fault. */
export function checkDatasetOptions(o: DatasetOptions): void {
  const count = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 0 || v > 10_000_000) throw new DatasetOptionsError(`${name} must be an integer >= 0, got ${v}`);
  };
  count('train', o.train);
  count('val', o.val);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) throw new DatasetOptionsError(`seed must be an integer in [0, 2^32), got ${o.seed}`);
  for (const [name, v] of [['width', o.width], ['height', o.height]] as const) {
    if (!Number.isInteger(v) || v < 32 || v > 4096) throw new DatasetOptionsError(`${name} must be an integer in [32, 4096], got ${v}`);
  }
  const s = { ...sceneDefaults, ...o.scene };
  if (!(s.minObjects >= 0 && s.maxObjects >= s.minObjects && s.maxObjects < 65535)) throw new DatasetOptionsError(`objects per image must satisfy 0 <= min <= max, got ${s.minObjects}..${s.maxObjects}`);
  if (!(s.minRadius > 0 && s.maxRadius >= s.minRadius && s.maxRadius <= 1)) throw new DatasetOptionsError(`radius fractions must satisfy 0 < min <= max <= 1, got ${s.minRadius}..${s.maxRadius}`);
  const list = (name: string, items: readonly string[], known: readonly string[], ok: (x: string) => boolean): void => {
    if (items.length === 0) throw new DatasetOptionsError(`${name} must name at least one of ${known.join(', ')}`);
    for (const x of items) if (!ok(x)) throw new DatasetOptionsError(`${name}: unknown '${x}'; known: ${known.join(', ')}`);
    const dup = items.find((x, i) => items.indexOf(x) !== i);
    if (dup !== undefined) throw new DatasetOptionsError(`${name}: '${dup}' is named twice`);
  };
  list('classes', s.classes, ALL_SHAPE_CLASSES, isShapeClass);
  list('backgrounds', s.backgrounds, BACKGROUND_KINDS, isBackgroundKind);
}

/** The scene of image `index` of a split: what {@link generateDataset} writes, without I/O. */
export function datasetScene(o: Pick<DatasetOptions, 'seed' | 'width' | 'height' | 'scene'>, split: keyof typeof SPLITS, index: number): Scene {
  const rng = new Prng(imageSeed(o.seed, SPLITS[split], index));
  return drawScene(rng, { ...sceneDefaults, ...o.scene, width: o.width, height: o.height });
}

/**
 * PNG bytes of an RGB image [H, W, 3]; fixed settings so the bytes depend on the pixels only.
 * sharp (libvips) when installed, else jimp: the two write the same pixels as RGB PNGs, but not the
 * same bytes.
 */
export async function encodePng(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  const sharp = await loadSharp();
  if (sharp) return sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
  // jimp holds RGBA bitmaps: add an opaque alpha, and write colour type 2 (RGB) as sharp does.
  const rgba = Buffer.alloc(width * height * 4, 255);
  for (let i = 0; i < width * height; i++) {
    rgba[4 * i] = rgb[3 * i];
    rgba[4 * i + 1] = rgb[3 * i + 1];
    rgba[4 * i + 2] = rgb[3 * i + 2];
  }
  const { Jimp } = await import('jimp');
  return Jimp.fromBitmap({ data: rgba, width, height }).getBuffer('image/png', { colorType: 2, deflateLevel: 6 });
}

async function writeSplit(o: DatasetOptions, split: keyof typeof SPLITS, count: number): Promise<DatasetSummary> {
  const dir = join(o.out, split);
  mkdirSync(dir, { recursive: true });
  const images: CocoImage[] = [];
  const annotations: CocoAnnotation[] = [];
  const categories = shapeCategories(o.scene?.classes);
  const perClass: Record<string, number> = Object.fromEntries(categories.map((c) => [c.name, 0]));
  for (let i = 0; i < count; i++) {
    const scene = datasetScene(o, split, i);
    const id = i + 1;
    const fileName = `${String(id).padStart(6, '0')}.png`;
    // Atomic and never through a link planted at the name (see writeFileAtomic).
    writeFileAtomic(join(dir, fileName), await encodePng(scene.rgb, o.width, o.height));
    images.push({ id, file_name: fileName, width: o.width, height: o.height });
    for (const a of sceneAnnotations(scene, id, annotations.length + 1)) {
      annotations.push(a);
      perClass[categories[a.category_id - 1].name]++;
    }
  }
  const coco: CocoInstances = {
    info: { description: 'resdet shapes: procedurally drawn objects with visible-part masks', version: '1', seed: o.seed, split },
    images, categories, annotations,
  };
  const file = join(o.out, 'annotations', `instances_${split}.json`);
  writeFileAtomic(file, JSON.stringify(coco));
  return { split, images: count, annotations: annotations.length, perClass, file };
}

/** Generates both splits; refuses to overwrite existing annotations unless `force`. */
export async function generateDataset(o: DatasetOptions): Promise<DatasetSummary[]> {
  checkDatasetOptions(o);
  for (const split of ['train', 'val']) {
    const file = join(o.out, 'annotations', `instances_${split}.json`);
    if (existsSync(file) && !o.force) throw new DatasetOptionsError(`${file} exists; pass force (--force) to replace it`);
  }
  mkdirSync(join(o.out, 'annotations'), { recursive: true });
  return [await writeSplit(o, 'train', o.train), await writeSplit(o, 'val', o.val)];
}
