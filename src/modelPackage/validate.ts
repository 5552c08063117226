/**
 * Checking a resdet.json: runtime-neutral (no Node APIs), shared by the Node reader and the browser
 * loader.
 */
import { ResdetError } from '../../postprocess/errors.js';
import { validateConfig, show } from './configSchema.js';
import { DETECTOR_VARIANTS, FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE, type Manifest, type ManifestFiles, type Precision, PRECISIONS } from './manifest.js';

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

/** resdet.json is a few kilobytes; anything past this is not a manifest (and is not read). */
export const MAX_MANIFEST_BYTES = 1 << 20;
/** ONNX files are protobufs, which cannot pass 2 GiB. */
export const MAX_NETWORK_BYTES = 2 ** 31 - 1;

/**
 * A file name inside the package folder: letters, digits, '.', '_', '-', not starting with '.',
 * no '/' or '\\' (so no '..', absolute path, drive letter, URL scheme, query or '%' escape).
 */
export function isPackageFileName(path: unknown): path is string {
  return typeof path === 'string' && path.length <= 255 && /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(path);
}

/**
 * Describes a JSON.parse failure without its text: V8's message quotes the input (`"secret ..."
 * is not valid JSON`), and resdet.json may be a link to a file that is nobody's business.
 */
export function jsonFailure(e: unknown): string {
  const position = /position (\d+)/.exec(String((e as Error)?.message))?.[1];
  return position === undefined ? 'is not valid JSON' : `is not valid JSON (at position ${position})`;
}

const TOP_LEVEL_KEYS = ['format', 'formatVersion', 'architecture', 'variant', 'backbone', 'classes', 'config', 'files', 'variants', 'source'];
const BACKBONE_KEYS = ['kind', 'arch', 'frozenBnEps', 'levels'];
const LEVEL_KEYS = ['name', 'stride', 'channels'];
const FILE_KEYS = ['path', 'sha256', 'bytes'];

/** Checks the manifest's shape and every value's range; throws naming the first field at fault. */
export function validateManifest(value: unknown, where: string): Manifest {
  const fail = (field: string, what: string): never => {
    throw new ModelPackageError(where, `${MANIFEST_FILE} field '${field}' ${what}`);
  };
  const known = (object: Record<string, unknown>, keys: string[], prefix: string) => {
    for (const key of Object.keys(object)) {
      if (!keys.includes(key)) fail(`${prefix}${key}`, `is not a known field (fields: ${keys.join(', ')})`);
    }
  };
  if (!isRecord(value)) return fail('(root)', 'must be a JSON object');
  known(value, TOP_LEVEL_KEYS, '');
  if (value.format !== FORMAT_NAME) fail('format', `must be '${FORMAT_NAME}', found ${show(value.format)}`);
  if (value.formatVersion !== FORMAT_VERSION) {
    fail('formatVersion', `is ${show(value.formatVersion)}; this resdet reads version ${FORMAT_VERSION}`);
  }
  if (value.architecture !== 'fasterrcnn' && value.architecture !== 'maskrcnn') {
    fail('architecture', `must be 'fasterrcnn' or 'maskrcnn', found ${show(value.architecture)}`);
  }
  if (value.variant !== undefined && !DETECTOR_VARIANTS.includes(value.variant as never)) {
    fail('variant', `must be one of ${DETECTOR_VARIANTS.map((v) => `'${v}'`).join(', ')}, found ${show(value.variant)}`);
  }
  validateBackbone(value.backbone, fail, known);
  const classes = value.classes;
  if (!Array.isArray(classes) || classes.length < 2 || classes.length > 100_000 || !classes.every((c) => typeof c === 'string' && c.length <= 1000)) {
    fail('classes', 'must list the class names, background first (at least 2)');
  }
  validateConfig(value.config, fail);
  validateFiles(value.files, 'files', value.architecture, fail, known);
  const variants = value.variants;
  if (variants !== undefined) {
    if (!isRecord(variants)) fail('variants', 'must be an object of precision variants');
    const names = PRECISIONS.filter((p) => p !== 'fp32');
    known(variants as Record<string, unknown>, names, 'variants.');
    for (const [name, variant] of Object.entries(variants as Record<string, unknown>)) {
      if (!isRecord(variant)) { fail(`variants.${name}`, 'must be an object with files'); continue; }
      known(variant, ['files', 'notes'], `variants.${name}.`);
      validateFiles(variant.files, `variants.${name}.files`, value.architecture, fail, known);
      const notes = variant.notes;
      if (notes !== undefined && (!isRecord(notes) || !Object.values(notes).every((v) => typeof v === 'string' || typeof v === 'number'))) {
        fail(`variants.${name}.notes`, 'must be an object of strings and numbers');
      }
    }
  }
  const source = value.source;
  if (source !== undefined && (!isRecord(source) || !Object.values(source).every((v) => typeof v === 'string' || typeof v === 'number'))) {
    fail('source', 'must be an object of strings and numbers');
  }
  return { config: {}, ...value } as unknown as Manifest;
}

