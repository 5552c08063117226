/**
 * Model packages: reading (with every check a user needs to hear about) and atomic writing.
 * Exports: Manifest types, ModelPackageError, readModelPackage, writeModelPackage.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { OnnxModel } from '../../backbones/graph/index.js';
import { serializeModelToFile } from '../../backbones/graph/onnxFile.js';
import {
  FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE,
  type Manifest, type ManifestFile, type ManifestFiles,
} from './manifest.js';

export * from './manifest.js';

/** A model package that cannot be used: names the package (or file) and the field at fault. */
export class ModelPackageError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'ModelPackageError';
  }
}

/** A loaded package: its manifest and the bytes of each ONNX file. */
export interface ModelPackage {
  dir: string;
  manifest: Manifest;
  files: { [K in keyof ManifestFiles]: Uint8Array };
}

const FILE_ROLES = ['backbone', 'rpnHead', 'boxHead', 'maskHead'] as const;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

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

/**
 * Reads and checks a package folder: manifest fields, each ONNX file present with the recorded
 * size and sha256.
 */
export function readModelPackage(dir: string): ModelPackage {
  const root = resolve(dir);
  const manifestPath = join(root, MANIFEST_FILE);
  if (!existsSync(manifestPath)) {
    throw new ModelPackageError(root, `not a model package: no ${MANIFEST_FILE} (make one with 'resdet convert <checkpoint> --out <dir>')`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    throw new ModelPackageError(manifestPath, `is not valid JSON (${(e as Error).message})`);
  }
  const manifest = validateManifest(parsed, manifestPath);
  const files: Partial<ModelPackage['files']> = {};
  for (const role of FILE_ROLES) {
    const entry = manifest.files[role];
    if (!entry) continue;
    files[role] = readChecked(root, role, entry);
  }
  return { dir: root, manifest, files: files as ModelPackage['files'] };
}

function readChecked(root: string, role: string, entry: ManifestFile): Uint8Array {
  const path = join(root, entry.path);
  if (!existsSync(path)) throw new ModelPackageError(path, `missing (${role} network listed in ${MANIFEST_FILE})`);
  const size = statSync(path).size;
  if (size !== entry.bytes) throw new ModelPackageError(path, `is ${size} bytes, ${MANIFEST_FILE} says ${entry.bytes}: truncated or replaced`);
  const bytes = readFileSync(path);
  if (sha256(bytes) !== entry.sha256) throw new ModelPackageError(path, `sha256 differs from ${MANIFEST_FILE}: the file is corrupt or was replaced`);
  return bytes;
}

/** Writes one network file; the sha256 is of the bytes written. */
function writeNetwork(path: string, network: Uint8Array | OnnxModel): { sha256: string; bytes: number } {
  if (!(network instanceof Uint8Array)) return serializeModelToFile(network, path);
  writeFileSync(path, network);
  return { sha256: sha256(network), bytes: network.byteLength };
}

/** The manifest without the `files` section, which the writer fills. */
export type ManifestDraft = Omit<Manifest, 'files'>;

/**
 * A network to write: its ONNX bytes, or its unserialized model, which is streamed to the file
 * (initializers straight from the weights, see `serializeModelToFile`) so that the network never
 * exists whole in memory; or a function returning either, called when the network is written.
 */
export type NetworkSource = Uint8Array | OnnxModel | (() => Uint8Array | OnnxModel);

/**
 * Writes a package atomically: everything goes to a temporary sibling folder which is renamed onto
 * `dir` only when complete, so a failure never leaves a half-written package. An existing package
 * at `dir` is replaced only with `overwrite`. `draft` may be a function, called after the networks
 * are built (their builders may be what tells it the classes or sizes).
 */
export function writeModelPackage(
  dir: string, draft: ManifestDraft | (() => ManifestDraft), networks: { [K in keyof ManifestFiles]: NetworkSource },
  options: { overwrite?: boolean } = {},
): Manifest {
  const target = resolve(dir);
  if (existsSync(target) && !options.overwrite) {
    throw new ModelPackageError(target, 'already exists (pass --force to replace it)');
  }
  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    const files: Partial<ManifestFiles> = {};
    for (const role of FILE_ROLES) {
      const source = networks[role];
      if (!source) continue;
      const path = `${role}.onnx`;
      files[role] = { path, ...writeNetwork(join(tmp, path), typeof source === 'function' ? source() : source) };
    }
    const manifest: Manifest = { ...(typeof draft === 'function' ? draft() : draft), files: files as ManifestFiles };
    validateManifest(manifest, join(tmp, MANIFEST_FILE));
    writeFileSync(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    if (existsSync(target)) {
      const old = `${tmp}.old`;
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, target);
    }
    return manifest;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
