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
import { type InferenceSession, nmsPlacement, type OrtModule, type Provider, type RuntimeOptions, sessionOptions } from '../runtime/index.js';
import { GeneralizedRCNN, type RcnnOutput, type RcnnSessions } from './rcnn.js';
import { cpuOperators, headPoolers, type NetworkRole, type OutputLocation, type StageOperators, webgpuOperators } from './operators.js';
import type { DetectionResult, DetectOptions, PyramidActivations } from './result.js';
import type { Precision } from '../modelPackage/manifest.js';
import { chooseComputePrecision, type ComputePrecision } from './precision.js';
import { checkProviderOptions, ModelReleasedError, type ResolvedDetectOptions, resolveDetectOptions } from './options.js';
import { detectionFilter, resizeBoxes, toDetections } from './results.js';

export * from './result.js';
export { DetectOptionsError, ModelReleasedError } from './options.js';
export { GpuMasksDisposedError } from './gpuMasks.js';
export { fullImageMask } from './results.js';
export { type ComputePrecision, probeFloat16 } from './precision.js';

export type ImageDecoder = (input: ImageInput, options: DecodeOptions) => Promise<DecodedImage>;

export interface Detector {
  readonly manifest: Manifest;
  /** The provider the networks run on (with `fallback`, possibly not the one asked for). */
  readonly provider: Provider;
  /** Why the provider asked for could not start, when `fallback` ran the model on another. */
  readonly providerFallback?: string;
  /**
   * The precision of the networks' float arithmetic: 'fp16' for an fp16 package on 'webgpu' whose
   * device runs float16 kernels (the adapter has `shader-f16`), else 'fp32' (an fp16 package's
   * weights are then cast to float32 once, at load). Outputs are float32 either way.
   */
  readonly computePrecision: ComputePrecision;
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
function pyramidActivations(out: RcnnOutput): PyramidActivations {
  // forward(..., pyramid = true) brought every level to the CPU (a GPU provider through a copy graph).
  const features = out.features!;
  const levels = features.levels.map((level) => {
    const tensor = features.features.get(level.name)!;
    const [, channels, height, width] = tensor.dims;
    return { name: level.name, stride: level.stride, channels, height, width, data: tensor.data as Float32Array };
  });
  return { imageSize: [...out.batch.imageSize], paddedSize: [...out.batch.paddedSize], levels };
}

/** The networks of a package, as bytes (from files in Node, from fetch in browsers). */
export type NetworkBytes = { backbone: Uint8Array; rpnHead: Uint8Array; boxHead: Uint8Array; maskHead?: Uint8Array };

/**
 * A detector over a checked package's networks, on `runtime.provider` with the operators that
 * provider takes (operators.ts): on 'webgpu' the pyramid stays on the GPU between the networks.
 * `backbones` resolves `manifest.backbone.kind` (default: `createBackboneRegistry()`, which knows
 * 'resnet-fpn' and 'onnx').
 * `runtime.dtype` is the package variant the networks are (default 'fp32'): an 'fp16' one computes
 * in float16 on a float16-capable WebGPU device (./precision.ts).
 * `runtime.graphPooling` keeps the heads' RoiAlign nodes on the CPU (the calibration of
 * src/quantize watches the networks it was given, byte for byte); by default the CPU operators
 * take them out and pool in WebAssembly (operators.ts).
 * @param providerFallback why another provider was asked for and could not start (kept in results)
 */
export async function createDetector(
  ort: OrtModule, manifest: Manifest, networks: NetworkBytes, decode: ImageDecoder, runtime: RuntimeOptions & { dtype?: Precision; graphPooling?: boolean },
  backbones: BackboneRegistry = createBackboneRegistry(), providerFallback?: string,
): Promise<Detector> {
  const provider: Provider = runtime.provider ?? 'cpu';
  const { dtype, graphPooling, ...runtimeOptions } = runtime;
  const nms = nmsPlacement(runtime, provider, providerFallback !== undefined);
  const opts = sessionOptions(runtimeOptions);
  const create = (bytes: Uint8Array, outputs: OutputLocation = 'cpu') =>
    ort.InferenceSession.create(bytes, outputs === 'cpu' ? opts : { ...opts, preferredOutputLocation: outputs });
  // The package names its backbone kind; the registry checks the file against the declared levels.
  const backbone = backbones.load(manifest.backbone.kind, networks.backbone, manifest.backbone.levels);
  const config = resolveConfig(manifest.config);
  const sessions: Partial<RcnnSessions> = {};
  let ops: StageOperators | undefined;
  let computePrecision: ComputePrecision = 'fp32';
  try {
    computePrecision = await chooseComputePrecision(ort, provider, dtype, (bytes) => create(bytes));
    ops = provider === 'webgpu' ? await webgpuOperators(ort, backbone.levels, create, { compute: computePrecision, nms }) : cpuOperators(ort, provider === 'cuda' ? 'cuda' : 'cpu', graphPooling ? {} : headPoolers(backbone.levels, config));
    const network = (role: NetworkRole, bytes: Uint8Array) => create(ops!.network(role, bytes), ops!.outputLocation(role));
    sessions.backbone = await network('backbone', backbone.onnx);
    sessions.rpnHead = await network('rpnHead', networks.rpnHead);
    sessions.boxHead = await network('boxHead', networks.boxHead);
    if (networks.maskHead) sessions.maskHead = await network('maskHead', networks.maskHead);
  } catch (e) {
    await Promise.allSettled([ops?.release(), ...Object.values(sessions).map((s: InferenceSession) => s.release())]);
    throw e;
  }
  const operators = ops;
  const model = new GeneralizedRCNN(ort, sessions as RcnnSessions, backbone.levels, config, operators);
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
    const out = await model.forward(decoded, detectionFilter(options), options.signal, options.pyramid);
    options.signal?.throwIfAborted();
    const t = performance.now();
    const detections = toDetections(out.detections, out.masks, out.batch.imageSize, out.batch.originalSize, manifest.classes, options, config.mask.pastePadding);
    const gpuMasks = options.gpuMasks !== 'none' && out.masks ? await operators.pasteMasks!({
      masks: out.masks, boxes: resizeBoxes(out.detections.boxes, out.batch.imageSize, out.batch.originalSize), maskSize: out.maskSize,
      imageHeight: out.batch.originalSize[0], imageWidth: out.batch.originalSize[1], padding: config.mask.pastePadding, form: options.gpuMasks, maskThreshold: options.maskThreshold,
    }) : undefined;
    const postprocess = performance.now() - t;
    const result: DetectionResult = {
      width: decoded.width,
      height: decoded.height,
      detections,
      decoder: decoded.decoder,
      provider,
      ...(providerFallback ? { providerFallback } : {}),
      timings: { decode: decodeMs, ...out.timings, postprocess, total: performance.now() - start },
    };
    if (options.pyramid) result.pyramid = pyramidActivations(out);
    if (gpuMasks) result.gpuMasks = gpuMasks;
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
      checkProviderOptions(resolved, provider);
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
      await Promise.all([operators.release(), ...Object.values(sessions).filter((s) => s !== undefined).map((s) => s.release())]);
    });
    return released;
  }

  return {
    manifest,
    provider,
    ...(providerFallback ? { providerFallback } : {}),
    computePrecision,
    config,
    classes: manifest.classes,
    detect: detect as Detector['detect'],
    release,
    [asyncDispose]: release,
  } as Detector;
}
