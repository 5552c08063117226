/**
 * `resdet convert`: a torchvision Faster R-CNN / Mask R-CNN checkpoint -> a model package, in
 * TypeScript, no Python. Reads the checkpoint (safely), builds each network as an ONNX graph from
 * the weights, and writes the package atomically.
 */
import { basename } from 'node:path';
import { StateDictError } from '../../backbones/index.js';
import { type StateDict, numel } from '../../onnx/index.js';
import { buildBoxHead } from '../../heads/boxHead.js';
import { buildMaskHead } from '../../heads/maskHead.js';
import { buildRpnHead } from '../../heads/rpnHead.js';
import { loadCheckpoint } from '../checkpoint/index.js';
import { type DetectorConfigOverrides, resolveConfig } from '../config.js';
import { type DetectorVariant, FORMAT_NAME, FORMAT_VERSION, type Manifest, ModelPackageError, writeModelPackage } from '../modelPackage/index.js';
import { validateConfig } from '../modelPackage/configSchema.js';
import { checkConfigAgainstLevels } from '../modelPackage/networks.js';
import { readClassesFile, resolveClasses } from './classes.js';
import { type LevelSpec } from './backboneOnnx.js';
import { presetByName } from './presets.js';
import { type PyramidSource, checkBoxHeadFits, checkRpnHeadFits, onnxSource, pyramidConfig, resnetFpnSource } from './pyramid.js';

export { type EpsDecision, decideFrozenBnEps, defaultEps } from './eps.js';
export { type LevelSpec, levelNamesOf, parseLevels } from './backboneOnnx.js';
export { type Preset, presets } from './presets.js';

export interface ConvertOptions {
  /** Package folder to write. */
  out: string;
  /** Classes file (text lines or JSON); COCO's 91 names by default for 91-class checkpoints. */
  classes?: string;
  /** Expected backbone ('resnet50', ...): checked against the weights, which decide the layout. */
  arch?: string;
  /**
   * FrozenBatchNorm eps; by default decided from the content (see eps.ts): 0.0 for torchvision's
   * published COCO_V1 files (by sha256, or failing that by name), 1e-5 otherwise.
   */
  eps?: number;
  /** Replace an existing package. */
  force?: boolean;
  /** Hyper-parameter overrides stored in resdet.json; they win over `preset`'s. */
  config?: DetectorConfigOverrides;
  /**
   * The torchvision builder the checkpoint was trained with ('fasterrcnn_mobilenet_v3_large_fpn',
   * ...; see `presets`): its anchors, transform sizes and RPN / RoI numbers, which no checkpoint holds.
   */
  preset?: string;
  /**
   * The backbone as the user's ONNX file (e.g. `torch.onnx.export(model.backbone, ...)`) instead of
   * resdet's ResNet-FPN built from the checkpoint; the heads still come from the checkpoint.
   */
  backboneOnnx?: string;
  /** With `backboneOnnx`: one level per output, in order (default: read from the output names). */
  levels?: LevelSpec[];
  /**
   * The checkpoint's own file name when `checkpointPath` is not it (a download: the URL's last
   * segment), used for the eps default and recorded in resdet.json; default basename(checkpointPath).
   */
  sourceName?: string;
  /** Where the checkpoint was downloaded from, recorded in resdet.json's `source.url`. */
  sourceUrl?: string;
  /**
   * Bytes the checkpoint reader may allocate beyond the storages the file holds (expanded views,
   * dtype conversions, inflated entries, unpickled objects); default max(256 MiB, 4 x file size).
   */
  maxMaterializedBytes?: number;
}

export interface ConvertSummary {
  manifest: Manifest;
  architecture: string;
  parameters: number;
  /** The FrozenBatchNorm eps folded into resdet's ResNet body; undefined for an ONNX backbone. */
  eps?: number;
  /** Why that eps (content, name, default or --eps), also in resdet.json's `source.frozenBnEpsReason`. */
  epsReason?: string;
  /** torchvision's v1 or v2 layout (see `DetectorVariant`). */
  variant: DetectorVariant;
  /** e.g. 'Mask R-CNN v2, ResNet-50-FPN'. */
  family: string;
  files: Array<{ path: string; bytes: number }>;
}

/**
 * Tells torchvision's two detector layouts apart from what the weights hold. 'v1'
 * (`maskrcnn_resnet50_fpn`): FrozenBatchNorm2d body (BatchNorm2d when built untrained), FPN
 * convolutions with bias, one-conv RPN head, TwoMLPHead. 'v2' (`maskrcnn_resnet50_fpn_v2`):
 * BatchNorm2d body and FPN, two-conv RPN head, FastRCNNConvFCHead, BatchNorm2d mask head. 'mixed':
 * any other combination of FPN, RPN head and box head (a custom build), converted as its parts say.
 */
