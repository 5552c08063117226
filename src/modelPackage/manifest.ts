/**
 * resdet.json: the manifest of a model package. A package is a folder holding this manifest and the
 * ONNX files it names; everything a detector needs besides the weights is here, as data.
 */
import type { DetectorConfigOverrides } from '../config.js';

export const MANIFEST_FILE = 'resdet.json';
export const FORMAT_NAME = 'resdet-model';
export const FORMAT_VERSION = 1;

/** One pyramid level a backbone emits (Detectron2's ShapeSpec). */
export interface ManifestLevel {
  name: string;
  stride: number;
  channels: number;
}

/** An ONNX file of the package, checked by size and sha256 when loaded. */
export interface ManifestFile {
  path: string;
  sha256: string;
  bytes: number;
}

/** The networks of a detector, one ONNX graph each. */
export interface ManifestFiles {
  /** images [1, 3, Hp, Wp] -> pyramid levels, named as `levels`. */
  backbone: ManifestFile;
  /** pyramid levels -> per-level objectness and box deltas. */
  rpnHead: ManifestFile;
  /** pooled RoIs [K, C, 7, 7] -> class logits, box deltas. */
  boxHead: ManifestFile;
  /** pooled RoIs [K, C, 14, 14] -> mask logits (Mask R-CNN only). */
  maskHead?: ManifestFile;
}

/** Numeric precisions of a package's networks: fp32 (`files`) and the variants (`variants`). */
export const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];

/**
 * A precision variant of the networks (written by `resdet quantize`): the same interfaces as the
 * fp32 files, with float16 weights (fp16) or QDQ int8 layers (int8), and how it was made.
 */
export interface ManifestVariant {
  files: ManifestFiles;
  /** Provenance: calibration rule, images, layers left in float. */
  notes?: Record<string, string | number>;
}

export interface ManifestBackbone {
  /** 'resnet-fpn' for backbones resdet built, 'onnx' for a user's own pyramid. */
  kind: 'resnet-fpn' | 'onnx';
  /** e.g. 'resnet50', 'resnext101_32x8d', or 'custom' for read-off widths; for 'onnx', the user's file name. */
  arch?: string;
  /** FrozenBatchNorm eps folded into the convolutions (0.0 for torchvision's COCO_V1 weights). */
  frozenBnEps?: number;
  levels: ManifestLevel[];
}

/**
 * torchvision's detector layout the networks were built from: 'v1' (`maskrcnn_resnet50_fpn`:
 * FrozenBatchNorm2d body, plain FPN, one-conv RPN head, TwoMLPHead), 'v2'
 * (`maskrcnn_resnet50_fpn_v2`: BatchNorm2d body and FPN, two-conv RPN head, FastRCNNConvFCHead,
 * BatchNorm2d mask head), 'mixed' for other combinations; for an ONNX backbone ('onnx' kind) it is
 * read from the heads alone. Informative: the ONNX files hold it all.
 */
export type DetectorVariant = 'v1' | 'v2' | 'mixed';
export const DETECTOR_VARIANTS: readonly DetectorVariant[] = ['v1', 'v2', 'mixed'];

export interface Manifest {
  format: typeof FORMAT_NAME;
  formatVersion: number;
  /** 'maskrcnn' when a mask head is present, 'fasterrcnn' otherwise. */
  architecture: 'fasterrcnn' | 'maskrcnn';
  /** torchvision's v1 or v2 layout; absent in packages written before it was recorded. */
  variant?: DetectorVariant;
  backbone: ManifestBackbone;
  /** Class names by label; index 0 is the background. */
  classes: string[];
  /** Hyper-parameters that differ from torchvision's defaults. */
  config: DetectorConfigOverrides;
  files: ManifestFiles;
  /** Lower-precision variants of `files`; absent in packages written before them (fp32 only). */
  variants?: Partial<Record<Exclude<Precision, 'fp32'>, ManifestVariant>>;
  /** Free-form provenance: source checkpoint, converter version, parameter count. */
  source?: Record<string, string | number>;
}
