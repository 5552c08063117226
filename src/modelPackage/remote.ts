/**
 * Model packages served over HTTP(S): the URL and manifest logic and the per-file download loop,
 * runtime-neutral (fetch and web streams, no Node APIs), shared by Node's `loadModel(url)` and the
 * browser's. Where the files are kept is the runtime's part, behind `PackageFileStore`: a folder
 * under the user's cache directory in Node (src/download/packageStore.ts), the Cache API in
 * browsers (fetchBrowser.ts).
 *
 * What is cached, and why: each ONNX file is stored under the sha256 its manifest gives, so a file
 * is downloaded once and then never requested again while a manifest lists that digest (a package
 * republished with one network changed downloads only that one). resdet.json itself is fetched on
 * every load, revalidated past any HTTP cache, because it is what says a file changed; it is a
 * few kilobytes.
 *
 * Exports: LoadModelOptions, DownloadProgress, PackageFileStore, RemotePackage, isModelUrl,
 * packageBaseUrl, packageFileUrl, fetchModelPackage, sha256Mismatch.
 */
import { DownloadError, fetchFailure } from '../download/errors.js';
import type { RuntimeOptions } from '../runtime/index.js';
import { MANIFEST_FILE, type Manifest, type ManifestFile, type ManifestFiles, type Precision } from './manifest.js';
import { checkNetworks } from './networks.js';
import { FILE_ROLES, isPackageFileName, jsonFailure, MAX_MANIFEST_BYTES, ModelPackageError, networkFilesOf, validateManifest } from './validate.js';

/** Progress of one file: reported when it starts, as bytes arrive, and when it is complete. */
export interface DownloadProgress {
  /** The file's name: its path in the package (e.g. 'backbone.onnx'), or a checkpoint's name. */
  file: string;
  /** Where it comes from. */
  url: string;
  /** Bytes received so far (for a resumed download, counting those received before); never decreases. */
  loaded: number;
  /** The file's size; undefined only for a checkpoint whose server sends no Content-Length. */
  total: number | undefined;
  /** True when the file came from the cache: then one report, with loaded === total. */
  cached: boolean;
}

/** `loadModel` options: the runtime's, and progress for packages loaded from a URL. */
export interface LoadModelOptions extends RuntimeOptions {
  /** Called per file of a package loaded from an http(s) URL, see DownloadProgress. */
  onProgress?: (progress: DownloadProgress) => void;
  /**
   * The networks' precision: 'fp32' (default; every package has it), or a variant the package
   * holds ('fp16', 'int8'; written by `resdet quantize`). Only that variant's files are read.
   */
  dtype?: Precision;
}

/** A package fetched from a URL: its manifest and the bytes of each ONNX file, all checked. */
export interface RemotePackage {
  /** The package's base URL (ending in '/'). */
  url: string;
  manifest: Manifest;
  files: { [K in keyof ManifestFiles]: Uint8Array };
}

/**
 * Where a runtime keeps package files, by sha256. `get` returns only bytes that still match the
 * entry (dropping any that do not); `put` consumes a download and must keep nothing that a later
 * `get` would return unless all of it arrived and matched size and sha256 (`chunks` throws on a
 * cut connection or a wrong size; the store checks the digest with `sha256Mismatch`).
 */
export interface PackageFileStore {
  get(entry: ManifestFile, url: URL): Promise<Uint8Array | undefined>;
  put(entry: ManifestFile, url: URL, chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array>;
}

/** True for an http: or https: address (a package to fetch); paths and file: URLs are local. */
export function isModelUrl(model: string | URL): boolean {
  return /^https?:\/\//i.test(String(model));
}

/**
 * The package folder's URL, ending in '/' so that file names resolve inside it. Accepts the
 * folder with or without the trailing slash, or the address of its resdet.json.
 * @param relativeTo base for a relative address (the page's location in browsers)
 */
export function packageBaseUrl(model: string | URL, relativeTo?: string): URL {
  let href = String(model);
  if (href.endsWith(`/${MANIFEST_FILE}`)) href = href.slice(0, -MANIFEST_FILE.length);
  try {
    return new URL(href.endsWith('/') ? href : `${href}/`, relativeTo);
  } catch (e) {
    throw new ModelPackageError(href, 'is not a valid URL of a model package folder', { cause: e });
  }
}

/**
 * Fetches `url`, returning an OK response. A server that says the file is not there (404, 410)
 * means the package is wrong (ModelPackageError); anything else is a failed transfer (DownloadError).
 */
async function fetchOk(url: URL, what: string, init?: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new DownloadError(url.href, `cannot fetch ${what} (${fetchFailure(e)}); check the address and the network`, { cause: e });
  }
  if (response.ok) return response;
  await response.body?.cancel().catch(() => undefined);
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  if (response.status === 404 || response.status === 410) {
    throw new ModelPackageError(url.href, `${status}: no ${what} at this address (a package URL is the folder holding ${MANIFEST_FILE})`);
  }
  throw new DownloadError(url.href, `cannot fetch ${what}: ${status}`, { status: response.status });
}

async function fetchManifest(base: URL): Promise<Manifest> {
  const url = new URL(MANIFEST_FILE, base);
  // 'no-cache' revalidates with the server: the manifest is what tells a stale file from a fresh one.
  const response = await fetchOk(url, `${MANIFEST_FILE} (the package manifest)`, { cache: 'no-cache' });
  const text = await readCapped(response, url, MAX_MANIFEST_BYTES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ModelPackageError(url.href, `${jsonFailure(e)}: is this the address of a resdet model package?`);
  }
  return validateManifest(parsed, url.href);
}