export function detectorVariant(
  backbone: { norm: 'FrozenBatchNorm2d' | 'BatchNorm2d'; fpnNorm: boolean }, rpnConvDepth: number, boxHeadKind: 'mlp' | 'conv',
): DetectorVariant {
  // The body's norm does not decide: v1 builders without weights (weights=None, weights_backbone=None)
  // put BatchNorm2d in the body too; it is folded with its own eps either way.
  if (!backbone.fpnNorm && rpnConvDepth === 1 && boxHeadKind === 'mlp') return 'v1';
  if (backbone.fpnNorm && rpnConvDepth === 2 && boxHeadKind === 'conv') return 'v2';
  return 'mixed';
}

/** torchvision's builder names as the papers write them. */
const ARCH_NAMES: Record<string, string> = {
  resnet18: 'ResNet-18', resnet34: 'ResNet-34', resnet50: 'ResNet-50', resnet101: 'ResNet-101', resnet152: 'ResNet-152',
  resnext50_32x4d: 'ResNeXt-50 32x4d', resnext101_32x8d: 'ResNeXt-101 32x8d', resnext101_64x4d: 'ResNeXt-101 64x4d',
  wide_resnet50_2: 'Wide ResNet-50-2', wide_resnet101_2: 'Wide ResNet-101-2',
};

/**
 * "Mask R-CNN v2, ResNet-50-FPN", "Faster R-CNN v1, ResNet-18-FPN", "Mask R-CNN (mixed v1/v2
 * layers), custom ResNet-FPN", "Faster R-CNN v1, ONNX backbone (backbone.onnx)".
 * @param backboneName the backbone's own name when it is not a ResNet-FPN resdet built
 */
export function familyName(isMask: boolean, variant: DetectorVariant, arch: string, backboneName?: string): string {
  const detector = isMask ? 'Mask R-CNN' : 'Faster R-CNN';
  const backbone = backboneName ?? (ARCH_NAMES[arch] ? `${ARCH_NAMES[arch]}-FPN` : 'custom ResNet-FPN');
  return `${detector} ${variant === 'mixed' ? '(mixed v1/v2 layers)' : variant}, ${backbone}`;
}

function countParameters(sd: StateDict): number {
  let n = 0;
  for (const [key, t] of sd) if (t.dtype === 'float32' && !key.endsWith('num_batches_tracked')) n += numel(t.shape);
  return n;
}

/**
 * The detector layout from the heads alone, for a backbone whose FPN resdet cannot see (an ONNX
 * backbone): v1's one-conv RPN head and TwoMLPHead, or v2's two-conv head and conv box head.
 */
function headsVariant(rpnConvDepth: number, boxHeadKind: 'mlp' | 'conv'): DetectorVariant {
  if (rpnConvDepth === 1 && boxHeadKind === 'mlp') return 'v1';
  if (rpnConvDepth === 2 && boxHeadKind === 'conv') return 'v2';
  return 'mixed';
}

/** A head builder's StateDictError, said in terms of the backbone when the backbone is the user's. */
function headFits<T>(build: () => T, pyramid: PyramidSource, pooledChannels: number, head: string, where: string): T {
  try {
    return build();
  } catch (e) {
    if (!(e instanceof StateDictError) || pyramid.manifest.kind !== 'onnx') throw e;
    throw new ModelPackageError(where, `the ${head} does not fit the ${pyramid.name}'s pooled levels of ${pooledChannels} channels: ${e.message}`, { cause: e });
  }
}

