/**
 * Model packages: reading (with every check a user needs to hear about) and atomic writing.
 * Exports: Manifest types, ModelPackageError, readModelPackage, writeModelPackage.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { OnnxModel } from '../../backbones/graph/index.js';
import { serializeModelToFile } from '../../backbones/graph/onnxFile.js';
import { FILE_ROLES, ModelPackageError, validateManifest } from './validate.js';
import {
  FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE,
  type Manifest, type ManifestFile, type ManifestFiles,
} from './manifest.js';

export * from './manifest.js';
export { FILE_ROLES, ModelPackageError, validateManifest } from './validate.js';

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A loaded package: its manifest and the bytes of each ONNX file. */
export interface ModelPackage {
  dir: string;
  manifest: Manifest;
  files: { [K in keyof ManifestFiles]: Uint8Array };
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
 * Creates the empty folder a package is written into before it is renamed onto `target`: a
 * sibling (same filesystem, so the rename is atomic) with a name no other user can predict, made
 * by mkdir, which never follows a link planted at that name (it fails with EEXIST instead).
 */
function makeTempSibling(target: string): string {
  const tmp = join(dirname(target), `.${basename(target)}.resdet-tmp-${process.pid}-${randomBytes(12).toString('hex')}`);
  mkdirSync(tmp);
  return tmp;
}

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
  const tmp = makeTempSibling(target);
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
