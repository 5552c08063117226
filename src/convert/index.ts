/**
 * `resdet convert`: a torchvision Faster R-CNN / Mask R-CNN checkpoint -> a model package, in
 * TypeScript, no Python. Reads the checkpoint (safely), builds each network as an ONNX graph from
 * the weights, and writes the package atomically.
 */
import { basename } from 'node:path';
import { buildResNetFpn, findBackbonePrefix } from '../../backbones/index.js';
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
import { decideFrozenBnEps } from './eps.js';

export { type EpsDecision, decideFrozenBnEps, defaultEps } from './eps.js';

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
  /** Hyper-parameter overrides stored in resdet.json. */
  config?: DetectorConfigOverrides;
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
  eps: number;
  /** Why that eps (content, name, default or --eps), also in resdet.json's `source.frozenBnEpsReason`. */
  epsReason: string;
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

/** "Mask R-CNN v2, ResNet-50-FPN", "Faster R-CNN v1, ResNet-18-FPN", "Mask R-CNN (mixed v1/v2 layers), custom ResNet-FPN". */
export function familyName(isMask: boolean, variant: DetectorVariant, arch: string): string {
  const detector = isMask ? 'Mask R-CNN' : 'Faster R-CNN';
  const backbone = ARCH_NAMES[arch] ? `${ARCH_NAMES[arch]}-FPN` : 'custom ResNet-FPN';
  return `${detector} ${variant === 'mixed' ? '(mixed v1/v2 layers)' : variant}, ${backbone}`;
}

function countParameters(sd: StateDict): number {
  let n = 0;
  for (const [key, t] of sd) if (t.dtype === 'float32' && !key.endsWith('num_batches_tracked')) n += numel(t.shape);
  return n;
}

/** Converts a checkpoint file into a model package folder. */
export async function convertCheckpoint(checkpointPath: string, options: ConvertOptions): Promise<ConvertSummary> {
  const sd = await loadCheckpoint(checkpointPath, { maxMaterializedBytes: options.maxMaterializedBytes });
  if (!sd.has('roi_heads.box_predictor.cls_score.weight')) {
    const sample = [...sd.keys()].slice(0, 3).join(', ');
    throw new ModelPackageError(checkpointPath, `not a torchvision Faster/Mask R-CNN state dict: no 'roi_heads.box_predictor.cls_score.weight' (keys start ${sample}${sd.size > 3 ? ', ...' : ''})`);
  }
  const name = options.sourceName ?? basename(checkpointPath);
  const { eps, reason: epsReason } = decideFrozenBnEps(sd, checkpointPath, findBackbonePrefix(sd), name, options.eps);
  // The networks are built as unserialized models, which only reference the checkpoint's arrays
  // (folded FrozenBN weights are computed chunk by chunk while written), and the writer streams
  // each one to its file: memory holds the checkpoint, never a serialized network.
  const backbone = buildResNetFpn(sd, { eps, arch: options.arch });
  const channels = backbone.description.fpnChannels;
  const rpnHead = buildRpnHead(sd, { levelNames: backbone.levels.map((l) => l.name) });
  // The heads pool inside their graphs (ONNX RoiAlign on the provider's threads) from the levels
  // the poolers read, with the sampling ratios and sizes of the package's config.
  // The written config must load: ranges first (before the heads are built), then the fields that
  // depend on the levels, and the box head's pooled size is fc6's (its graph fixes it).
  validateConfig(options.config, (key, what) => {
    throw new ModelPackageError(checkpointPath, `conversion option '${key}' ${what}`);
  });
  const config = resolveConfig(options.config);
  checkConfigAgainstLevels(config, [...backbone.levels], checkpointPath);
  const levels = backbone.levels.filter((l) => config.levelMapper.featureNames.includes(l.name));
  const boxHead = buildBoxHead(sd, channels, { pooler: { levels, samplingRatio: config.roiHeads.samplingRatio } });
  const isMask = sd.has('roi_heads.mask_predictor.mask_fcn_logits.weight');
  const variant = detectorVariant(backbone.description, rpnHead.convDepth, boxHead.kind);
  const family = familyName(isMask, variant, backbone.description.arch);
  const maskHead = isMask
    ? buildMaskHead(sd, channels, { pooler: { levels, samplingRatio: config.mask.samplingRatio, outputSize: config.mask.poolerOutputSize } })
    : undefined;
  const given = options.classes ? readClassesFile(options.classes) : undefined;
  const classes = resolveClasses(boxHead.numClasses, given, options.classes ?? checkpointPath);
  const pooledSize = options.config?.roiHeads?.poolerOutputSize;
  if (pooledSize !== undefined && pooledSize !== boxHead.pooledSize) {
    const fc = boxHead.kind === 'mlp' ? 'roi_heads.box_head.fc6.weight' : `roi_heads.box_head.${boxHead.convLayers + 1}.weight`;
    throw new ModelPackageError(checkpointPath, `conversion option 'config.roiHeads.poolerOutputSize' is ${pooledSize}, but the ${family} box head was trained on ${boxHead.pooledSize} x ${boxHead.pooledSize} RoIs ('${fc}'): leave it out`);
  }

  const manifest = writeModelPackage(options.out, {
    format: FORMAT_NAME,
    formatVersion: FORMAT_VERSION,
    architecture: isMask ? 'maskrcnn' : 'fasterrcnn',
    variant,
    backbone: { kind: 'resnet-fpn', arch: backbone.description.arch, frozenBnEps: eps, levels: [...backbone.levels] },
    classes,
    config: { ...options.config, roiHeads: { ...options.config?.roiHeads, poolerOutputSize: boxHead.pooledSize } },
    source: { checkpoint: name, ...(options.sourceUrl ? { url: options.sourceUrl } : {}), family, frozenBnEpsReason: epsReason, converter: 'resdet 0.1.0', parameters: countParameters(sd) },
  }, { backbone: backbone.model, rpnHead: rpnHead.model, boxHead: boxHead.model, maskHead: maskHead?.model }, { overwrite: options.force });

  const d = backbone.description;
  return {
    manifest,
    architecture: `${isMask ? 'Mask' : 'Faster'} R-CNN, ${d.arch} (${d.block} [${d.layers.join(', ')}], groups ${d.groups}, width/group ${d.widthPerGroup}) + FPN ${channels}`,
    parameters: countParameters(sd),
    eps,
    epsReason,
    variant,
    family,
    files: Object.values(manifest.files).map((f) => ({ path: f.path, bytes: f.bytes })),
  };
}
