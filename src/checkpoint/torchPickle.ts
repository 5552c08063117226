/**
 * What a torch state-dict pickle may name, and the TypeScript stand-ins for what it "calls".
 *
 * The allow-list follows torch 1.13's own `_weights_only_unpickler._get_allowed_globals` narrowed
 * to dense tensors: `collections.OrderedDict`, the `torch._utils._rebuild_tensor*` /
 * `_rebuild_parameter*` functions, `torch.<X>Storage` types (also `torch.cuda.*`, since
 * `torch.load`'s `find_class` maps any `*Storage` name to a storage type), dtype names and
 * `torch.Size`. `argparse.Namespace` (torchvision's training scripts save their `args`) may only
 * be constructed as an inert record. Any other global is refused when it is *named*, before
 * anything could use it.
 */
import { CheckpointError } from './errors.js';
import { describePickleValue, PickleDict, type PickleHooks, PickleInstance, type PickleValue } from './pickle.js';

/** Element types a torch storage can have that we read. */
export type TorchDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Bytes per element of each storage dtype. */
export const elementSize: Record<TorchDType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** torch/storage.py `_dtype_to_storage_type_map`, reversed; UntypedStorage holds bytes. */
const storageTypes: Record<string, TorchDType> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8',
  ByteStorage: 'uint8', BoolStorage: 'bool', UntypedStorage: 'uint8',
};

const dtypeNames = new Set([
  'float32', 'float', 'float64', 'double', 'float16', 'half', 'bfloat16', 'int64', 'long', 'int32', 'int',
  'int16', 'short', 'int8', 'uint8', 'bool', 'complex64', 'complex128', 'complex32',
]);

/** Python 2 module names that protocol-2 pickles carry, as Python 3 resolves them (_compat_pickle). */
const python3Modules: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

const callables = new Set([
  'collections.OrderedDict', 'torch._utils._rebuild_tensor', 'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state', 'torch.Size', 'argparse.Namespace',
]);

/** An allowed global other than a storage type: a name, nothing more. */
export class AllowedGlobal extends PickleInstance {
  readonly kind = 'global';
  constructor(readonly qualifiedName: string) { super(); }
}

/** `torch.FloatStorage` and kin. */
export class StorageType extends PickleInstance {
  readonly kind = 'storageType';
  constructor(readonly qualifiedName: string, readonly dtype: TorchDType) { super(); }
}

/** A storage named by a persistent id; its bytes are found by the format loader via `key`. */
export class StorageRef extends PickleInstance {
  readonly kind = 'storage';
  /**
   * @param key the storage's key in the file (`data/<key>` in a zip, the keys list in legacy)
   * @param numel number of elements as the pickle declares it
   * @param root for a legacy storage view, the storage it views, at `elementOffset`
   */
  constructor(readonly key: string, readonly dtype: TorchDType, readonly numel: number,
    readonly root: StorageRef | null = null, readonly elementOffset = 0) { super(); }
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
export class TensorRef extends PickleInstance {
  readonly kind = 'tensor';
  constructor(readonly storage: StorageRef, readonly storageOffset: number, readonly size: number[], readonly stride: number[]) { super(); }
}

/** An inert record of an allowed plain-data class (argparse.Namespace): its class name and state. */
export class PickleObject extends PickleInstance {
  readonly kind = 'object';
  state: PickleValue = null;
  constructor(readonly className: string) { super(); }
}

/** torch's own limit on a tensor's dimensions (c10's kMaxDims is 64 in practice: no real tensor comes near). */
export const MAX_DIMS = 64;

/** A short list of non-negative safe integers (sizes, strides): the length is checked first, so a hostile million-item list costs nothing. */
function isIntList(v: PickleValue, maxLength = MAX_DIMS): v is number[] {
  return Array.isArray(v) && v.length <= maxLength && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0);
}

/**
 * Hooks for a torch pickle. `loadStorage` turns a persistent id's fields into a StorageRef (the
 * loader owns the storage table, since zip and legacy files find storage bytes differently).
 */