/** Converts a checkpoint file into a model package folder. */
export async function convertCheckpoint(checkpointPath: string, options: ConvertOptions): Promise<ConvertSummary> {
  const sd = await loadCheckpoint(checkpointPath, { maxMaterializedBytes: options.maxMaterializedBytes });
  if (!sd.has('roi_heads.box_predictor.cls_score.weight')) {
    const sample = [...sd.keys()].slice(0, 3).join(', ');
    throw new ModelPackageError(checkpointPath, `not a torchvision Faster/Mask R-CNN state dict: no 'roi_heads.box_predictor.cls_score.weight' (keys start ${sample}${sd.size > 3 ? ', ...' : ''})`);
  }
  const name = options.sourceName ?? basename(checkpointPath);
  // The written config must load: ranges first (before any network is built), then the fields
  // that depend on the levels, and the box head's pooled size is fc6's (its graph fixes it).
  validateConfig(options.config, (key, what) => {
    throw new ModelPackageError(checkpointPath, `conversion option '${key}' ${what}`);
  });
  const preset = options.preset === undefined ? undefined : presetByName(options.preset, checkpointPath);
  // The networks are built as unserialized models, which only reference the checkpoint's arrays
  // (folded FrozenBN weights are computed chunk by chunk while written), and the writer streams
  // each one to its file: memory holds the checkpoint, never a serialized network.
  const pyramid = options.backboneOnnx !== undefined
    ? await onnxSource(options.backboneOnnx, options.levels)
    : resnetFpnSource(sd, checkpointPath, name, { eps: options.eps, arch: options.arch });
  const levels = pyramid.levels;
  const rpnHead = buildRpnHead(sd, { levelNames: levels.map((l) => l.name) });
  const overrides = pyramidConfig(levels, preset?.config ?? {}, options.config, checkpointPath);
  const config = resolveConfig(overrides);
  checkRpnHeadFits(rpnHead, levels, config, pyramid.name, checkpointPath);
  checkConfigAgainstLevels(config, levels, checkpointPath);
  // The heads pool inside their graphs (ONNX RoiAlign on the provider's threads) from the levels
  // the poolers read, with the sampling ratios and sizes of the package's config.
  const pooled = levels.filter((l) => config.levelMapper.featureNames.includes(l.name));
  const channels = pooled[0].channels;
  // A user's backbone: its channels are held to the box head at torchvision's pooled size (7), as
  // fc6 alone could fit another channel count at another size. (resdet's ResNet-FPN reads both
  // from the weights; a size the caller gives is held to fc6's below.)
  if (pyramid.manifest.kind === 'onnx' && options.config?.roiHeads?.poolerOutputSize === undefined) checkBoxHeadFits(sd, pooled, config.roiHeads.poolerOutputSize, pyramid.name, checkpointPath);
  const boxHead = headFits(() => buildBoxHead(sd, channels, { pooler: { levels: pooled, samplingRatio: config.roiHeads.samplingRatio } }), pyramid, channels, 'box head', checkpointPath);
  const isMask = sd.has('roi_heads.mask_predictor.mask_fcn_logits.weight');
  const variant = pyramid.fpnNorm === undefined
    ? headsVariant(rpnHead.convDepth, boxHead.kind)
    : detectorVariant({ norm: 'FrozenBatchNorm2d', fpnNorm: pyramid.fpnNorm }, rpnHead.convDepth, boxHead.kind);
  const family = familyName(isMask, variant, pyramid.arch ?? '', pyramid.manifest.kind === 'onnx' ? pyramid.name : undefined);
  const maskHead = isMask
    ? headFits(() => buildMaskHead(sd, channels, { pooler: { levels: pooled, samplingRatio: config.mask.samplingRatio, outputSize: config.mask.poolerOutputSize } }), pyramid, channels, 'mask head', checkpointPath)
    : undefined;
  const given = options.classes ? readClassesFile(options.classes) : undefined;
  const classes = resolveClasses(boxHead.numClasses, given, options.classes ?? checkpointPath);
  const pooledSize = options.config?.roiHeads?.poolerOutputSize;
  if (pooledSize !== undefined && pooledSize !== boxHead.pooledSize) {
    const fc = boxHead.kind === 'mlp' ? 'roi_heads.box_head.fc6.weight' : `roi_heads.box_head.${boxHead.convLayers + 1}.weight`;
    throw new ModelPackageError(checkpointPath, `conversion option 'config.roiHeads.poolerOutputSize' is ${pooledSize}, but the ${family} box head was trained on ${boxHead.pooledSize} x ${boxHead.pooledSize} RoIs ('${fc}'): leave it out`);
  }

  const source: Record<string, string | number> = { checkpoint: name, ...(options.sourceUrl ? { url: options.sourceUrl } : {}), family };
  if (pyramid.eps) source.frozenBnEpsReason = pyramid.eps.reason;
  if (options.preset !== undefined) source.preset = options.preset;
  const manifest = writeModelPackage(options.out, {
    format: FORMAT_NAME,
    formatVersion: FORMAT_VERSION,
    architecture: isMask ? 'maskrcnn' : 'fasterrcnn',
    variant,
    backbone: pyramid.manifest,
    classes,
    config: { ...overrides, roiHeads: { ...overrides.roiHeads, poolerOutputSize: boxHead.pooledSize } },
    source: { ...source, converter: 'resdet 0.1.0', parameters: countParameters(sd) },
  }, { backbone: pyramid.network, rpnHead: rpnHead.model, boxHead: boxHead.model, maskHead: maskHead?.model }, { overwrite: options.force });

  return {
    manifest,
    architecture: `${isMask ? 'Mask' : 'Faster'} R-CNN, ${pyramid.architecture}`,
    parameters: countParameters(sd),
    eps: pyramid.eps?.eps,
    epsReason: pyramid.eps?.reason,
    variant,
    family,
    files: Object.values(manifest.files).map((f) => ({ path: f.path, bytes: f.bytes })),
  };
}
