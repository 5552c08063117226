/**
 * Checking a resdet.json: runtime-neutral (no Node APIs), shared by the Node reader and the browser
 * loader.
 */
import { ResdetError } from '../../postprocess/errors.js';
import { FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE, type Manifest } from './manifest.js';

/** A model package that cannot be used: names the package (or file) and the field at fault. */
export class ModelPackageError extends ResdetError {
  constructor(readonly path: string, message: string, options?: { cause?: unknown }) {
    super('MODEL_PACKAGE', `${path}: ${message}`, options);
  }
}

export const FILE_ROLES = ['backbone', 'rpnHead', 'boxHead', 'maskHead'] as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the manifest's shape; throws naming the first field at fault. */
export function validateManifest(value: unknown, where: string): Manifest {
  const fail = (field: string, what: string): never => {
    throw new ModelPackageError(where, `${MANIFEST_FILE} field '${field}' ${what}`);
  };
  if (!isRecord(value)) return fail('(root)', 'must be a JSON object');
  if (value.format !== FORMAT_NAME) fail('format', `must be '${FORMAT_NAME}', found ${JSON.stringify(value.format)}`);
  if (value.formatVersion !== FORMAT_VERSION) {
    fail('formatVersion', `is ${JSON.stringify(value.formatVersion)}; this resdet reads version ${FORMAT_VERSION}`);
  }
  if (value.architecture !== 'fasterrcnn' && value.architecture !== 'maskrcnn') {
    fail('architecture', `must be 'fasterrcnn' or 'maskrcnn', found ${JSON.stringify(value.architecture)}`);
  }
  const backbone = value.backbone;
  if (!isRecord(backbone)) return fail('backbone', 'is missing');
  if (backbone.kind !== 'resnet-fpn' && backbone.kind !== 'onnx') fail('backbone.kind', "must be 'resnet-fpn' or 'onnx'");
  if (!Array.isArray(backbone.levels) || backbone.levels.length === 0) fail('backbone.levels', 'must list the pyramid levels');
  (backbone.levels as unknown[]).forEach((level, i) => {
    if (!isRecord(level) || typeof level.name !== 'string') fail(`backbone.levels[${i}].name`, 'must be a string');
    const l = level as Record<string, unknown>;
    for (const k of ['stride', 'channels']) {
      const n = l[k];
      if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) fail(`backbone.levels[${i}].${k}`, 'must be a positive integer');
    }
    const stride = l.stride as number;
    if ((stride & (stride - 1)) !== 0) fail(`backbone.levels[${i}].stride`, `must be a power of two, found ${stride}`);
  });
  if (!Array.isArray(value.classes) || value.classes.length < 2 || !value.classes.every((c) => typeof c === 'string')) {
    fail('classes', 'must list the class names, background first (at least 2)');
  }
  if (value.config !== undefined && !isRecord(value.config)) fail('config', 'must be an object of per-stage overrides');
  const files = value.files;
  if (!isRecord(files)) return fail('files', 'is missing');
  for (const role of FILE_ROLES) {
    const f = files[role];
    if (f === undefined && role === 'maskHead' && value.architecture === 'fasterrcnn') continue;
    if (!isRecord(f)) { fail(`files.${role}`, 'is missing'); continue; }
    if (typeof f.path !== 'string' || f.path.includes('..') || f.path.startsWith('/')) fail(`files.${role}.path`, 'must be a file name inside the package');
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) fail(`files.${role}.sha256`, 'must be a hex sha256');
    if (typeof f.bytes !== 'number') fail(`files.${role}.bytes`, 'must be the file size');
  }
  if (value.architecture === 'maskrcnn' && files.maskHead === undefined) fail('files.maskHead', "is missing for a 'maskrcnn'");
  return { config: {}, ...value } as unknown as Manifest;
}

