/**
 * `loadModel` for Node, in a module of its own: annotate's workers import it without the
 * converter, quantizer and evaluator that the package's index also exports (a worker's start-up
 * is paid once per job, on the cores the other jobs are using).
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { createDetector, type Detector } from './detector/index.js';
import { decodeImage } from './image/decode.js';
import { checkPackageNetworks, readModelPackage, ModelPackageError } from './modelPackage/index.js';
import { fetchModelPackage, isModelUrl, type LoadModelOptions } from './modelPackage/remote.js';
import { nodePackageStore } from './download/packageStore.js';
import { nmsPlacement, type OrtModule, ProviderUnavailableError } from './runtime/index.js';

/** The models/ folder shipped with the package: `loadModel('shapes')` loads models/shapes. */
export const bundledModelsDir = join(findPackageRoot(dirname(fileURLToPath(import.meta.url))), 'models');

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return from;
  }
}

/** The names `loadModel` takes for the packages in models/. */
function bundledModelNames(): string[] {
  return existsSync(bundledModelsDir) ? readdirSync(bundledModelsDir).filter((n) => existsSync(join(bundledModelsDir, n, 'resdet.json'))) : [];
}

/** A package folder, a file: URL, or the name of a model shipped in models/ (http(s) URLs: see loadModel). */
export function resolveModelPath(model: string | URL): string {
  if (isModelUrl(model)) throw new ModelPackageError(String(model), 'is an http(s) URL, not a local package: loadModel fetches it');
  if (model instanceof URL || model.startsWith('file:')) return fileURLToPath(model);
  if (/^[a-z0-9][a-z0-9_-]*$/i.test(model) && !existsSync(model)) {
    const bundled = join(bundledModelsDir, model);
    if (existsSync(bundled)) return bundled;
    throw new ModelPackageError(model, `no such model package folder, and no bundled model of that name (bundled: ${bundledModelNames().join(', ')})`);
  }
  return resolve(model);
}


const nodeProviders = new Set(['cpu', 'cuda', 'webgpu']);

/**
 * Loads a model package and creates its ONNX Runtime sessions.
 * @param model a package folder, a file: URL, a bundled model's name (e.g. 'shapes'), or the
 *   http(s) URL of a package folder: its files are downloaded once into the cache
 *   (`resdetCacheDir()`, `$RESDET_CACHE` to move it) and checked by size and sha256; resdet.json
 *   is fetched on every load
 * @param options provider ('cpu' default, 'cuda', 'webgpu'), threads per operator, and
 *   onProgress ({ file, loaded, total, cached }) for URL loads, and dtype ('fp32' default, or a
 *   precision variant the package holds: 'fp16', 'int8'); fallback: 'cpu' to run on the CPU when
 *   the provider cannot start (said in `result.provider`); logLevel of onnxruntime's own log ('error');
 *   nms: 'gpu' (webgpu only) to compute NMS's IoU bitmask on the GPU
 * @throws ProviderUnavailableError when the provider cannot start and no fallback is asked for
 * @throws RuntimeOptionsError for `nms: 'gpu'` on a provider other than 'webgpu'
 */
export async function loadModel(model: string | URL, options: LoadModelOptions = {}): Promise<Detector> {
  if (typeof model !== 'string' && !(model instanceof URL)) {
    // From JavaScript: loadModel() or loadModel(options) would otherwise fail deep inside with a TypeError.
    throw new ModelPackageError(`loadModel's first argument (${model === null ? 'null' : typeof model})`, `is not a model: loadModel takes a package folder, a file: or http(s) URL, or a bundled model's name (bundled: ${bundledModelNames().join(', ')}), e.g. loadModel('shapes')`);
  }
  const { onProgress, dtype, ...runtime } = options;
  const provider = options.provider ?? 'cpu';
  if (!nodeProviders.has(provider)) {
    throw new ProviderUnavailableError(provider, `not available in Node (use one of ${[...nodeProviders].join(', ')}; 'wasm' is for browsers)`);
  }
  const pkg = isModelUrl(model)
    ? await fetchModelPackage(model, nodePackageStore(), { onProgress, dtype })
    : checkPackageNetworks(readModelPackage(resolveModelPath(model), { dtype }));
  if (runtime.fallback !== undefined && runtime.fallback !== 'cpu') {
    throw new ProviderUnavailableError(provider, `fallback must be 'cpu' or unset, got ${JSON.stringify(runtime.fallback)}`);
  }
  nmsPlacement(runtime, provider, false); // a RuntimeOptionsError before any session is made
  try {
    return await createDetector(ort as unknown as OrtModule, pkg.manifest, pkg.files, decodeImage, { ...runtime, provider, dtype });
  } catch (e) {
    const unavailable = providerUnavailable(provider, e);
    if (!unavailable) throw new ModelPackageError('url' in pkg ? pkg.url : pkg.dir, `cannot create ONNX Runtime sessions: ${(e as Error).message}`);
    if (runtime.fallback !== 'cpu') throw unavailable;
    // Asked for: run on the CPU, and say so (detector.provider, result.provider, result.providerFallback).
    return createDetector(ort as unknown as OrtModule, pkg.manifest, pkg.files, decodeImage, { ...runtime, provider: 'cpu', dtype }, undefined, unavailable.message);
  }
}

/** A session failure that says the provider cannot start, as a ProviderUnavailableError saying what to do. */
function providerUnavailable(provider: string, e: unknown): ProviderUnavailableError | undefined {
  // Already said (e.g. a head graph the provider's rewrite cannot take): not an adapter problem.
  if (e instanceof ProviderUnavailableError) return e;
  const message = (e as Error).message;
  if (provider === 'cpu' || !/provider|backend|cuda|webgpu|adapter/i.test(message)) return undefined;
  // onnxruntime's own text starts with a source path and an assertion; keep its last sentence.
  const said = message.match(/Failed to get a WebGPU adapter[^\n]*/)?.[0] ?? message.split('\n')[0];
  const hint = provider === 'cuda'
    ? 'install the CUDA build files: npm install onnxruntime-node --onnxruntime-node-install=cuda12'
    : 'no WebGPU adapter on this machine: it needs a GPU with Vulkan (Linux), Metal or D3D12 drivers, or SwiftShader (VK_ICD_FILENAMES=<path to vk_swiftshader_icd.json>); --provider cpu runs anywhere';
  return new ProviderUnavailableError(provider, `${hint} (onnxruntime: ${said}); or pass fallback: 'cpu' to run on the CPU instead`, { cause: e });
}
