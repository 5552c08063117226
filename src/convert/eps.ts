/**
 * The FrozenBatchNorm2d eps to fold: FrozenBatchNorm2d stores no eps, and torchvision's builders
 * set it to 0.0 only when they load the published COCO_V1 detection weights (`overwrite_eps`),
 * leaving the layer's default 1e-5 otherwise. So it is decided, in order:
 * 1. `--eps` when given;
 * 2. from the content where the content decides it: a body of BatchNorm2d layers (they save
 *    `num_batches_tracked`; v2 detectors, untrained v1 builds) folds with BatchNorm2d's own 1e-5
 *    and has no FrozenBatchNorm2d eps to choose; a file whose sha256 starts with the hash of one of
 *    torchvision's COCO_V1 files (torchvision names them `<name>-<first 8 hex digits of sha256>.pth`)
 *    is that file, renamed or not: 0.0;
 * 3. from the name, when the content cannot say: a file named like a COCO_V1 file whose bytes are
 *    not it (re-saved, converted, fine-tuned) gets 0.0 as its name claims;
 * 4. otherwise torchvision's default 1e-5. Not decidable from content in general: a re-saved or
 *    safetensors copy of the COCO_V1 weights, or a model fine-tuned from them with eps 0, looks
 *    like any FrozenBatchNorm2d checkpoint: pass `--eps 0`.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { normLayerAt } from '../../backbones/index.js';
import type { StateDict } from '../../onnx/index.js';

/** torchvision 0.14's COCO_V1 ResNet-50-FPN detection files, whose builders set eps 0.0. */
const TORCHVISION_V1_COCO_FILES = [
  'fasterrcnn_resnet50_fpn_coco-258fb6c6.pth',
  'maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth',
  'keypointrcnn_resnet50_fpn_coco-fc266e95.pth',
  'keypointrcnn_resnet50_fpn_coco-9f466800.pth',
];

/** Their names' pattern: e.g. maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth. */
const TORCHVISION_V1_COCO = /^(fasterrcnn|maskrcnn|keypointrcnn)_resnet50_fpn_coco-[0-9a-f]+\.pth$/;

/** The FrozenBatchNorm eps torchvision would use for a file of this name (step 3 above). */
export function defaultEps(checkpointPath: string): number {
  return TORCHVISION_V1_COCO.test(basename(checkpointPath)) ? 0.0 : 1e-5;
}

/** The eps chosen and why, as recorded in resdet.json (`backbone.frozenBnEps`, `source.frozenBnEpsReason`). */
export interface EpsDecision {
  eps: number;
  reason: string;
}

/** sha256 of a file, read in 4 MiB chunks. */
export function fileSha256(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(4 << 20);
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0;) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** The COCO_V1 file whose hash `sha256` starts with, if any. */
export function torchvisionV1CocoFile(sha256: string): string | undefined {
  return TORCHVISION_V1_COCO_FILES.find((f) => sha256.startsWith(/-([0-9a-f]+)\.pth$/.exec(f)![1]));
}

/**
 * Decides the FrozenBatchNorm2d eps of `checkpointPath` (see the module comment).
 * @param backbonePrefix where the ResNet body sits ('backbone.')
 * @param name the checkpoint's own file name (a download's URL name)
 */
export function decideFrozenBnEps(sd: StateDict, checkpointPath: string, backbonePrefix: string, name: string, given?: number): EpsDecision {
  if (given !== undefined) return { eps: given, reason: 'given (--eps)' };
  if (normLayerAt((k) => sd.has(k), `${backbonePrefix}body.bn1`) === 'BatchNorm2d') {
    return { eps: 1e-5, reason: "the body's norm layers are BatchNorm2d (they save num_batches_tracked): folded with BatchNorm2d's eps 1e-5, no FrozenBatchNorm2d eps to choose" };
  }
  const sha256 = fileSha256(checkpointPath);
  const published = torchvisionV1CocoFile(sha256);
  if (published) {
    return { eps: 0, reason: `the file is torchvision's ${published} (sha256 ${sha256.slice(0, 8)}...), whose builder sets FrozenBatchNorm2d eps 0.0 (overwrite_eps)` };
  }
  if (TORCHVISION_V1_COCO.test(name)) {
    const named = /-([0-9a-f]+)\.pth$/.exec(name)![1];
    const content = sha256.startsWith(named) ? `its sha256 starts with the name's hash ${named}` : `though its sha256 (${sha256.slice(0, 8)}...) does not start with the name's hash`;
    return { eps: 0, reason: `named as a torchvision COCO_V1 file (${name}), whose builders set eps 0.0 (overwrite_eps), ${content}; pass --eps to override` };
  }
  return { eps: 1e-5, reason: "FrozenBatchNorm2d stores no eps and the file is not one of torchvision's COCO_V1 files (by sha256): torchvision's default 1e-5; pass --eps 0 for weights trained with eps 0 (e.g. a re-saved or fine-tuned COCO_V1 copy)" };
}