export function torchPickleHooks(file: string, loadStorage: (pid: PickleValue[]) => StorageRef): PickleHooks {
  const refuse = (what: string): never => { throw new CheckpointError(file, what); };
  const nameOf = (v: PickleValue): string =>
    v instanceof AllowedGlobal || v instanceof StorageType ? v.qualifiedName : typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) ? v.kind : typeof v;

  return {
    resolveGlobal(pickledModule, name) {
      // Own-property lookups only: names like 'constructor' or '__proto__' must not reach Object.prototype.
      const module = Object.hasOwn(python3Modules, pickledModule) ? python3Modules[pickledModule]! : pickledModule;
      const qualified = `${module}.${name}`;
      if ((module === 'torch' || module === 'torch.cuda') && Object.hasOwn(storageTypes, name)) return new StorageType(qualified, storageTypes[name]!);
      if (callables.has(qualified) || (module === 'torch' && dtypeNames.has(name))) return new AllowedGlobal(qualified);
      return refuse(`refuses the pickle global '${qualified}': a state-dict checkpoint only needs tensors, storages and ` +
        'OrderedDict, and nothing in a checkpoint is ever executed (if this is a whole pickled model, save its state_dict() instead)');
    },

    reduce(callable, args) {
      const name = nameOf(callable);
      switch (name) {
        case 'collections.OrderedDict': return orderedDict(args, refuse);
        case 'torch._utils._rebuild_tensor':
        case 'torch._utils._rebuild_tensor_v2': return rebuildTensor(name, args, refuse);
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state':
          // requires_grad, backward hooks and a parameter's python state do not change its values.
          return args[0] instanceof TensorRef ? args[0] : refuse(`${name} of something that is not a tensor`);
        case 'torch.Size': return isIntList(args[0] ?? null) ? [...(args[0] as number[])] : refuse(`torch.Size of something that is not a list of at most ${MAX_DIMS} sizes`);
        default: return refuse(`refuses to call '${name}' while unpickling (not an allowed rebuild function)`);
      }
    },

    newObject(cls, args) {
      if (cls instanceof AllowedGlobal && cls.qualifiedName === 'argparse.Namespace' && args.length === 0) return new PickleObject(cls.qualifiedName);
      return refuse(`refuses to construct '${nameOf(cls)}' while unpickling`);
    },

    build(target, state) {
      // OrderedDict's BUILD carries its __dict__, where a state dict keeps `_metadata`.
      if (target instanceof PickleDict || target instanceof PickleObject) { target.state = state; return; }
      refuse(`refuses to set the state of '${nameOf(target)}' while unpickling`);
    },

    persistentLoad(pid) {
      if (!Array.isArray(pid) || pid[0] !== 'storage') return refuse(`unsupported persistent id ${describePickleValue(pid)} (only torch storages are supported)`);
      return loadStorage(pid);
    },
  };
}

function orderedDict(args: PickleValue[], refuse: (m: string) => never): PickleDict {
  const d = new PickleDict();
  if (args.length === 0) return d;
  const items = args[0];
  if (args.length !== 1 || !Array.isArray(items)) return refuse('OrderedDict called with unexpected arguments');
  for (const kv of items) {
    if (!Array.isArray(kv) || kv.length !== 2) return refuse('OrderedDict item is not a (key, value) pair');
    d.items.set(kv[0]!, kv[1]!);
  }
  return d;
}

/** `_rebuild_tensor(storage, storage_offset, size, stride)`; `_v2` adds requires_grad, hooks [, metadata]. */
function rebuildTensor(name: string, args: PickleValue[], refuse: (m: string) => never): TensorRef {
  const [storage, offset, size, stride] = args;
  const arity = name.endsWith('_v2') ? [6, 7] : [4];
  if (!arity.includes(args.length)) return refuse(`${name} called with ${args.length} arguments`);
  if (!(storage instanceof StorageRef)) return refuse(`${name}: first argument is not a storage`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return refuse(`${name}: storage offset ${describePickleValue(offset ?? null)} is invalid`);
  if (!isIntList(size ?? null) || !isIntList(stride ?? null) || (size as number[]).length !== (stride as number[]).length) {
    return refuse(`${name}: size and stride are not matching lists of at most ${MAX_DIMS} non-negative integers`);
  }
  return new TensorRef(storage, offset, [...(size as number[])], [...(stride as number[])]);
}

/**
 * Parses a storage persistent id: ('storage', storage_type, key, location, numel[, view_metadata])
 * (serialization.py `_save` writes 5 fields, `_legacy_save` 6).
 */
export function parseStoragePid(file: string, pid: PickleValue[]): { dtype: TorchDType; key: string; numel: number; view: [string, number, number] | null } {
  const [, type, key, , numel, view] = pid;
  const bad = (what: string): never => { throw new CheckpointError(file, `storage persistent id: ${what}`); };
  if (pid.length !== 5 && pid.length !== 6) bad(`has ${pid.length} fields, expected 5 or 6`);
  if (!(type instanceof StorageType)) return bad('storage type is not an allowed torch storage class');
  if (typeof key !== 'string' && typeof key !== 'number') return bad(`key ${describePickleValue(key ?? null)} is not a string`);
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) return bad(`element count ${describePickleValue(numel ?? null)} is invalid`);
  if (view === undefined || view === null) return { dtype: type.dtype, key: String(key), numel, view: null };
  if (!Array.isArray(view) || view.length !== 3 || (typeof view[0] !== 'string' && typeof view[0] !== 'number') || !isIntList(view.slice(1))) {
    return bad('view metadata is malformed');
  }
  return { dtype: type.dtype, key: String(key), numel, view: [String(view[0]), view[1] as number, view[2] as number] };
}
