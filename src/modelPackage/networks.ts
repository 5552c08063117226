/**
 * Checks a package's ONNX networks against its resdet.json before any session is created, from
 * the interface each graph declares (onnx/inspect.ts: inputs, outputs, initializer
 * dims, RoiAlign attributes; no runtime): the backbone emits the declared levels (names, channels,
 * strides), the heads take them, the box and mask heads predict as many classes as `classes`
 * names, and the sizes a head's graph bakes in (pooled size, sampling ratio, anchors per location)
 * equal the config's. Also the config's fields that depend on the levels (anchor sizes, pooled
 * level names). Runtime-neutral: the Node reader and the URL loader both call it.
 *
 * L: classes including background, P: pooled size, A: anchors per location.
 */
import { type DeclaredValue, type ModelInterface, readModelInterface } from '../../onnx/inspect.js';
import { anchorsPerLocation } from '../../heads/config.js';
import { poolerInputs } from '../../heads/pooler.js';
import { type DetectorConfig, resolveConfig } from '../config.js';
import { show } from './configSchema.js';
import { MANIFEST_FILE, type Manifest, type ManifestFiles, type ManifestLevel } from './manifest.js';
import { ModelPackageError } from './validate.js';

type Role = keyof ManifestFiles;

/** Where things are, for the messages: resdet.json's location and each network file's. */
export interface PackageLocations {
  manifest: string;
  file(role: Role): string;
}

/**
 * @throws ModelPackageError naming the ONNX file (or resdet.json) and the resdet.json key at fault
 */
export function checkNetworks(manifest: Manifest, files: { [K in Role]?: Uint8Array }, at: PackageLocations): void {
  const config = resolveConfig(manifest.config);
  const levels = manifest.backbone.levels;
  const read = (role: Role): ModelInterface => {
    try {
      return readModelInterface(files[role]!);
    } catch (e) {
      throw new ModelPackageError(at.file(role), `is not a readable ONNX model (${(e as Error).message})`, { cause: e });
    }
  };
  // The backbone first: a level that it does not emit as declared is the root of most other faults.
  checkBackbone(read('backbone'), levels, at.file('backbone'));
  checkConfigAgainstLevels(config, levels, at.manifest);
  checkRpnHead(read('rpnHead'), levels, config, at.file('rpnHead'));
  const pooled = levels.filter((l) => config.levelMapper.featureNames.includes(l.name));
  const box = read('boxHead');
  checkClasses(box, manifest.classes.length, 'cls_score.weight', at.file('boxHead'), { output: 'classLogits', perClass: 1 });
  checkClasses(box, manifest.classes.length, 'cls_score.weight', at.file('boxHead'), { output: 'boxDeltas', perClass: 4 });
  checkPooler(box, pooled, config.roiHeads, 'roiHeads', at.file('boxHead'));
  if (files.maskHead) {
    const mask = read('maskHead');
    checkClasses(mask, manifest.classes.length, 'mask_fcn_logits.weight', at.file('maskHead'));
    checkPooler(mask, pooled, config.mask, 'mask', at.file('maskHead'));
    const m = mask.outputs.find((v) => v.name === 'maskProbs');
    if (!m) throw new ModelPackageError(at.file('maskHead'), `has no output 'maskProbs' (outputs: ${names(mask.outputs)})`);
    const size = m.shape?.[3];
    if (typeof size === 'number' && size !== 28) throw new ModelPackageError(at.file('maskHead'), `outputs ${size} x ${size} masks; resdet pastes 28 x 28 masks`);
  }
}

const names = (values: DeclaredValue[]) => values.map((v) => `'${v.name}'`).join(', ') || 'none';
const key = (k: string) => `${MANIFEST_FILE} '${k}'`;
/** Graph inputs that are not initializers (old exporters list weights as inputs too). */
const inputsOf = (info: ModelInterface) => info.inputs.filter((v) => !info.initializerNames.has(v.name));

