/**
 * resdet for browsers: the same `loadModel(url).detect(image)` as in Node, on onnxruntime-web
 * ('webgpu', falling back to 'wasm'). Chosen by the package's `browser` export condition; imports
 * nothing of Node's.
 */
import * as ort from 'onnxruntime-web';
import { createDetector, type Detector, type NetworkBytes } from './detector/index.js';
import { decodeImageInBrowser } from './image/browserDecode.js';
import { MANIFEST_FILE, type Manifest, type ManifestFile } from './modelPackage/manifest.js';
import { FILE_ROLES, ModelPackageError, validateManifest } from './modelPackage/validate.js';
import { type OrtModule, ProviderUnavailableError, type RuntimeOptions } from './runtime/index.js';

export type { Detector } from './detector/index.js';
export * from './detector/result.js';
export { ImageDecodeError, type ImageInput, type RawPixels } from './image/index.browser.js';
export { ModelPackageError, type Manifest };
export { ResdetError } from '../postprocess/errors.js';
export { ProviderUnavailableError, type Provider, type RuntimeOptions } from './runtime/index.js';

async function fetchBytes(url: URL): Promise<Uint8Array> {
  const response = await fetch(url).catch((e: Error) => { throw new ModelPackageError(url.href, `cannot fetch (${e.message})`); });
  if (!response.ok) throw new ModelPackageError(url.href, `cannot fetch (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

async function checked(base: URL, role: string, entry: ManifestFile): Promise<Uint8Array> {
  const url = new URL(entry.path, base);
  const bytes = await fetchBytes(url);
  if (bytes.byteLength !== entry.bytes) throw new ModelPackageError(url.href, `is ${bytes.byteLength} bytes, ${MANIFEST_FILE} says ${entry.bytes} (${role})`);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  if (hex !== entry.sha256) throw new ModelPackageError(url.href, `sha256 differs from ${MANIFEST_FILE}: the file is corrupt or was replaced`);
  return bytes;
}

/**
 * Loads a model package served at `baseUrl` (the folder holding resdet.json).
 * @param options provider: 'webgpu' (default when navigator.gpu exists) or 'wasm'
 */
export async function loadModel(baseUrl: string | URL, options: RuntimeOptions = {}): Promise<Detector> {
  const base = new URL(String(baseUrl).endsWith('/') ? String(baseUrl) : `${String(baseUrl)}/`, globalThis.location?.href);
  const provider = options.provider ?? ('gpu' in navigator ? 'webgpu' : 'wasm');
  if (provider !== 'webgpu' && provider !== 'wasm') {
    throw new ProviderUnavailableError(provider, "not available in browsers (use 'webgpu' or 'wasm')");
  }
  const manifestUrl = new URL(MANIFEST_FILE, base);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(await fetchBytes(manifestUrl)));
  } catch (e) {
    if (e instanceof ModelPackageError) throw e;
    throw new ModelPackageError(manifestUrl.href, `is not valid JSON (${(e as Error).message})`);
  }
  const manifest = validateManifest(parsed, manifestUrl.href);
  const files: Partial<NetworkBytes> = {};
  for (const role of FILE_ROLES) {
    const entry = manifest.files[role];
    if (entry) files[role] = await checked(base, role, entry);
  }
  return createDetector(ort as unknown as OrtModule, manifest, files as NetworkBytes, decodeImageInBrowser, { ...options, provider });
}
