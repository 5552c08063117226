/**
 * The detector behind `loadModel`: decode -> GeneralizedRCNN -> results. Runtime-neutral; the
 * entry points supply the onnxruntime module, the package bytes and the image decoder.
 * Exports: Detector, createDetector and the result types.
 */
import { type DetectorConfig, resolveConfig } from '../config.js';
import type { DecodedImage, DecodeOptions, ImageInput } from '../image/types.js';
import { toRgbImage } from '../image/convert.js';
import type { Manifest } from '../modelPackage/manifest.js';
import { type OrtModule, type RuntimeOptions, sessionOptions } from '../runtime/index.js';
import { GeneralizedRCNN, type RcnnSessions } from './rcnn.js';
import type { DetectionResult, DetectOptions } from './result.js';
import { detectionFilter, toDetections } from './results.js';

export * from './result.js';

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
  /** Frees the ONNX Runtime sessions. */
  release(): Promise<void>;
}

/** The networks of a package, as bytes (from files in Node, from fetch in browsers). */
export type NetworkBytes = { backbone: Uint8Array; rpnHead: Uint8Array; boxHead: Uint8Array; maskHead?: Uint8Array };

export async function createDetector(
  ort: OrtModule, manifest: Manifest, networks: NetworkBytes, decode: ImageDecoder, runtime: RuntimeOptions,
): Promise<Detector> {
  const opts = sessionOptions(runtime);
  const create = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, opts);
  const sessions: RcnnSessions = {
    backbone: await create(networks.backbone),
    rpnHead: await create(networks.rpnHead),
    boxHead: await create(networks.boxHead),
    maskHead: networks.maskHead ? await create(networks.maskHead) : undefined,
  };
  const config = resolveConfig(manifest.config);
  const model = new GeneralizedRCNN(ort, sessions, manifest.backbone.levels, config);

  async function detectOne(input: ImageInput, options: DetectOptions): Promise<DetectionResult> {
    const start = performance.now();
    const decoded = await decode(input, options);
    const decodeMs = performance.now() - start;
    const out = await model.forward(toRgbImage(decoded), detectionFilter(options, manifest.classes));
    const t = performance.now();
    const detections = toDetections(out.detections, out.masks, out.batch.imageSize, out.batch.originalSize, manifest.classes, options, config.mask.pastePadding);
    const postprocess = performance.now() - t;
    return {
      width: decoded.width,
      height: decoded.height,
      detections,
      decoder: decoded.decoder,
      timings: { decode: decodeMs, ...out.timings, postprocess, total: performance.now() - start },
    };
  }

  async function detect(input: ImageInput | readonly ImageInput[], options: DetectOptions = {}): Promise<DetectionResult | DetectionResult[]> {
    if (!Array.isArray(input)) return detectOne(input as ImageInput, options);
    const results: DetectionResult[] = [];
    for (const image of input) results.push(await detectOne(image, options));
    return results;
  }

  return {
    manifest,
    config,
    classes: manifest.classes,
    detect: detect as Detector['detect'],
    async release() {
      await Promise.all(Object.values(sessions).filter((s) => s !== undefined).map((s) => s.release()));
    },
  };
}
