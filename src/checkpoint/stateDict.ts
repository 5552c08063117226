/**
 * From an unpickled checkpoint object to a StateDict: find the state dict (bare, or nested as
 * torchvision's and common training scripts save it), and materialize its tensors.
 */
import type { HostTensor, StateDict } from '../../onnx/tensor.js';
import { CheckpointError } from './errors.js';
import { describePickleValue, PickleDict, type PickleValue } from './pickle.js';
import { TensorRef } from './torchPickle.js';

/**
 * Keys under which a checkpoint nests its state dict, in the order they are tried:
 * Lightning and many scripts use 'state_dict', tutorials 'model_state_dict', torchvision's
 * references/detection/train.py 'model'.
 */
export const nestedStateDictKeys = ['state_dict', 'model_state_dict', 'model'] as const;

/** nn.DataParallel / DistributedDataParallel wrap the model and prefix every key with this. */
const dataParallelPrefix = 'module.';

function hasTensor(d: PickleDict): boolean {
  for (const v of d.items.values()) if (v instanceof TensorRef) return true;
  return false;
}

function describeKeys(d: PickleDict): string {
  const keys: string[] = [];
  for (const k of d.items.keys()) { if (keys.length === 8) break; keys.push(describePickleValue(k)); }
  return `[${keys.join(', ')}${d.items.size > 8 ? ', ...' : ''}]`;
}

/**
 * Returns the dict holding the tensors: the root itself when it holds tensors, else the first
 * of `nestedStateDictKeys` whose value does.
 */
export function selectStateDict(root: PickleValue, file: string): PickleDict {
  if (!(root instanceof PickleDict)) {
    const what = root instanceof TensorRef ? 'a single tensor' : Array.isArray(root) ? 'a list' : typeof root;
    throw new CheckpointError(file, `holds ${what}, not a state dict (a dict of tensors)`);
  }
  if (hasTensor(root)) return root;
  for (const key of nestedStateDictKeys) {
    const inner = root.items.get(key);
    if (inner instanceof PickleDict && hasTensor(inner)) return inner;
  }
  throw new CheckpointError(file, `holds no tensors at its top level nor under ${nestedStateDictKeys.map((k) => `'${k}'`).join(', ')}; its keys are ${describeKeys(root)}`);
}

/**
 * Materializes every tensor entry of a state dict, in the checkpoint's order. Entries that are
 * not tensors (a module's `_extra_state`, stray numbers) are skipped: no torchvision weight is
 * one. When every key starts with 'module.' (a model saved from inside DataParallel) the prefix
 * is removed.
 */
export function buildStateDict(dict: PickleDict, file: string, tensorOf: (t: TensorRef, name: string) => HostTensor): StateDict {
  const entries: [string, TensorRef][] = [];
  for (const [key, value] of dict.items) {
    if (!(value instanceof TensorRef)) continue;
    if (typeof key !== 'string') throw new CheckpointError(file, `state dict key ${describePickleValue(key)} is not a string`);
    entries.push([key, value]);
  }
  const strip = entries.length > 0 && entries.every(([k]) => k.startsWith(dataParallelPrefix));
  const out: StateDict = new Map();
  for (const [key, ref] of entries) {
    const name = strip ? key.slice(dataParallelPrefix.length) : key;
    out.set(name, tensorOf(ref, key));
  }
  return out;
}