/**
 * The network files of one precision: `files` for fp32 (every package has them), else the
 * variant's; a package without that variant is refused, saying how to make one.
 */
export function networkFilesOf(manifest: Manifest, dtype: Precision | undefined, where: string): ManifestFiles {
  if (dtype === undefined || dtype === 'fp32') return manifest.files;
  if (!PRECISIONS.includes(dtype)) throw new ModelPackageError(where, `dtype must be one of ${PRECISIONS.join(', ')}, found ${show(dtype)}`);
  const variant = manifest.variants?.[dtype];
  if (!variant) {
    const has = ['fp32', ...Object.keys(manifest.variants ?? {})].join(', ');
    throw new ModelPackageError(where, `has no ${dtype} variant (it has: ${has}); make one with 'resdet quantize <package> --dtype ${dtype} --out <package>'`);
  }
  return variant.files;
}

/** One set of network files (`files`, or a variant's). */
function validateFiles(
  files: unknown, at: string, architecture: unknown, fail: (field: string, what: string) => never,
  known: (object: Record<string, unknown>, keys: string[], prefix: string) => void,
): void {
  if (!isRecord(files)) return fail(at, 'is missing');
  known(files, [...FILE_ROLES], `${at}.`);
  for (const role of FILE_ROLES) {
    const f = files[role];
    if (f === undefined && role === 'maskHead' && architecture === 'fasterrcnn') continue;
    if (!isRecord(f)) { fail(`${at}.${role}`, 'is missing'); continue; }
    known(f, FILE_KEYS, `${at}.${role}.`);
    if (!isPackageFileName(f.path)) fail(`${at}.${role}.path`, `must be a file name inside the package (no '/', '..' or URL), found ${show(f.path)}`);
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) fail(`${at}.${role}.sha256`, 'must be a hex sha256');
    if (typeof f.bytes !== 'number' || !Number.isInteger(f.bytes) || f.bytes < 1 || f.bytes > MAX_NETWORK_BYTES) {
      fail(`${at}.${role}.bytes`, `must be the file size (an integer in [1, ${MAX_NETWORK_BYTES}]), found ${show(f.bytes)}`);
    }
  }
  if (architecture === 'maskrcnn' && files.maskHead === undefined) fail(`${at}.maskHead`, "is missing for a 'maskrcnn'");
}

function validateBackbone(
  backbone: unknown, fail: (field: string, what: string) => never,
  known: (object: Record<string, unknown>, keys: string[], prefix: string) => void,
): void {
  if (!isRecord(backbone)) return fail('backbone', 'is missing');
  known(backbone, BACKBONE_KEYS, 'backbone.');
  if (backbone.kind !== 'resnet-fpn' && backbone.kind !== 'onnx') fail('backbone.kind', "must be 'resnet-fpn' or 'onnx'");
  if (backbone.arch !== undefined && (typeof backbone.arch !== 'string' || backbone.arch.length > 100)) fail('backbone.arch', 'must be a name');
  const eps = backbone.frozenBnEps;
  if (eps !== undefined && (typeof eps !== 'number' || !(eps >= 0 && eps < 1))) fail('backbone.frozenBnEps', `must be a number in [0, 1), found ${show(eps)}`);
  if (!Array.isArray(backbone.levels) || backbone.levels.length === 0 || backbone.levels.length > 16) fail('backbone.levels', 'must list the pyramid levels (1 to 16)');
  const names = new Set<string>();
  let previous = 0;
  (backbone.levels as unknown[]).forEach((level, i) => {
    if (!isRecord(level) || typeof level.name !== 'string' || level.name.length === 0 || level.name.length > 64) fail(`backbone.levels[${i}].name`, 'must be a string');
    const l = level as Record<string, unknown>;
    known(l, LEVEL_KEYS, `backbone.levels[${i}].`);
    if (names.has(l.name as string)) fail(`backbone.levels[${i}].name`, `repeats level '${show(l.name)}'`);
    names.add(l.name as string);
    for (const [k, max] of [['stride', 1024], ['channels', 65536]] as const) {
      const n = l[k];
      if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0 || n > max) fail(`backbone.levels[${i}].${k}`, `must be a positive integer (at most ${max}), found ${show(n)}`);
    }
    const stride = l.stride as number;
    if ((stride & (stride - 1)) !== 0) fail(`backbone.levels[${i}].stride`, `must be a power of two, found ${stride}`);
    // The anchor generator and the level mapper take the levels finest first (equal strides happen:
    // torchvision's MobileNetV3-FPN emits '0' and '1' both at stride 32).
    if (stride < previous) fail(`backbone.levels[${i}].stride`, `must be at least the previous level's ${previous}, found ${stride}`);
    previous = stride;
  });
}
