/**
 * Run-time checks of `detect` options: JavaScript callers (and JSON configs) get a typed error naming
 * the option and what it accepts, instead of a silent empty result (`scoreThreshold: 'high'`) or a
 * form that does not exist (`masks: 'polygon'`).
 */
import { ResdetError } from '../../postprocess/errors.js';
import { detectDefaults, type DetectOptions, type GpuMaskOutput, type MaskExtent, type MaskOutput } from './result.js';

/** A `detect` option with a value it does not accept; names the option and what is allowed. */
export class DetectOptionsError extends ResdetError {
  constructor(readonly option: string, message: string) {
    super('DETECT_OPTIONS', `detect option '${option}' ${message}`);
  }
}

/** `detect` is called on a detector whose sessions were released. */
export class ModelReleasedError extends ResdetError {
  constructor() {
    super('MODEL_RELEASED', 'detect() after release(): this model\'s sessions were freed; load it again with loadModel()');
  }
}

/** Options with every default filled in and every value checked. */
export interface ResolvedDetectOptions {
  scoreThreshold: number;
  maxDetections: number;
  /** Allowed labels, or null for all. */
  labels: ReadonlySet<number> | null;
  maskThreshold: number;
  masks: MaskOutput;
  maskExtent: MaskExtent;
  applyExifOrientation: boolean;
  maxPixels: number | undefined;
  signal: AbortSignal | undefined;
  pyramid: boolean;
  gpuMasks: GpuMaskOutput;
}

const MASK_OUTPUTS: readonly MaskOutput[] = ['binary', 'probability', 'rle', 'none'];
const MASK_EXTENTS: readonly MaskExtent[] = ['box', 'image'];
const GPU_MASK_OUTPUTS: readonly GpuMaskOutput[] = ['probability', 'binary', 'none'];
const KNOWN: ReadonlySet<string> = new Set([
  'scoreThreshold', 'maxDetections', 'classes', 'maskThreshold', 'masks', 'maskExtent', 'applyExifOrientation', 'maxPixels', 'signal', 'pyramid', 'gpuMasks',
]);

function fraction(name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new DetectOptionsError(name, `must be a number in [0, 1], got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!allowed.includes(v as T)) throw new DetectOptionsError(name, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Label set from class names or labels; each must name a class of the model (not the background). */
function allowedLabels(v: unknown, classes: readonly string[]): ReadonlySet<number> | null {
  if (v === undefined) return null;
  if (!Array.isArray(v)) throw new DetectOptionsError('classes', 'must be an array of class names or labels');
  const labels = new Set<number>();
  for (const c of v as unknown[]) {
    const label = typeof c === 'number' ? c : typeof c === 'string' ? classes.indexOf(c) : -1;
    if (!Number.isInteger(label) || label < 1 || label >= classes.length) {
      throw new DetectOptionsError('classes', `has ${JSON.stringify(c)}, not a class of this model (${classes.slice(1, 7).join(', ')}${classes.length > 7 ? ', ...' : ''}; labels 1..${classes.length - 1})`);
    }
    labels.add(label);
  }
  return labels;
}

/**
 * Checks `detect` options and fills in the defaults.
 * @param classes the model's class names by label, background first
 * @throws DetectOptionsError naming the first option at fault (an unknown key too: likely a typo)
 */
export function resolveDetectOptions(options: DetectOptions | undefined, classes: readonly string[]): ResolvedDetectOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) throw new DetectOptionsError('(options)', 'must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new DetectOptionsError(key, `is not an option (options: ${[...KNOWN].join(', ')})`);
  }
  const o = options as Record<string, unknown>;
  const maxDetections = o.maxDetections ?? Infinity;
  if (typeof maxDetections !== 'number' || !(maxDetections >= 0) || (maxDetections !== Infinity && !Number.isInteger(maxDetections))) {
    throw new DetectOptionsError('maxDetections', `must be an integer >= 0, got ${JSON.stringify(o.maxDetections)}`);
  }
  const exif = o.applyExifOrientation ?? true;
  if (typeof exif !== 'boolean') throw new DetectOptionsError('applyExifOrientation', `must be true or false, got ${JSON.stringify(exif)}`);
  const maxPixels = o.maxPixels;
  if (maxPixels !== undefined && (typeof maxPixels !== 'number' || !Number.isInteger(maxPixels) || maxPixels < 1)) {
    throw new DetectOptionsError('maxPixels', `must be a positive integer, got ${JSON.stringify(maxPixels)}`);
  }
  const pyramid = o.pyramid ?? false;
  if (typeof pyramid !== 'boolean') throw new DetectOptionsError('pyramid', `must be true or false, got ${JSON.stringify(pyramid)}`);
  const signal = o.signal;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && 'aborted' in signal && typeof (signal as AbortSignal).throwIfAborted === 'function')) {
    throw new DetectOptionsError('signal', 'must be an AbortSignal');
  }
  return {
    scoreThreshold: fraction('scoreThreshold', o.scoreThreshold, detectDefaults.scoreThreshold),
    maxDetections,
    labels: allowedLabels(o.classes, classes),
    maskThreshold: fraction('maskThreshold', o.maskThreshold, detectDefaults.maskThreshold),
    masks: oneOf('masks', o.masks, MASK_OUTPUTS, detectDefaults.masks),
    maskExtent: oneOf('maskExtent', o.maskExtent, MASK_EXTENTS, detectDefaults.maskExtent),
    applyExifOrientation: exif,
    maxPixels: maxPixels as number | undefined,
    signal: signal as AbortSignal | undefined,
    pyramid,
    gpuMasks: oneOf('gpuMasks', o.gpuMasks, GPU_MASK_OUTPUTS, detectDefaults.gpuMasks),
  };
}

/**
 * Options that need a provider: `gpuMasks` pastes on the GPU, so only a 'webgpu' detector takes it.
 * @throws DetectOptionsError naming the option, the detector's provider and what to use instead
 */
export function checkProviderOptions(options: ResolvedDetectOptions, provider: string): void {
  if (options.gpuMasks !== 'none' && provider !== 'webgpu') {
    throw new DetectOptionsError('gpuMasks', `needs provider 'webgpu', but this detector runs on '${provider}' (load it with { provider: 'webgpu' }, or ask for CPU masks with masks: '${options.gpuMasks}', maskExtent: 'image')`);
  }
}
