/**
 * The converter's backbone and the config that follows from its pyramid: resdet's ResNet-FPN built
 * from the checkpoint, or the user's ONNX file (backboneOnnx.ts); then the checks that the heads'
 * weights fit the declared levels (RPN head in-channels and anchors per location), and the pooled
 * levels and anchors the package gets.
 *
 * A: anchors per location; C: channels of a level.
 */
import { BackboneError, type PyramidLevel, buildResNetFpn, findBackbonePrefix } from '../../backbones/index.js';
import { type StateDict } from '../../onnx/index.js';
import { anchorsPerLocation, levelMapperDefaults } from '../../heads/config.js';
import type { RpnHeadNetwork } from '../../heads/rpnHead.js';
import { type DetectorConfig, type DetectorConfigOverrides } from '../config.js';
import { type ManifestBackbone, ModelPackageError, type NetworkSource } from '../modelPackage/index.js';
import { show } from '../modelPackage/configSchema.js';
import { type LevelSpec, readUserBackbone } from './backboneOnnx.js';
import { decideFrozenBnEps } from './eps.js';
import { mergeConfig } from './presets.js';

/** The backbone the package gets, and what the summary says of it. */
export interface PyramidSource {
  levels: PyramidLevel[];
  network: NetworkSource;
  manifest: ManifestBackbone;
  /** For `detectorVariant`: the FPN's norm (an ONNX backbone's is unknown: undefined). */
  fpnNorm?: boolean;
  /** 'ResNet-50-FPN', or 'ONNX backbone (backbone.onnx)'. */
  name: string;
  /** The torchvision arch ('resnet50', 'custom'), for `familyName`. */
  arch?: string;
  /** e.g. 'resnet50 (Bottleneck [3, 4, 6, 3], groups 1, width/group 64) + FPN 256'. */
  architecture: string;
  /** The FrozenBatchNorm eps folded into a ResNet body and why; undefined for an ONNX backbone. */
  eps?: { eps: number; reason: string };
}

/** resdet's ResNet-FPN from the checkpoint's `backbone.*` weights, with the eps decision (eps.ts). */
export function resnetFpnSource(sd: StateDict, checkpointPath: string, sourceName: string, options: { eps?: number; arch?: string }): PyramidSource {
  let prefix: string;
  try {
    prefix = findBackbonePrefix(sd);
  } catch (e) {
    if (!(e instanceof BackboneError)) throw e;
    throw new ModelPackageError(checkpointPath, `${e.message}; for another backbone, export it to ONNX and pass --backbone-onnx (README: "Your own backbone")`, { cause: e });
  }
  const { eps, reason } = decideFrozenBnEps(sd, checkpointPath, prefix, sourceName, options.eps);
  const backbone = buildResNetFpn(sd, { eps, arch: options.arch });
  const d = backbone.description;
  return {
    levels: [...backbone.levels],
    network: backbone.model,
    manifest: { kind: 'resnet-fpn', arch: d.arch, frozenBnEps: eps, levels: [...backbone.levels] },
    fpnNorm: d.fpnNorm,
    name: 'ResNet-FPN',
    arch: d.arch,
    architecture: `${d.arch} (${d.block} [${d.layers.join(', ')}], groups ${d.groups}, width/group ${d.widthPerGroup}) + FPN ${d.fpnChannels}${d.returnedLayers.length === 4 ? '' : ` on layer${d.returnedLayers.join(',')}`}`,
    eps: { eps, reason },
  };
}

/** A user's ONNX backbone: levels read from the file (or `levels`) and probed. */
export async function onnxSource(path: string, levels: readonly LevelSpec[] | undefined): Promise<PyramidSource> {
  const user = await readUserBackbone(path, levels);
  const declared = user.levels.map((l) => `${l.name} (stride ${l.stride}, ${l.channels} channels)`).join(', ');
  return {
    levels: user.levels,
    network: user.onnx,
    manifest: { kind: 'onnx', arch: user.fileName.slice(0, 100), levels: user.levels },
    name: `ONNX backbone (${user.fileName})`,
    architecture: `ONNX backbone ${user.fileName}: levels ${declared}`,
  };
}

/**
 * The config overrides the package gets, from the least to the most specific: the preset's, then
 * the pooled levels that follow from the pyramid (torchvision's MultiScaleRoIAlign(['0', '1', '2',
 * '3']) pools those of its levels the backbone emits, `_filter_input`), then the caller's.
 * @throws ModelPackageError when no level is pooled
 */