/** The body as text, refusing (without reading on) one longer than `max` bytes. */
async function readCapped(response: Response, url: URL, max: number): Promise<string> {
  const tooLarge = (size: number | string) => new ModelPackageError(url.href, `is ${size} bytes, more than the ${max} a ${MANIFEST_FILE} may be: is this the address of a resdet model package?`);
  const declared = Number(response.headers.get('content-length'));
  if (declared > max) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(declared);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      length += chunk.value.byteLength;
      if (length > max) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(`over ${max}`);
      }
      chunks.push(chunk.value);
    }
  } catch (e) {
    if (e instanceof ModelPackageError) throw e;
    throw new DownloadError(url.href, `connection lost while reading (${fetchFailure(e)}); try again`, { cause: e });
  }
  const all = new Uint8Array(length);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/**
 * The URL of a package file: inside the package's folder, always. validateManifest admits only
 * plain file names; this refuses anything else again, for a manifest checked by someone else.
 */
export function packageFileUrl(base: URL, path: string): URL {
  const url = isPackageFileName(path) ? new URL(path, base) : undefined;
  if (!url || url.origin !== base.origin || !url.href.startsWith(base.href) || url.href.slice(base.href.length) !== path) {
    throw new ModelPackageError(base.href, `${MANIFEST_FILE} names file ${JSON.stringify(path.slice(0, 60))}, which is not a file name inside the package folder`);
  }
  return url;
}

/** The error for a file whose bytes arrived in full but hash differently from the manifest. */
export function sha256Mismatch(url: URL, entry: ManifestFile, digest: string): ModelPackageError {
  return new ModelPackageError(url.href, `sha256 is ${digest.slice(0, 12)}..., ${MANIFEST_FILE} says ${entry.sha256.slice(0, 12)}...: the file is corrupt or was replaced without updating the manifest; nothing was cached`);
}

/**
 * The response body as chunks, counted: reports progress after each chunk, throws a
 * ModelPackageError as soon as more bytes arrive than the manifest says (or fewer by the end),
 * and a DownloadError when the connection is cut.
 */
async function* countedBody(response: Response, url: URL, entry: ManifestFile, progress: (loaded: number) => void): AsyncGenerator<Uint8Array> {
  if (!response.body) throw new DownloadError(url.href, 'the response has no body');
  const reader = response.body.getReader();
  let loaded = 0;
  let done = false;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new DownloadError(url.href, `connection lost after ${loaded} of ${entry.bytes} bytes (${fetchFailure(e)}); nothing was cached: load again to retry`, { cause: e });
      }
      if (chunk.done) break;
      loaded += chunk.value.byteLength;
      if (loaded > entry.bytes) {
        throw new ModelPackageError(url.href, `is larger than the ${entry.bytes} bytes ${MANIFEST_FILE} says: the file was replaced without updating the manifest`);
      }
      yield chunk.value;
      progress(loaded);
    }
    done = true;
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
  }
  if (loaded !== entry.bytes) {
    throw new ModelPackageError(url.href, `is ${loaded} bytes, ${MANIFEST_FILE} says ${entry.bytes}: the server sent a truncated or different file`);
  }
}

async function fetchPackageFile(
  base: URL, role: string, entry: ManifestFile, store: PackageFileStore, onProgress?: LoadModelOptions['onProgress'],
): Promise<Uint8Array> {
  const url = packageFileUrl(base, entry.path);
  const report = (loaded: number, cached: boolean) => onProgress?.({ file: entry.path, url: url.href, loaded, total: entry.bytes, cached });
  const stored = await store.get(entry, url);
  if (stored) {
    report(entry.bytes, true);
    return stored;
  }
  const response = await fetchOk(url, `${role} network listed in ${MANIFEST_FILE}`);
  report(0, false);
  return store.put(entry, url, countedBody(response, url, entry, (loaded) => report(loaded, false)));
}

/**
 * Fetches a package from its URL: resdet.json (always, revalidated), then each ONNX file from
 * `store` when it holds that sha256, else from the server into `store`, checked by size and sha256;
 * then the networks against the manifest (networks.ts). Every file URL stays inside the folder.
 * @throws ModelPackageError naming the URL: no package there (404), invalid manifest, a file of the
 *   wrong size or sha256; DownloadError naming the URL: unreachable, HTTP error, connection cut
 */
export async function fetchModelPackage(
  model: string | URL, store: PackageFileStore, options: { onProgress?: LoadModelOptions['onProgress']; relativeTo?: string; dtype?: Precision } = {},
): Promise<RemotePackage> {
  const base = packageBaseUrl(model, options.relativeTo);
  const manifest = await fetchManifest(base);
  const entries = networkFilesOf(manifest, options.dtype, base.href);
  const files: Partial<RemotePackage['files']> = {};
  for (const role of FILE_ROLES) {
    const entry = entries[role];
    if (entry) files[role] = await fetchPackageFile(base, role, entry, store, options.onProgress);
  }
  checkNetworks(manifest, files, { manifest: new URL(MANIFEST_FILE, base).href, file: (role) => packageFileUrl(base, entries[role]!.path).href });
  return { url: base.href, manifest, files: files as RemotePackage['files'] };
}
