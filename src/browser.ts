/**
 * resdet for browsers: the same `loadModel(url).detect(image)` as in Node, on onnxruntime-web
 * ('webgpu' when the browser gives an adapter, else 'wasm'), taking what a page holds (image and
 * video elements, canvases, bitmaps, Blobs, ImageData, URLs). Chosen by the package's `browser`
 * export condition; imports nothing of Node's, and its declarations need no @types/node.
 */
import { createDetector, type Detector as CoreDetector, type DetectionResult, type DetectOptions, type ImageDecoder, type NetworkBytes } from './detector/index.js';
import type { BrowserImageInput } from './image/browserTypes.js';
import { decodeImageInBrowser } from './image/browserDecode.js';
import { type PackageFiles, readModelPackageFromFiles } from './modelPackage/blobs.js';
import { fetchModelPackageInBrowser } from './modelPackage/fetchBrowser.js';
import type { Manifest, Precision } from './modelPackage/manifest.js';
import type { LoadModelOptions } from './modelPackage/remote.js';
import { ProviderUnavailableError, type RuntimeOptions } from './runtime/index.js';
import { ModelPackageError } from './modelPackage/validate.js';
import { type BrowserProvider, chooseBrowserProvider, explainRuntimeFailure, loadOrtWeb } from './runtime/web.js';

export * from './detector/result.js';
export { DetectOptionsError, fullImageMask, GpuMasksDisposedError, ModelReleasedError } from './detector/index.js';
export { ImageDecodeError, type RawPixels } from './image/index.browser.js';
export { ModelPackageError, type Manifest, type PackageFiles, type Precision };
export { DownloadError } from './download/errors.js';
export type { DownloadProgress, LoadModelOptions } from './modelPackage/remote.js';
export { ResdetError } from '../postprocess/errors.js';
export { ProviderUnavailableError };
export type { Provider, RuntimeOptions } from './runtime/index.js';
export { RuntimeOptionsError } from './runtime/index.js';

/** What the browser's `detect` takes: see BrowserImageInput. */
export type ImageInput = BrowserImageInput;

/** A loaded model; as Node's, with `detect` taking browser inputs. */
export interface Detector extends Omit<CoreDetector, 'detect'> {
  /** Detections in one image. */
  detect(image: ImageInput, options?: DetectOptions): Promise<DetectionResult>;
  /** Detections in several images, one after another with the same sessions. */
  detect(images: readonly ImageInput[], options?: DetectOptions): Promise<DetectionResult[]>;
}

/**
 * Loads a model package served at `baseUrl` (the folder holding resdet.json).
 * @param options provider: 'webgpu' (default when navigator.gpu gives an adapter) or 'wasm';
 *   wasmPaths: the folder serving onnxruntime-web's .wasm/.mjs files, when they are not next to
 *   its module or the bundle; threads: WASM threads (cross-origin isolated pages only); dtype:
 *   'fp32' (default) or a precision variant the package holds ('fp16', 'int8')
 * @throws ProviderUnavailableError when the provider cannot start, saying what to do
 */
export async function loadModel(baseUrl: string | URL, options: LoadModelOptions = {}): Promise<Detector> {
  const provider = await providerOrFallback(options);
  // Files cached by sha256 in the Cache API; resdet.json revalidated on every load.
  const { manifest, files } = await fetchModelPackageInBrowser(baseUrl, { onProgress: options.onProgress, dtype: options.dtype });
  return startDetector(manifest, files, provider, options);
}

/** The provider to run on; with `fallback: 'cpu'`, WASM (and why) when the one asked for is unavailable. */
async function providerOrFallback(options: RuntimeOptions): Promise<{ provider: BrowserProvider; fallback?: string }> {
  try {
    return { provider: await chooseBrowserProvider(options.provider) };
  } catch (e) {
    if (options.fallback !== 'cpu' || !(e instanceof ProviderUnavailableError)) throw e;
    return { provider: 'wasm', fallback: e.message };
  }
}

/**
 * Loads a model package from files the page holds: the folder a user dropped or picked
 * (`<input type="file" webkitdirectory>`, `showDirectoryPicker()`, a drop), or a map of file name
 * to Blob. Checked as `loadModel` checks a package from a URL (sizes, sha256, the networks
 * against resdet.json); nothing is cached.
 * @param where how error messages name the package (e.g. the folder's name)
 * @throws ModelPackageError naming the file at fault; ProviderUnavailableError as loadModel
 */
export async function loadModelFromFiles(files: PackageFiles, options: RuntimeOptions & { where?: string; dtype?: Precision } = {}): Promise<Detector> {
  const { where, dtype, ...runtime } = options;
  const provider = await providerOrFallback(runtime);
  const pkg = await readModelPackageFromFiles(files, where, dtype);
  return startDetector(pkg.manifest, pkg.files, provider, { ...runtime, dtype });
}

async function startDetector(manifest: Manifest, files: NetworkBytes, chosen: { provider: BrowserProvider; fallback?: string }, options: RuntimeOptions & { dtype?: Precision }): Promise<Detector> {
  const { provider, fallback } = chosen;
  const ort = await loadOrtWeb(provider, options);
  try {
    // The detector passes images through to the decoder it is given: this one takes browser inputs.
    const detector = await createDetector(ort, manifest, files, decodeImageInBrowser as unknown as ImageDecoder, { ...options, provider }, undefined, fallback);
    return detector as unknown as Detector;
  } catch (e) {
    throw await explainRuntimeFailure(e, provider, options);
  }
}
