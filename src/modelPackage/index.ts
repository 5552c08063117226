/**
 * Model packages: reading (with every check a user needs to hear about) and atomic writing.
 * Exports: Manifest types, ModelPackageError, readModelPackage, checkPackageNetworks, writeModelPackage.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readSync, realpathSync, renameSync, rmSync,
  type Stats, writeFileSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { OnnxModel } from '../../onnx/index.js';
import { serializeModelToFile } from '../../onnx/onnxFile.js';
import { checkNetworks } from './networks.js';
import { FILE_ROLES, jsonFailure, MAX_MANIFEST_BYTES, ModelPackageError, networkFilesOf, validateManifest } from './validate.js';
import {
  FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE,
  type Manifest, type ManifestFile, type ManifestFiles, type ManifestVariant, type Precision,
} from './manifest.js';

export * from './manifest.js';
export { FILE_ROLES, ModelPackageError, networkFilesOf, validateManifest } from './validate.js';

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A loaded package: its manifest and the bytes of each ONNX file. */
export interface ModelPackage {
  dir: string;
  manifest: Manifest;
  /** The precision read: 'fp32' (`manifest.files`) or a variant's. */
  dtype: Precision;
  /** The manifest entries of the files read (`manifest.files` for fp32). */
  entries: ManifestFiles;
  files: { [K in keyof ManifestFiles]: Uint8Array };
}

/**
 * Reads and checks a package folder: manifest fields and config ranges, each ONNX file present as
 * a regular file inside the folder with the recorded size and sha256. See `checkPackageNetworks`
 * for the checks of the networks against the manifest, which loading adds.
 * @throws ModelPackageError naming the file and field at fault
 */
export function readModelPackage(dir: string, options: { dtype?: Precision } = {}): ModelPackage {
  const root = resolve(dir);
  const manifestPath = join(root, MANIFEST_FILE);
  if (!existsSync(manifestPath) && !isLink(manifestPath)) {
    throw new ModelPackageError(root, `not a model package: no ${MANIFEST_FILE} (make one with 'resdet convert <checkpoint> --out <dir>')`);
  }
  const text = readInside(root, MANIFEST_FILE, { max: MAX_MANIFEST_BYTES, what: `the package manifest` });
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(text));
  } catch (e) {
    throw new ModelPackageError(manifestPath, jsonFailure(e));
  }
  const manifest = validateManifest(parsed, manifestPath);
  const entries = networkFilesOf(manifest, options.dtype, root);
  const files: Partial<ModelPackage['files']> = {};
  for (const role of FILE_ROLES) {
    const entry = entries[role];
    if (!entry) continue;
    files[role] = readChecked(root, role, entry);
  }
  return { dir: root, manifest, dtype: options.dtype ?? 'fp32', entries, files: files as ModelPackage['files'] };
}

/**
 * Checks a read package's networks against its manifest (levels, classes, pooled sizes, see
 * networks.ts), as loading does before it creates sessions; returns the package.
 */
