/**
 * A model package from files a page holds: the folder a user dropped or picked (File objects, as
 * `<input webkitdirectory>`, a directory picker or a drop give them), or any name -> Blob map.
 * The same checks as a package read from a folder or a URL: the manifest validated, each network
 * present with the size and sha256 resdet.json records, the networks against the manifest.
 * Runtime-neutral (Blob and Web Crypto only): browsers and Node 20+ both have them.
 *
 * Exports: PackageFiles, readModelPackageFromFiles.
 */
import { MANIFEST_FILE, type Manifest, type ManifestFiles, type Precision } from './manifest.js';
import { checkNetworks } from './networks.js';
import { FILE_ROLES, jsonFailure, MAX_MANIFEST_BYTES, ModelPackageError, networkFilesOf, validateManifest } from './validate.js';

/**
 * A package's files: File objects (matched by `name`; when several share a name, the one in the
 * folder of resdet.json by `webkitRelativePath`), or a map or record from file name to Blob.
 */
export type PackageFiles = Iterable<File> | ReadonlyMap<string, Blob> | Readonly<Record<string, Blob>>;

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The folder part of a File's `webkitRelativePath` ('' for a file picked or dropped alone). */
function folderOf(blob: Blob): string {
  const path = (blob as File).webkitRelativePath ?? '';
  return path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
}

/** name -> candidates, in the order given. */
function byName(files: PackageFiles): Map<string, Blob[]> {
  const out = new Map<string, Blob[]>();
  const add = (name: string, blob: Blob) => out.set(name, [...(out.get(name) ?? []), blob]);
  if (files instanceof Map) for (const [name, blob] of files) add(name, blob);
  else if (Symbol.iterator in files) for (const file of files as Iterable<File>) add(file.name, file);
  else for (const [name, blob] of Object.entries(files)) add(name, blob);
  return out;
}

/**
 * Reads and checks a package from in-memory files.
 * @param where how to name the package in messages (e.g. the dropped folder's name)
 * @throws ModelPackageError naming the file at fault: no resdet.json, an invalid manifest, a
 *   network missing or of the wrong size or sha256, networks that disagree with the manifest
 */
export async function readModelPackageFromFiles(
  files: PackageFiles, where = 'the chosen files', dtype?: Precision,
): Promise<{ manifest: Manifest; files: { [K in keyof ManifestFiles]: Uint8Array } }> {
  const named = byName(files);
  const manifestBlob = named.get(MANIFEST_FILE)?.[0];
  const present = [...named.keys()].slice(0, 8).join(', ') || 'none';
  if (!manifestBlob) {
    throw new ModelPackageError(where, `has no ${MANIFEST_FILE}, so it is not a resdet model package (files: ${present}); choose the folder \`resdet convert\` wrote`);
  }
  const at = (name: string) => `${where}/${name}`;
  if (manifestBlob.size > MAX_MANIFEST_BYTES) {
    throw new ModelPackageError(at(MANIFEST_FILE), `is ${manifestBlob.size} bytes, more than the ${MAX_MANIFEST_BYTES} a ${MANIFEST_FILE} may be; nothing was read`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await manifestBlob.text());
  } catch (e) {
    throw new ModelPackageError(at(MANIFEST_FILE), `${jsonFailure(e)}: is this a resdet model package?`);
  }
  const manifest = validateManifest(parsed, at(MANIFEST_FILE));
  const folder = folderOf(manifestBlob);
  const entries = networkFilesOf(manifest, dtype, where);
  const bytes: Partial<{ [K in keyof ManifestFiles]: Uint8Array }> = {};
  for (const role of FILE_ROLES) {
    const entry = entries[role];
    if (!entry) continue;
    const candidates = named.get(entry.path) ?? [];
    const blob = candidates.find((b) => folderOf(b) === folder) ?? candidates[0];
    if (!blob) throw new ModelPackageError(at(entry.path), `missing (the ${role} network ${MANIFEST_FILE} lists); files given: ${present}`);
    if (blob.size !== entry.bytes) throw new ModelPackageError(at(entry.path), `is ${blob.size} bytes, ${MANIFEST_FILE} says ${entry.bytes}: truncated or replaced`);
    const data = new Uint8Array(await blob.arrayBuffer());
    const digest = await sha256Hex(data);
    if (digest !== entry.sha256) {
      throw new ModelPackageError(at(entry.path), `sha256 is ${digest.slice(0, 12)}..., ${MANIFEST_FILE} says ${entry.sha256.slice(0, 12)}...: the file is corrupt or was replaced without updating the manifest`);
    }
    bytes[role] = data;
  }
  checkNetworks(manifest, bytes, { manifest: at(MANIFEST_FILE), file: (role) => at(entries[role]!.path) });
  return { manifest, files: bytes as { [K in keyof ManifestFiles]: Uint8Array } };
}
