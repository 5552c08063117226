/**
 * COCOeval's Params for detection (setDetParams), with the threshold arrays built exactly as
 * np.linspace builds them, so that `iouThr == p.iouThrs` in summarize finds .50 and .75.
 */
import type { CocoEvalParams, IouType, ResolvedParams } from './types.js';

/** np.linspace(start, stop, num): i * step + start, the last value set to stop. */
export function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** np.unique: sorted, without repeats. */
function unique(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * Fills every parameter with pycocotools' default; imgIds and catIds default to the ground truth's.
 * imgIds and catIds are made unique and sorted and maxDets sorted, as COCOeval.evaluate does.
 */
export function resolveParams(iouType: IouType, imgIds: number[], catIds: number[], p: CocoEvalParams = {}): ResolvedParams {
  const useCats = p.useCats ?? true;
  return {
    iouType,
    imgIds: unique(p.imgIds ?? imgIds),
    catIds: useCats ? unique(p.catIds ?? catIds) : (p.catIds ?? catIds).slice(),
    // int(np.round((0.95 - .5) / .05)) + 1 = 10 and int(np.round(1 / .01)) + 1 = 101 points
    iouThrs: (p.iouThrs ?? linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1)).slice(),
    recThrs: (p.recThrs ?? linspace(0.0, 1.0, Math.round((1.0 - 0.0) / 0.01) + 1)).slice(),
    maxDets: (p.maxDets ?? [1, 10, 100]).slice().sort((a, b) => a - b),
    areaRng: (p.areaRng ?? [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]).map(([lo, hi]) => [lo, hi]),
    areaRngLbl: (p.areaRngLbl ?? ['all', 'small', 'medium', 'large']).slice(),
    useCats,
  };
}
