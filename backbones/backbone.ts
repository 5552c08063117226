/**
 * The backbone contract: an ONNX model that maps a batch of images to a feature pyramid, and the
 * declaration of that pyramid's levels (name, stride, channels), as Detectron2's `ShapeSpec`.
 * Heads are written against the declaration, never against a particular network.
 */
import { ResdetError } from '../postprocess/errors.js';

/** One level of a feature pyramid; e.g. torchvision's FPN emits '0'..'3' and 'pool'. */
export interface PyramidLevel {
  /** Output name in the ONNX model and key of the level (torchvision's: '0', '1', '2', '3', 'pool'). */
  name: string;
  /** Input pixels per feature cell along each axis; a power of two (4, 8, 16, 32, 64). */
  stride: number;
  /** Feature channels C of the level. */
  channels: number;
}

/**
 * torchvision's FPN pyramid over ResNet layers plus LastLevelMaxPool, for `channels` channels:
 * layer k (stride 2^(k+1)) of `returnedLayers` is level '0', '1', ... in order, and 'pool' halves the
 * last. The default, layer1..4, gives '0'..'3' at strides 4..32 and 'pool' at 64.
 */
export function torchvisionFpnLevels(channels: number, returnedLayers: readonly number[] = [1, 2, 3, 4]): PyramidLevel[] {
  const levels = returnedLayers.map((layer, i) => ({ name: String(i), stride: 2 ** (layer + 1), channels }));
  return [...levels, { name: 'pool', stride: 2 * levels[levels.length - 1].stride, channels }];
}

/**
 * A backbone ready to run: `onnx` takes `inputName` [N, 3, H, W] (normalized images, H and W
 * multiples of `sizeDivisible`) and emits one output per level, named as the level,
 * [N, level.channels, ceil(H / level.stride), ceil(W / level.stride)].
 */
export interface Backbone {
  /** Serialized ONNX ModelProto. */
  readonly onnx: Uint8Array;
  readonly inputName: string;
  /** Levels from the finest (smallest stride) to the coarsest. */
  readonly levels: readonly PyramidLevel[];
  /** Padding multiple the input must respect (32 for ResNet-FPN). */
  readonly sizeDivisible: number;
}

/** The pyramid a backbone produced for one batch, generic over the runtime's tensor type. */
export interface FeaturePyramid<TTensor> {
  readonly levels: readonly PyramidLevel[];
  /** level name -> [N, C, Hi, Wi] */
  readonly features: ReadonlyMap<string, TTensor>;
}

/** A backbone that cannot be built or a pyramid declaration that is inconsistent. */
export class BackboneError extends ResdetError {
  constructor(message: string) {
    super('BACKBONE', message);
  }
}

/**
 * Checks a level declaration: non-empty, unique names, positive integer channels, power-of-two
 * strides that never decrease (the poolers and anchor generators derive scales from them; torchvision's
 * MobileNetV3-FPN emits two levels of stride 32).
 * @throws BackboneError naming the level at fault
 */
export function validateLevels(levels: readonly PyramidLevel[]): void {
  if (levels.length === 0) throw new BackboneError('a backbone must declare at least one pyramid level');
  const seen = new Set<string>();
  let previous = 0;
  for (const l of levels) {
    if (!l.name || seen.has(l.name)) throw new BackboneError(`pyramid level name '${l.name}' is empty or repeated`);
    seen.add(l.name);
    if (!Number.isInteger(l.channels) || l.channels <= 0) {
      throw new BackboneError(`pyramid level '${l.name}': channels must be a positive integer, got ${l.channels}`);
    }
    if (!Number.isInteger(l.stride) || l.stride <= 0 || (l.stride & (l.stride - 1)) !== 0) {
      throw new BackboneError(`pyramid level '${l.name}': stride must be a power of two, got ${l.stride}`);
    }
    if (l.stride < previous) throw new BackboneError(`pyramid level '${l.name}': stride ${l.stride} is smaller than the previous level's ${previous}; levels go from the finest to the coarsest`);
    previous = l.stride;
  }
}
