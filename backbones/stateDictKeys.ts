/**
 * Looking up weights in a torchvision state dict whose key names changed across releases
 * (e.g. `rpn.head.conv.weight` before 0.13, `rpn.head.conv.0.0.weight` after).
 */
import { ResdetError } from '../postprocess/errors.js';
import type { HostTensor, StateDict } from '../onnx/tensor.js';

/** A state dict that lacks a weight a network needs, or holds one of the wrong shape. */
export class StateDictError extends ResdetError {
  constructor(readonly key: string, message: string) {
    super('STATE_DICT', message);
  }
}

/**
 * The tensor under the first of `candidates` present in `stateDict` (old and new names of one
 * weight). With `shape`, each non-negative entry must match (-1 matches anything).
 */
export function requireWeight(stateDict: StateDict, candidates: readonly string[], shape?: readonly number[]): HostTensor {
  for (const key of candidates) {
    const t = stateDict.get(key);
    if (!t) continue;
    if (t.dtype !== 'float32') throw new StateDictError(key, `state dict key '${key}' is ${t.dtype}, expected floating point`);
    if (shape && (t.shape.length !== shape.length || shape.some((d, i) => d >= 0 && d !== t.shape[i]))) {
      throw new StateDictError(key, `state dict key '${key}' has shape [${t.shape}], expected [${shape.map((d) => (d < 0 ? '?' : d))}]`);
    }
    return t;
  }
  const names = candidates.map((k) => `'${k}'`).join(' or ');
  throw new StateDictError(candidates[0], `state dict has no ${names}`);
}

/** Whether any key starts with `prefix`. */
export function hasPrefix(stateDict: StateDict, prefix: string): boolean {
  for (const k of stateDict.keys()) if (k.startsWith(prefix)) return true;
  return false;
}
