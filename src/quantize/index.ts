/**
 * `resdet quantize`: precision variants of a model package, written in TypeScript with resdet's own
 * ONNX reader and writer. The fp32 networks are read back (`onnx/read.ts`), rewritten
 * (`./fp16.ts`: float16 weights; `./int8.ts`: QDQ int8 with ranges from `./calibrate.ts`), and
 * written with the fp32 files and any other variant into a new package (`writeModelPackage`,
 * atomic). Node only (calibration runs onnxruntime-node).
 * Exports: quantizePackage, QuantizeOptions, QuantizeSummary, and the rewrites.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { type OnnxModel, readModel } from '../../onnx/index.js';
import { createDetector } from '../detector/index.js';
import { decodeImage } from '../image/decode.js';
import {
  FILE_ROLES, type ManifestDraft, type ManifestFiles, ModelPackageError, type NetworkSource, type PackageVariant, type Precision,
  checkPackageNetworks, readModelPackage, writeModelPackage,
} from '../modelPackage/index.js';
import type { OrtModule } from '../runtime/index.js';
import { type CalibrationMethod, CalibrationStats, calibrationBytes, recordingOrt } from './calibrate.js';
import { toFp16Model } from './fp16.js';
import { planQdq, toInt8Model } from './int8.js';

export { type CalibrationMethod, CalibrationStats, exposeActivations } from './calibrate.js';
export { toFp16Model } from './fp16.js';
export { type ActivationRange, type Int8Options, type QdqPlan, activationParams, planQdq, toInt8Model } from './int8.js';

type Role = (typeof FILE_ROLES)[number];

export interface QuantizeOptions {
  dtype: Exclude<Precision, 'fp32'>;
  /** The package to write (the source's fp32 files and other variants are carried over). */
  out: string;
  /** int8: images (files, or folders of images) the activation ranges are calibrated on. */
  calibration?: readonly string[];
  /** int8: 'percentile' (default), 'minmax' or 'entropy'. */
  method?: CalibrationMethod;
  /** int8, 'percentile': the upper percentile kept (default 99.99). */
  percentile?: number;
  /**
   * int8: weight names (state-dict keys, e.g. 'roi_heads.box_predictor.cls_score.weight') of
   * layers left in float; by default `DEFAULT_KEEP_FLOAT`.
   */
  keepFloat?: readonly string[];
  overwrite?: boolean;
  /** Threads for calibration sessions. */
  threads?: number;
}

/**
 * Layers int8 leaves in float by default: none. (bench/precision.ts measures the predictor
 * layers in float too; see README "Precision variants".)
 */
export const DEFAULT_KEEP_FLOAT: readonly string[] = [];

export interface QuantizeSummary {
  out: string;
  dtype: Exclude<Precision, 'fp32'>;
  /** Bytes per network of the fp32 files and of the variant. */
  bytes: Record<string, { fp32: number; variant: number }>;
  notes: Record<string, string | number>;
}

const IMAGE_EXTENSIONS = /\.(png|jpe?g|webp|tiff?|gif|bmp|avif)$/i;

/** The image files named: files as given, folders expanded to their images (sorted). */
export function calibrationImages(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) out.push(...readdirSync(p).filter((n) => IMAGE_EXTENSIONS.test(n)).sort().map((n) => join(p, n)));
    else out.push(p);
  }
  return out;
}

/**
 * Writes `options.out`: the package at `dir` plus its `options.dtype` variant.
 * @throws ModelPackageError for an unreadable source package or a missing calibration set
 */