export function checkPackageNetworks(pkg: ModelPackage): ModelPackage {
  checkNetworks(pkg.manifest, pkg.files, {
    manifest: join(pkg.dir, MANIFEST_FILE),
    file: (role) => join(pkg.dir, pkg.entries[role]!.path),
  });
  return pkg;
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads `name` from the package folder `root`, as a hostile folder cannot misuse it: a symbolic
 * link is followed only to a file inside the folder; only a regular file is read (a FIFO would
 * block, a device never end), checked with fstat on the opened descriptor (O_NONBLOCK so that
 * opening a FIFO cannot hang, O_NOFOLLOW so that the path cannot be swapped for a link after it
 * was resolved); its size is checked against `bytes` or `max` before anything is read, and no
 * more than that size is read.
 */
function readInside(root: string, name: string, expect: { bytes?: number; max?: number; what: string }): Uint8Array {
  const path = join(root, name);
  let target = path;
  try {
    if (lstatSync(path).isSymbolicLink()) {
      const realRoot = realpathSync(root);
      let real: string;
      try {
        real = realpathSync(path);
      } catch {
        throw new ModelPackageError(path, `is a symbolic link to nothing (${expect.what})`);
      }
      const rel = relative(realRoot, real);
      if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
        throw new ModelPackageError(path, `is a symbolic link out of the package folder; a package's files must be inside it (${expect.what})`);
      }
      target = real;
    }
  } catch (e) {
    if (e instanceof ModelPackageError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelPackageError(path, `missing (${expect.what})`);
    throw new ModelPackageError(path, `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let fd: number;
  try {
    fd = openSync(target, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ModelPackageError(path, `missing (${expect.what})`);
    if (code === 'ELOOP') throw new ModelPackageError(path, 'became a symbolic link while being opened');
    throw new ModelPackageError(path, `cannot be opened (${code ?? 'error'})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new ModelPackageError(path, `is ${kindOf(stats)}, not a regular file (${expect.what})`);
    const size = stats.size;
    if (expect.bytes !== undefined && size !== expect.bytes) {
      throw new ModelPackageError(path, `is ${size} bytes, ${MANIFEST_FILE} says ${expect.bytes}: truncated or replaced`);
    }
    if (expect.max !== undefined && size > expect.max) {
      throw new ModelPackageError(path, `is ${size} bytes, more than the ${expect.max} a ${name} may be (${expect.what}); nothing was read`);
    }
    const bytes = Buffer.allocUnsafe(size);
    let offset = 0;
    while (offset < size) {
      const n = readSync(fd, bytes, offset, size - offset, offset);
      if (n === 0) throw new ModelPackageError(path, `ended after ${offset} of ${size} bytes: it changed while being read`);
      offset += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

function readChecked(root: string, role: string, entry: ManifestFile): Uint8Array {
  const bytes = readInside(root, entry.path, { bytes: entry.bytes, what: `${role} network listed in ${MANIFEST_FILE}` });
  if (sha256(bytes) !== entry.sha256) throw new ModelPackageError(join(root, entry.path), `sha256 differs from ${MANIFEST_FILE}: the file is corrupt or was replaced`);
  return bytes;
}

/** Writes one network file; the sha256 is of the bytes written. */
function writeNetwork(path: string, network: Uint8Array | OnnxModel): { sha256: string; bytes: number } {
  if (!(network instanceof Uint8Array)) return serializeModelToFile(network, path);
  writeFileSync(path, network);
  return { sha256: sha256(network), bytes: network.byteLength };
}

/** The manifest without the `files` and `variants` sections, which the writer fills. */
export type ManifestDraft = Omit<Manifest, 'files' | 'variants'>;

/** A precision variant to write: its networks (written as `<role>.<dtype>.onnx`) and notes. */
export interface PackageVariant {
  networks: { [K in keyof ManifestFiles]: NetworkSource };
  notes?: ManifestVariant['notes'];
}

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
  options: { overwrite?: boolean; variants?: Partial<Record<Exclude<Precision, 'fp32'>, PackageVariant>> } = {},
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
    const variants: NonNullable<Manifest['variants']> = {};
    for (const [dtype, variant] of Object.entries(options.variants ?? {}) as [Exclude<Precision, 'fp32'>, PackageVariant][]) {
      const vFiles: Partial<ManifestFiles> = {};
      for (const role of FILE_ROLES) {
        const source = variant.networks[role];
        if (!source) continue;
        const path = `${role}.${dtype}.onnx`;
        vFiles[role] = { path, ...writeNetwork(join(tmp, path), typeof source === 'function' ? source() : source) };
      }
      variants[dtype] = { files: vFiles as ManifestFiles, ...(variant.notes ? { notes: variant.notes } : {}) };
    }
    const base = typeof draft === 'function' ? draft() : draft;
    const manifest: Manifest = { ...base, files: files as ManifestFiles, ...(Object.keys(variants).length ? { variants } : {}) };
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