/** The config fields that must agree with the declared levels (anchor sizes, pooled levels); `where` names the config's file. */
export function checkConfigAgainstLevels(config: DetectorConfig, levels: ManifestLevel[], where: string): void {
  const levelNames = levels.map((l) => `'${l.name}'`).join(', ');
  if (config.rpn.anchorSizes.length !== levels.length) {
    throw new ModelPackageError(where, `${key('config.rpn.anchorSizes')} gives ${config.rpn.anchorSizes.length} anchor sizes, one per pyramid level is needed (${levels.length} levels: ${levelNames})`);
  }
  const perLocation = anchorsPerLocation(config.rpn);
  const uneven = perLocation.findIndex((n) => n !== perLocation[0]);
  if (uneven > 0) {
    throw new ModelPackageError(where, `${key('config.rpn.anchorSizes')} gives level '${levels[uneven].name}' ${perLocation[uneven]} anchors per location and level '${levels[0].name}' ${perLocation[0]}: the RPN head is shared by every level, so each needs as many sizes`);
  }
  const { featureNames } = config.levelMapper;
  const missing = featureNames.find((n) => !levels.some((l) => l.name === n));
  if (missing !== undefined) {
    throw new ModelPackageError(where, `${key('config.levelMapper.featureNames')} names level ${show(missing)}, which 'backbone.levels' does not declare (${levelNames})`);
  }
  // The level mapper assigns RoIs to k in [kMin, kMax] and pools level k from the (k - kMin)-th pooled level.
  const pooled = levels.filter((l) => featureNames.includes(l.name));
  // A repeated stride is torchvision's too (MobileNetV3-FPN pools '0' and '1', both stride 32).
  for (let i = 1; i < pooled.length; i++) {
    if (pooled[i].stride !== 2 * pooled[i - 1].stride && pooled[i].stride !== pooled[i - 1].stride) {
      throw new ModelPackageError(where, `${key('config.levelMapper.featureNames')} pools levels of strides ${pooled.map((l) => l.stride).join(', ')}: each pooled level's stride must equal the previous one's or double it`);
    }
  }
  if (pooled.some((l) => l.channels !== pooled[0].channels)) {
    throw new ModelPackageError(where, `${key('config.levelMapper.featureNames')} pools levels of different channels (${pooled.map((l) => l.channels).join(', ')}); the heads take one channel count`);
  }
}

/** A level's feature input or output [N, C, Hi, Wi]: the declared channels, when fixed, are the level's. */
function checkChannels(value: DeclaredValue, level: ManifestLevel, index: number, file: string, what: string): void {
  const c = value.shape?.[1];
  if (typeof c === 'number' && c !== level.channels) {
    throw new ModelPackageError(file, `${what} '${value.name}' has ${c} channels, ${key(`backbone.levels[${index}].channels`)} is ${level.channels}`);
  }
}