export async function quantizePackage(dir: string, options: QuantizeOptions): Promise<QuantizeSummary> {
  const pkg = checkPackageNetworks(readModelPackage(dir));
  const roles = FILE_ROLES.filter((r) => pkg.files[r] !== undefined);
  const models = new Map<Role, OnnxModel>(roles.map((r) => [r, readNetwork(pkg.files[r]!, join(pkg.dir, pkg.entries[r]!.path))]));
  let networks: Map<Role, OnnxModel>;
  let notes: Record<string, string | number>;
  if (options.dtype === 'fp16') {
    networks = new Map([...models].map(([r, m]) => [r, toFp16Model(m)]));
    notes = { weights: 'float16, Cast to float32 in the graph' };
  } else {
    const images = calibrationImages(options.calibration ?? []);
    if (images.length === 0) throw new ModelPackageError(dir, 'int8 needs calibration images (--calibration <images or folders>)');
    const keep = new Set(options.keepFloat ?? DEFAULT_KEEP_FLOAT);
    const stats = await calibrate(pkg.manifest, models, images, keep, options.threads);
    const method = options.method ?? 'percentile';
    const percentile = options.percentile ?? 99.99;
    networks = new Map([...models].map(([r, m]) => [r, toInt8Model(m, stats.ranges(r, method, percentile), { keepFloat: keep })]));
    notes = {
      weights: 'int8 symmetric per output channel', activations: 'uint8, QDQ',
      calibration: method === 'percentile' ? `percentile ${percentile}` : method, calibrationImages: images.length,
      keptInFloat: [...keep].join(', ') || 'none',
    };
  }
  const { files: _files, variants: oldVariants, ...draft } = pkg.manifest;
  const variants: Partial<Record<Exclude<Precision, 'fp32'>, PackageVariant>> = {};
  for (const [dtype, v] of Object.entries(oldVariants ?? {}) as [Exclude<Precision, 'fp32'>, NonNullable<typeof oldVariants>['fp16']][]) {
    if (dtype === options.dtype || !v) continue;
    const other = readModelPackage(dir, { dtype });
    variants[dtype] = { networks: other.files as { [K in keyof ManifestFiles]: NetworkSource }, notes: v.notes };
  }
  variants[options.dtype] = { networks: Object.fromEntries(networks) as { [K in keyof ManifestFiles]: NetworkSource }, notes };
  const manifest = writeModelPackage(options.out, draft as ManifestDraft, pkg.files, { overwrite: options.overwrite, variants });
  const bytes: QuantizeSummary['bytes'] = {};
  for (const r of roles) bytes[r] = { fp32: manifest.files[r]!.bytes, variant: manifest.variants![options.dtype]!.files[r]!.bytes };
  return { out: options.out, dtype: options.dtype, bytes, notes };
}

function readNetwork(bytes: Uint8Array, path: string): OnnxModel {
  try {
    return readModel(bytes);
  } catch (e) {
    throw new ModelPackageError(path, `cannot be rewritten: ${(e as Error).message}`, { cause: e });
  }
}

/** Runs the package's detector, activations exposed, on every image; returns what it saw. */
async function calibrate(
  manifest: Parameters<typeof createDetector>[1], models: ReadonlyMap<Role, OnnxModel>, images: readonly string[],
  keep: ReadonlySet<string>, threads?: number,
): Promise<CalibrationStats> {
  const stats = new CalibrationStats();
  const watched = new Map<Uint8Array, { role: string; names: readonly string[] }>();
  const bytes: Partial<Record<Role, Uint8Array>> = {};
  for (const [role, model] of models) {
    const names = planQdq(model, { keepFloat: keep }).activations;
    bytes[role] = calibrationBytes(model, names);
    watched.set(bytes[role]!, { role, names });
  }
  const runtime = recordingOrt(ort as unknown as OrtModule, watched, stats);
  const detector = await createDetector(runtime, manifest, bytes as Parameters<typeof createDetector>[2], decodeImage, { provider: 'cpu', threads, graphPooling: true });
  try {
    // Every detection torchvision keeps (its 0.05 floor), as eval runs: the mask head sees them all.
    for (const image of images) await detector.detect(image, { scoreThreshold: 0 });
  } finally {
    await detector.release();
  }
  return stats;
}