export function pyramidConfig(levels: readonly PyramidLevel[], preset: DetectorConfigOverrides, given: DetectorConfigOverrides | undefined, where: string): DetectorConfigOverrides {
  let out: DetectorConfigOverrides = { ...preset };
  if (given?.levelMapper?.featureNames === undefined) {
    const defaults = levelMapperDefaults.featureNames;
    const featureNames = levels.map((l) => l.name).filter((n) => defaults.includes(n));
    if (featureNames.length === 0) {
      throw new ModelPackageError(where, `no pyramid level is named as torchvision's poolers read them (${show(defaults)}); the levels are ${show(levels.map((l) => l.name))}`);
    }
    if (featureNames.length !== defaults.length) out.levelMapper = { ...out.levelMapper, featureNames };
  }
  out = mergeConfig(out, given);
  return out;
}

/**
 * The RPN head's weights fit the pyramid: every level has the channels its convolution takes, and
 * the anchor generator (sizes x aspect ratios, per level) gives as many anchors per location as
 * its `cls_logits` predicts.
 * @throws ModelPackageError naming both sides
 */
export function checkRpnHeadFits(rpnHead: RpnHeadNetwork, levels: readonly PyramidLevel[], config: DetectorConfig, backboneName: string, where: string): void {
  for (const level of levels) {
    if (level.channels !== rpnHead.channels) {
      throw new ModelPackageError(where, `the RPN head takes ${rpnHead.channels}-channel features ('rpn.head.conv'), but level '${level.name}' of the ${backboneName} has ${level.channels} channels`);
    }
  }
  const { anchorSizes, aspectRatios } = config.rpn;
  if (anchorSizes.length !== levels.length) {
    throw new ModelPackageError(where, `the anchor sizes ${show(anchorSizes)} are for ${anchorSizes.length} levels, the ${backboneName} has ${levels.length} (${levels.map((l) => `'${l.name}'`).join(', ')}): give one list per level (--anchor-sizes), or the builder's (--preset)`);
  }
  const perLocation = anchorsPerLocation(config.rpn);
  const wrong = perLocation.findIndex((a) => a !== rpnHead.anchorsPerLocation);
  if (wrong >= 0) {
    throw new ModelPackageError(where, `the RPN head predicts ${rpnHead.anchorsPerLocation} anchors per location ('rpn.head.cls_logits.weight'), but anchor sizes ${show(anchorSizes[wrong])} x aspect ratios ${show(aspectRatios)} give level '${levels[wrong].name}' ${perLocation[wrong]}: set them with --anchor-sizes / --aspect-ratios, or --preset the torchvision builder the model came from`);
  }
}

/**
 * The box head's weights take the pooled levels' channels: TwoMLPHead's fc6 takes C x P x P
 * features (P = `config.roiHeads.poolerOutputSize`, torchvision's 7), FastRCNNConvFCHead's first
 * conv C channels. Checked before the head is built, which would otherwise read P from fc6 and C
 * and could find another square.
 * @throws ModelPackageError naming the weight, its shape and the levels
 */
export function checkBoxHeadFits(sd: StateDict, pooled: readonly PyramidLevel[], pooledSize: number, backboneName: string, where: string): void {
  const c = pooled[0].channels;
  const names = pooled.map((l) => `'${l.name}'`).join(', ');
  const fc6 = sd.get('roi_heads.box_head.fc6.weight');
  if (fc6 && fc6.shape.length === 2 && fc6.shape[1] !== c * pooledSize * pooledSize) {
    throw new ModelPackageError(where, `the box head takes ${fc6.shape[1]} features ('roi_heads.box_head.fc6.weight' [${fc6.shape.join(', ')}]), but the ${backboneName}'s pooled levels ${names} give ${c} x ${pooledSize} x ${pooledSize} = ${c * pooledSize * pooledSize} (a head trained on other RoI sizes: set config.roiHeads.poolerOutputSize)`);
  }
  const conv = sd.get('roi_heads.box_head.0.0.weight');
  if (!fc6 && conv && conv.shape.length === 4 && conv.shape[1] !== c) {
    throw new ModelPackageError(where, `the box head takes ${conv.shape[1]}-channel RoIs ('roi_heads.box_head.0.0.weight'), but the ${backboneName}'s pooled levels ${names} have ${c} channels`);
  }
}
