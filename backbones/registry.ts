/**
 * Backbones by name: torchvision's ResNet-FPN builders, plus any ONNX model a user brings with the
 * declaration of the pyramid it emits. A model package names its backbone kind ('resnet-fpn',
 * 'onnx'); this is where the name is resolved, when a package is converted (`build`, from a state
 * dict) and when it is loaded (`load`, from the package's backbone file and declared levels).
 */
import type { StateDict } from '../onnx/tensor.js';
import { readModelInterface } from '../onnx/inspect.js';
import { ELEM_TYPE } from '../onnx/onnx.js';
import { renameOutputs } from '../onnx/rewrite.js';
import { type Backbone, BackboneError, type PyramidLevel, validateLevels } from './backbone.js';
import { buildResNetFpn } from './resnetFpn.js';
import { resnetArchs } from './resnet.js';

/** What every backbone factory receives besides the weights. */
export interface BackboneBuildOptions {
  /** FrozenBatchNorm2d eps of the checkpoint (0.0 for torchvision's COCO_V1 weights, else 1e-5). */
  eps: number;
}

/** Builds a backbone from a state dict (a pre-built ONNX backbone ignores both arguments). */
export type BackboneFactory = (stateDict: StateDict, options: BackboneBuildOptions) => Backbone;

export interface OnnxBackboneOptions {
  /** The image input's name; default: the model's only non-initializer input. */
  inputName?: string;
  /** Padding multiple the input must respect; default 32, as torchvision pads detection inputs. */
  sizeDivisible?: number;
  /**
   * Level name -> the model's output name, for outputs not named as their level (torch.onnx.export
   * refuses '0'..'3'); the model is rewritten so that each level's output carries its name.
   */
  outputNames?: Readonly<Record<string, string>>;
}

/**
 * Wraps a user's ONNX model as a backbone after checking it against its level declaration: one
 * float image input [N, 3, H, W], and one float output per level (named as the level, or as
 * `outputNames` says) whose declared channel dimension (when fixed) equals the level's channels.
 * @throws BackboneError naming the input, output or level that does not fit
 */
export function onnxBackbone(model: Uint8Array, levels: readonly PyramidLevel[], options: OnnxBackboneOptions = {}): Backbone {
  validateLevels(levels);
  let info;
  try {
    info = readModelInterface(model);
  } catch (e) {
    throw new BackboneError(`backbone model is not a readable ONNX ModelProto: ${(e as Error).message}`);
  }
  const inputs = info.inputs.filter((v) => !info.initializerNames.has(v.name));
  const input = options.inputName === undefined ? (inputs.length === 1 ? inputs[0] : undefined) : inputs.find((v) => v.name === options.inputName);
  if (!input) {
    const names = inputs.map((v) => `'${v.name}'`).join(', ');
    throw new BackboneError(options.inputName === undefined
      ? `backbone model has ${inputs.length} inputs (${names}); say which one takes the images (inputName)`
      : `backbone model has no input '${options.inputName}' (inputs: ${names})`);
  }
  if (input.elemType !== ELEM_TYPE.float32 || (input.shape && (input.shape.length !== 4 || (typeof input.shape[1] === 'number' && input.shape[1] !== 3)))) {
    throw new BackboneError(`backbone input '${input.name}' must be float32 [N, 3, H, W], is type ${input.elemType} [${input.shape ?? '?'}]`);
  }
  const renames = new Map<string, string>();
  for (const level of levels) {
    const outputName = options.outputNames?.[level.name] ?? level.name;
    const out = info.outputs.find((v) => v.name === outputName);
    if (!out) {
      throw new BackboneError(`backbone model has no output '${outputName}' for level '${level.name}' (outputs: ${info.outputs.map((v) => `'${v.name}'`).join(', ')})`);
    }
    if (outputName !== level.name) {
      if (info.outputs.some((v) => v.name === level.name)) {
        throw new BackboneError(`backbone output '${outputName}' cannot be renamed to level '${level.name}': the model has an output of that name`);
      }
      renames.set(outputName, level.name);
    }
    const c = out.shape?.[1];
    if (out.elemType !== ELEM_TYPE.float32 || (typeof c === 'number' && c !== level.channels)) {
      throw new BackboneError(`backbone output '${outputName}' (level '${level.name}') is type ${out.elemType} [${out.shape ?? '?'}], declared float32 with ${level.channels} channels`);
    }
  }
  const onnx = renames.size > 0 ? renameOutputs(model, renames) : model;
  return { onnx, inputName: input.name, levels: [...levels], sizeDivisible: options.sizeDivisible ?? 32 };
}

