/**
 * The detector behind `loadModel`: decode -> GeneralizedRCNN -> results. Runtime-neutral; the
 * entry points supply the onnxruntime module, the package bytes and the image decoder.
 * Exports: Detector, createDetector and the result types.
 */
import { type BackboneRegistry, createBackboneRegistry } from '../../backbones/registry.js';
import { type DetectorConfig, resolveConfig } from '../config.js';
import type { DecodedImage, DecodeOptions, ImageInput } from '../image/types.js';
import { checkedResizedSize, imageSourceName } from '../transform/index.js';
import type { Manifest } from '../modelPackage/manifest.js';
import { type OrtModule, type RuntimeOptions, sessionOptions } from '../runtime/index.js';
import { GeneralizedRCNN, type RcnnOutput, type RcnnSessions } from './rcnn.js';
import type { DetectionResult, DetectOptions, PyramidActivations } from './result.js';
import { ModelReleasedError, type ResolvedDetectOptions, resolveDetectOptions } from './options.js';
import { detectionFilter, toDetections } from './results.js';

export * from './result.js';
export { DetectOptionsError, ModelReleasedError } from './options.js';
export { fullImageMask } from './results.js';

export type ImageDecoder = (input: ImageInput, options: DecodeOptions) => Promise<DecodedImage>;

export interface Detector {
  readonly manifest: Manifest;
  readonly config: DetectorConfig;
  /** Class names by label, background first. */
  readonly classes: readonly string[];
  /** Detections in one image. */
  detect(image: ImageInput, options?: DetectOptions): Promise<DetectionResult>;
  /**
   * Detections in several images, one after another with the same sessions. Results equal single
   * calls: torchvision pads a batch to its largest image, which changes no numbers but costs
   * compute on the padding, so images are not stacked.
   */
  detect(images: readonly ImageInput[], options?: DetectOptions): Promise<DetectionResult[]>;
  /**
   * Frees the ONNX Runtime sessions, once the calls already running have finished; `detect` after
   * it rejects with ModelReleasedError. Also run by `await using model = await loadModel(...)`.
   */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** `Symbol.asyncDispose`, or the registered symbol TypeScript's `await using` falls back to. */
const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ?? (Symbol.for('Symbol.asyncDispose') as typeof Symbol.asyncDispose);

/** The backbone's output tensors as `result.pyramid` (their data as ONNX Runtime returned it, not copied). */
async function pyramidActivations(out: RcnnOutput): Promise<PyramidActivations> {
  const levels = await Promise.all(out.features.levels.map(async (level) => {
    const tensor = out.features.features.get(level.name)!;
    // Outputs are CPU tensors today; a GPU-resident one is downloaded (getData) only here.
    const onCpu = tensor.location === 'cpu' || tensor.location === 'cpu-pinned';
    const data = (onCpu ? tensor.data : await tensor.getData()) as Float32Array;
    const [, channels, height, width] = tensor.dims;
    return { name: level.name, stride: level.stride, channels, height, width, data };
  }));
  return { imageSize: [...out.batch.imageSize], paddedSize: [...out.batch.paddedSize], levels };
}

/** The networks of a package, as bytes (from files in Node, from fetch in browsers). */
export type NetworkBytes = { backbone: Uint8Array; rpnHead: Uint8Array; boxHead: Uint8Array; maskHead?: Uint8Array };

/**
 * A detector over a checked package's networks. `backbones` resolves `manifest.backbone.kind`
 * (default: `createBackboneRegistry()`, which knows 'resnet-fpn' and 'onnx').
 */
export async function createDetector(
  ort: OrtModule, manifest: Manifest, networks: NetworkBytes, decode: ImageDecoder, runtime: RuntimeOptions,
  backbones: BackboneRegistry = createBackboneRegistry(),
): Promise<Detector> {
  const opts = sessionOptions(runtime);
  const create = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, opts);
  // The package names its backbone kind; the registry checks the file against the declared levels.
  const backbone = backbones.load(manifest.backbone.kind, networks.backbone, manifest.backbone.levels);
  const sessions: RcnnSessions = {
    backbone: await create(backbone.onnx),
    rpnHead: await create(networks.rpnHead),
    boxHead: await create(networks.boxHead),
    maskHead: networks.maskHead ? await create(networks.maskHead) : undefined,
  };
  const config = resolveConfig(manifest.config);
  const model = new GeneralizedRCNN(ort, sessions, backbone.levels, config);
  let released: Promise<void> | undefined;
  const running = new Set<Promise<unknown>>();

  async function detectOne(input: ImageInput, options: ResolvedDetectOptions): Promise<DetectionResult> {
    const start = performance.now();
    options.signal?.throwIfAborted();
    const decoded = await decode(input, { applyExifOrientation: options.applyExifOrientation, maxPixels: options.maxPixels });
    checkedResizedSize(decoded.height, decoded.width, config.transform, imageSourceName(input)); // a side resizing to 0, named
    const decodeMs = performance.now() - start;
    options.signal?.throwIfAborted();
    // The decoded bytes go to the transform as they are: no full-size float copy (see transformImage).
    const out = await model.forward(decoded, detectionFilter(options), options.signal);
    options.signal?.throwIfAborted();
    const t = performance.now();
    const detections = toDetections(out.detections, out.masks, out.batch.imageSize, out.batch.originalSize, manifest.classes, options, config.mask.pastePadding);
    const postprocess = performance.now() - t;
    const result: DetectionResult = {
      width: decoded.width,
      height: decoded.height,
      detections,
      decoder: decoded.decoder,
      timings: { decode: decodeMs, ...out.timings, postprocess, total: performance.now() - start },
    };
    if (options.pyramid) result.pyramid = await pyramidActivations(out);
    return result;
  }

  async function detectAll(input: ImageInput | readonly ImageInput[], options: ResolvedDetectOptions): Promise<DetectionResult | DetectionResult[]> {
    if (!Array.isArray(input)) return detectOne(input as ImageInput, options);
    const results: DetectionResult[] = [];
    for (const image of input) results.push(await detectOne(image, options));
    return results;
  }

  function detect(input: ImageInput | readonly ImageInput[], options?: DetectOptions): Promise<DetectionResult | DetectionResult[]> {
    if (released) return Promise.reject(new ModelReleasedError());
    let resolved: ResolvedDetectOptions;
    try {
      resolved = resolveDetectOptions(options, manifest.classes);
    } catch (e) {
      return Promise.reject(e);
    }
    const call = detectAll(input, resolved);
    running.add(call);
    const forget = () => running.delete(call);
    call.then(forget, forget);
    return call;
  }

  // Calls already running finish on their sessions; later ones get ModelReleasedError.
  function release(): Promise<void> {
    released ??= Promise.allSettled([...running]).then(async () => {
      await Promise.all(Object.values(sessions).filter((s) => s !== undefined).map((s) => s.release()));
    });
    return released;
  }

  return {
    manifest,
    config,
    classes: manifest.classes,
    detect: detect as Detector['detect'],
    release,
    [asyncDispose]: release,
  } as Detector;
}