function checkBackbone(info: ModelInterface, levels: ManifestLevel[], file: string): void {
  const inputs = inputsOf(info);
  if (inputs.length !== 1) throw new ModelPackageError(file, `must take one input, the images [N, 3, H, W]; takes ${names(inputs)}`);
  const height = inputs[0].shape?.[2];
  levels.forEach((level, i) => {
    const out = info.outputs.find((v) => v.name === level.name);
    if (!out) {
      throw new ModelPackageError(file, `has no output '${level.name}' for ${key(`backbone.levels[${i}].name`)} (outputs: ${names(info.outputs)})`);
    }
    checkChannels(out, level, i, file, 'output');
    // resdet's exporter names the level's height 'H/<stride>' after the input's 'H'.
    const h = out.shape?.[2];
    const stride = typeof h === 'string' && typeof height === 'string' ? new RegExp(`^${escape(height)}/(\\d+)$`).exec(h)?.[1] : undefined;
    if (stride !== undefined && Number(stride) !== level.stride) {
      throw new ModelPackageError(file, `output '${out.name}' is ${h} high, ${key(`backbone.levels[${i}].stride`)} is ${level.stride}`);
    }
  });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** An initializer whose name ends in `suffix` (e.g. 'cls_score.weight'): its first dim, or undefined. */
function leadingDim(info: ModelInterface, suffix: string): number | undefined {
  for (const [name, dims] of info.initializerShapes) if (name.endsWith(suffix) && dims.length > 0) return dims[0];
  return undefined;
}

function checkRpnHead(info: ModelInterface, levels: ManifestLevel[], config: DetectorConfig, file: string): void {
  const inputs = inputsOf(info);
  levels.forEach((level, i) => {
    const input = inputs.find((v) => v.name === level.name);
    if (!input) throw new ModelPackageError(file, `takes no input '${level.name}' for ${key(`backbone.levels[${i}].name`)} (inputs: ${names(inputs)})`);
    checkChannels(input, level, i, file, 'input');
  });
  const extra = inputs.find((v) => !levels.some((l) => l.name === v.name));
  if (extra) throw new ModelPackageError(file, `takes input '${extra.name}', which is no level of ${key('backbone.levels')}`);
  for (const out of ['objectness', 'deltas']) {
    if (!info.outputs.some((v) => v.name === out)) throw new ModelPackageError(file, `has no output '${out}' (outputs: ${names(info.outputs)})`);
  }
  const anchors = leadingDim(info, 'cls_logits.weight');
  const perLocation = anchorsPerLocation(config.rpn)[0];
  if (anchors !== undefined && anchors !== perLocation) {
    throw new ModelPackageError(file, `predicts ${anchors} anchors per location, ${key('config.rpn.anchorSizes')} x ${key('config.rpn.aspectRatios')} give ${perLocation} (${show(config.rpn.anchorSizes[0])} x ${show(config.rpn.aspectRatios)})`);
  }
}

/**
 * The class count a head was built for, from a declared output [K, L * perClass] or else the
 * predictor's weight [L, ...], equals the number of class names.
 */
function checkClasses(info: ModelInterface, classes: number, weightSuffix: string, file: string, output?: { output: string; perClass: number }): void {
  let found: { count: number; from: string } | undefined;
  if (output) {
    const out = info.outputs.find((v) => v.name === output.output);
    if (!out) throw new ModelPackageError(file, `has no output '${output.output}' (outputs: ${names(info.outputs)})`);
    const d = out.shape?.[1];
    if (typeof d === 'number') found = { count: d / output.perClass, from: `output '${out.name}' [${out.shape!.join(', ')}]` };
  }
  if (!found) {
    const l = leadingDim(info, weightSuffix);
    if (l !== undefined) found = { count: l, from: `weight '*${weightSuffix}'` };
  }
  if (found && found.count !== classes) {
    throw new ModelPackageError(file, `predicts ${found.count} classes (${found.from}), ${key('classes')} names ${classes} (background included): each label needs a name`);
  }
}

/**
 * The pooling a head expects. A head that pools in its graph (inputs `order`, `rois_<level>`) has
 * the pooled size and sampling ratio fixed in its RoiAlign nodes, so the config's must equal them;
 * a head taking `pooled` [K, C, P, P] is fed by resdet's pooler, which honours the config, and a
 * fixed P must still be the config's.
 */
function checkPooler(
  info: ModelInterface, pooled: ManifestLevel[], cfg: { poolerOutputSize: number; samplingRatio: number }, stage: 'roiHeads' | 'mask', file: string,
): void {
  const inputs = inputsOf(info);
  const featureNames = key('config.levelMapper.featureNames');
  if (inputs.some((v) => v.name === poolerInputs.order)) {
    const roiLevels = inputs.filter((v) => v.name.startsWith('rois_')).map((v) => v.name.slice('rois_'.length));
    const expected = pooled.map((l) => l.name);
    if (roiLevels.length !== expected.length || !expected.every((n) => roiLevels.includes(n))) {
      throw new ModelPackageError(file, `pools levels ${show(roiLevels)}, ${featureNames} is ${show(expected)}`);
    }
    pooled.forEach((level) => {
      const input = inputs.find((v) => v.name === level.name);
      if (!input) throw new ModelPackageError(file, `takes no input '${level.name}' for the pooled level '${level.name}'`);
      const c = input.shape?.[1];
      if (typeof c === 'number' && c !== level.channels) throw new ModelPackageError(file, `input '${level.name}' has ${c} channels, ${key('backbone.levels')} gives level '${level.name}' ${level.channels}`);
    });
    for (const node of info.nodes.filter((n) => n.opType === 'RoiAlign')) {
      const size = node.ints.get('output_height') ?? 1;
      const width = node.ints.get('output_width') ?? 1;
      if (size !== cfg.poolerOutputSize || width !== cfg.poolerOutputSize) {
        throw new ModelPackageError(file, `pools RoIs to ${size} x ${width} (its RoiAlign nodes), ${key(`config.${stage}.poolerOutputSize`)} is ${cfg.poolerOutputSize}: the graph fixes the size when it is converted (reconvert, or set the config to the graph's)`);
      }
      const ratio = node.ints.get('sampling_ratio') ?? 0;
      if (ratio !== cfg.samplingRatio) {
        throw new ModelPackageError(file, `pools RoIs with sampling ratio ${ratio} (its RoiAlign nodes), ${key(`config.${stage}.samplingRatio`)} is ${cfg.samplingRatio}: the graph fixes it when it is converted`);
      }
    }
    return;
  }
  const input = inputs.find((v) => v.name === 'pooled');
  if (!input) throw new ModelPackageError(file, `takes neither 'pooled' RoIs nor the pooler's inputs ('${poolerInputs.order}', 'rois_<level>'): inputs ${names(inputs)}`);
  const [, c, p] = input.shape ?? [];
  if (typeof p === 'number' && p !== cfg.poolerOutputSize) {
    throw new ModelPackageError(file, `takes pooled RoIs of ${p} x ${p}, ${key(`config.${stage}.poolerOutputSize`)} is ${cfg.poolerOutputSize}`);
  }
  if (typeof c === 'number' && pooled.length > 0 && c !== pooled[0].channels) {
    throw new ModelPackageError(file, `takes pooled RoIs of ${c} channels, the pooled levels have ${pooled[0].channels} (${key('backbone.levels')})`);
  }
}