/**
 * Turns a model package's backbone file into a backbone, checked against the levels its
 * resdet.json declares (as Detectron2's `output_shape`).
 */
export type BackboneLoader = (model: Uint8Array, levels: readonly PyramidLevel[]) => Backbone;

/** Backbone factories by name, and loaders by package backbone kind. */
export class BackboneRegistry {
  private readonly factories = new Map<string, BackboneFactory>();
  private readonly loaders = new Map<string, BackboneLoader>();

  /** Adds the loader of a package backbone kind; a kind can be registered once. */
  registerKind(kind: string, loader: BackboneLoader): void {
    if (this.loaders.has(kind)) throw new BackboneError(`backbone kind '${kind}' is already registered`);
    this.loaders.set(kind, loader);
  }

  /** Package backbone kinds this registry loads. */
  kinds(): string[] {
    return [...this.loaders.keys()];
  }

  /**
   * The backbone of a package whose resdet.json names `kind`, from its file's bytes and levels.
   * @throws BackboneError for an unknown kind or a file that does not emit the levels
   */
  load(kind: string, model: Uint8Array, levels: readonly PyramidLevel[]): Backbone {
    const loader = this.loaders.get(kind);
    if (!loader) throw new BackboneError(`unknown backbone kind '${kind}' (registered: ${this.kinds().join(', ')})`);
    return loader(model, levels);
  }

  /** Adds a factory; a name can be registered once. */
  register(name: string, factory: BackboneFactory): void {
    if (this.factories.has(name)) throw new BackboneError(`backbone '${name}' is already registered`);
    this.factories.set(name, factory);
  }

  /** Adds a ready ONNX backbone under `name`, checked now against its levels (see `onnxBackbone`). */
  registerOnnx(name: string, model: Uint8Array, levels: readonly PyramidLevel[], options?: OnnxBackboneOptions): void {
    const backbone = onnxBackbone(model, levels, options);
    this.register(name, () => backbone);
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  names(): string[] {
    return [...this.factories.keys()];
  }

  /** Builds the backbone registered as `name`. */
  build(name: string, stateDict: StateDict, options: BackboneBuildOptions): Backbone {
    const factory = this.factories.get(name);
    if (!factory) throw new BackboneError(`unknown backbone '${name}' (registered: ${this.names().join(', ')})`);
    return factory(stateDict, options);
  }
}

/**
 * A registry holding torchvision's detection backbones: 'resnet_fpn' (any ResNet layout, read from
 * the weights) and each builder name ('resnet50', 'resnext101_32x8d', ...), which also checks that
 * the weights are of that architecture; and the package kinds 'resnet-fpn' (built by resdet) and
 * 'onnx' (the user's own model, `resdet convert --backbone-onnx`), both ONNX graphs whose outputs
 * are named as their levels.
 */
export function createBackboneRegistry(): BackboneRegistry {
  const registry = new BackboneRegistry();
  registry.registerKind('resnet-fpn', (model, levels) => onnxBackbone(model, levels));
  registry.registerKind('onnx', (model, levels) => onnxBackbone(model, levels));
  registry.register('resnet_fpn', (sd, o) => buildResNetFpn(sd, { eps: o.eps }));
  for (const arch of resnetArchs) registry.register(arch, (sd, o) => buildResNetFpn(sd, { eps: o.eps, arch }));
  return registry;
}
