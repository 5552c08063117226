/**
 * The allowed range of every hyper-parameter a resdet.json may override, as data next to the typed
 * defaults (src/config.ts): the table has one rule per field of each stage's config, so a field
 * added to a config without a rule does not compile. Runtime-neutral.
 *
 * Ranges are what the code can run with, not what is sensible to train: e.g. minSize up to 8192
 * (a 8192 x 8192 float RGB batch is 800 MB, past which nothing useful runs), thresholds in [0, 1].
 */
import type { DetectorConfig } from '../config.js';

/** Says what is wrong with a value, or undefined when it is allowed. */
export type Rule = (value: unknown) => string | undefined;

/**
 * A short, bounded rendering of a value for an error message (never a whole file's text). Walks at
 * most a few levels and items, iteratively bounded, so a 100,000-deep array costs nothing.
 */
export function show(value: unknown): string {
  const text = render(value, 3);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function render(value: unknown, depth: number): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 60) : value);
  if (typeof value !== 'object' || value === null) return String(value);
  if (depth === 0) return Array.isArray(value) ? '[...]' : '{...}';
  if (Array.isArray(value)) {
    const items = value.slice(0, 8).map((v) => render(v, depth - 1));
    return `[${items.join(',')}${value.length > 8 ? ',...' : ''}]`;
  }
  const keys = Object.keys(value).slice(0, 8);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${render((value as Record<string, unknown>)[k], depth - 1)}`).join(',')}}`;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** An integer in [min, max]. */
export function int(min: number, max: number): Rule {
  return (v) => (isNumber(v) && Number.isInteger(v) && v >= min && v <= max ? undefined : `must be an integer in [${min}, ${max}]`);
}

/** A finite number in [min, max] (or (min, max] with `aboveMin`). */
export function num(min: number, max: number, aboveMin = false): Rule {
  const range = `${aboveMin ? '(' : '['}${min}, ${max}]`;
  return (v) => (isNumber(v) && (aboveMin ? v > min : v >= min) && v <= max ? undefined : `must be a number in ${range}`);
}

function list(what: string, item: Rule, length: { min: number; max: number }): Rule {
  const count = length.min === length.max ? `${length.min}` : `${length.min} to ${length.max}`;
  return (v) => {
    if (!Array.isArray(v) || v.length < length.min || v.length > length.max) return `must be a list of ${count} ${what}`;
    for (let i = 0; i < v.length; i++) {
      const wrong = item(v[i]);
      if (wrong) return `item [${i}] ${wrong}`;
    }
    return undefined;
  };
}

function oneOf(...values: string[]): Rule {
  return (v) => (typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.map((x) => `'${x}'`).join(', ')}`);
}

const unique = (rule: Rule): Rule => (v) => rule(v) ?? (new Set(v as unknown[]).size !== (v as unknown[]).length ? 'must not repeat a name' : undefined);

const levelName: Rule = (v) => (typeof v === 'string' && v.length > 0 && v.length <= 64 ? undefined : 'must be a level name');
const threshold = num(0, 1);
const topN = int(1, 1_000_000);
const coderWeights = list('positive numbers', num(0, 1e6, true), { min: 4, max: 4 });
/** Image sides, in pixels. */
const side = int(1, 8192);

/** One rule per field of each stage's config. */
export const configRules: { [S in keyof DetectorConfig]: { [F in keyof DetectorConfig[S]]-?: Rule } } = {
  transform: {
    minSize: side,
    maxSize: side,
    imageMean: list('finite numbers', num(-1e6, 1e6), { min: 3, max: 3 }),
    imageStd: list('positive numbers', num(0, 1e6, true), { min: 3, max: 3 }),
    sizeDivisible: int(1, 1024),
    resizeScaleRule: oneOf('torchvision-0.14', 'float64'),
  },
  rpn: {
    // One list of sizes per pyramid level: one size each in torchvision's FPN default, five in
    // fasterrcnn_mobilenet_v3_large_fpn's; anchors per location are sizes x aspect ratios.
    anchorSizes: list('lists of anchor sizes (one per pyramid level)', list('positive numbers', num(0, 1e5, true), { min: 1, max: 64 }), { min: 1, max: 16 }),
    aspectRatios: list('positive numbers', num(0, 1e3, true), { min: 1, max: 64 }),
    preNmsTopN: topN,
    postNmsTopN: topN,
    nmsThresh: threshold,
    scoreThresh: threshold,
    minSize: num(0, 1e5),
    boxCoderWeights: coderWeights,
  },
  roiHeads: {
    poolerOutputSize: int(1, 64),
    samplingRatio: int(0, 64),
    scoreThresh: threshold,
    nmsThresh: threshold,
    detectionsPerImage: topN,
    boxCoderWeights: coderWeights,
    minSize: num(0, 1e5),
  },
  mask: {
    // The mask head upsamples its pooled RoIs 2x and resdet pastes 28 x 28 masks (maskSize in
    // detector/rcnn.ts): 14 is the only pooled size it can paste correctly.
    poolerOutputSize: (v) => (v === 14 ? undefined : 'must be 14: the mask head upsamples it 2x to the 28 x 28 masks resdet pastes'),
    samplingRatio: int(0, 64),
    pastePadding: int(0, 64),
  },
  levelMapper: {
    featureNames: unique(list('level names', levelName, { min: 1, max: 16 })),
    canonicalScale: num(0, 1e5, true),
    canonicalLevel: int(0, 16),
    eps: num(0, 1),
  },
};

/**
 * Checks the `config` of a resdet.json: an object of stage objects, each with known fields only,
 * every value in range. Calls `fail(key, what)` (which throws) for the first field at fault.
 */
export function validateConfig(value: unknown, fail: (key: string, what: string) => never): void {
  if (value === undefined) return;
  const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isRecord(value)) fail('config', 'must be an object of per-stage overrides');
  const stages = configRules as Record<string, Record<string, Rule>>;
  for (const [stage, overrides] of Object.entries(value as Record<string, unknown>)) {
    const rules = Object.hasOwn(stages, stage) ? stages[stage] : undefined;
    if (!rules) fail(`config.${stage}`, `is not a stage of the config (stages: ${Object.keys(stages).join(', ')})`);
    if (!isRecord(overrides)) fail(`config.${stage}`, 'must be an object of field overrides');
    for (const [key, v] of Object.entries(overrides as Record<string, unknown>)) {
      const rule = Object.hasOwn(rules, key) ? rules[key] : undefined;
      if (!rule) fail(`config.${stage}.${key}`, `is not a field of config.${stage} (fields: ${Object.keys(rules).join(', ')})`);
      const wrong = rule(v);
      if (wrong) fail(`config.${stage}.${key}`, `${wrong}, found ${show(v)}`);
    }
  }
}
