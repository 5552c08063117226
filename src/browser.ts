/**
 * resdet for browsers: the same `loadModel(url).detect(image)` as in Node, on onnxruntime-web
 * ('webgpu', falling back to 'wasm'). Chosen by the package's `browser` export condition; imports
 * nothing of Node's.
 */
import * as ort from 'onnxruntime-web';
import { createDetector, type Detector } from './detector/index.js';
import { decodeImageInBrowser } from './image/browserDecode.js';
import { fetchModelPackageInBrowser } from './modelPackage/fetchBrowser.js';
import type { Manifest } from './modelPackage/manifest.js';
import type { LoadModelOptions } from './modelPackage/remote.js';
import { ModelPackageError } from './modelPackage/validate.js';
import { type OrtModule, ProviderUnavailableError } from './runtime/index.js';

export type { Detector } from './detector/index.js';
export * from './detector/result.js';
export { ImageDecodeError, type ImageInput, type RawPixels } from './image/index.browser.js';
export { ModelPackageError, type Manifest };
export { DownloadError } from './download/errors.js';
export type { DownloadProgress, LoadModelOptions } from './modelPackage/remote.js';
export { ResdetError } from '../postprocess/errors.js';
export { ProviderUnavailableError, type Provider, type RuntimeOptions } from './runtime/index.js';

/**
 * Loads a model package served at `baseUrl` (the folder holding resdet.json).
 * @param options provider: 'webgpu' (default when navigator.gpu exists) or 'wasm'
 */
export async function loadModel(baseUrl: string | URL, options: LoadModelOptions = {}): Promise<Detector> {
  const provider = options.provider ?? ('gpu' in navigator ? 'webgpu' : 'wasm');
  if (provider !== 'webgpu' && provider !== 'wasm') {
    throw new ProviderUnavailableError(provider, "not available in browsers (use 'webgpu' or 'wasm')");
  }
  // Files cached by sha256 in the Cache API; resdet.json revalidated on every load.
  const { manifest, files } = await fetchModelPackageInBrowser(baseUrl, { onProgress: options.onProgress });
  return createDetector(ort as unknown as OrtModule, manifest, files, decodeImageInBrowser, { ...options, provider });
}
