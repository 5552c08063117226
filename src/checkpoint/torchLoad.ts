/**
 * The two torch.save formats (torch/serialization.py, torch 1.13):
 * - zip (torch >= 1.6, `_save`): `<archive>/data.pkl` is the pickled object, whose persistent ids
 *   ('storage', type, key, location, numel) name `<archive>/data/<key>` records of raw bytes.
 * - legacy (`_legacy_save`, `_use_new_zipfile_serialization=False`; torchvision's published COCO
 *   weights): five pickles in a row — magic number, protocol version, sys info, the object, the
 *   sorted list of storage keys — then for each key an int64 element count and the raw bytes.
 * Only the storages that the state dict's tensors use are read, so a training checkpoint's
 * optimizer state costs nothing.
 */
import type { StateDict } from '../../onnx/tensor.js';
import type { MemoryBudget } from './budget.js';
import { CheckpointError, CheckpointTruncatedError } from './errors.js';
import { describePickleValue, type PickleHooks, type PickleValue, unpickle } from './pickle.js';
import type { ByteSource } from './source.js';
import { buildStateDict, selectStateDict } from './stateDict.js';
import { materializeTensor } from './tensorData.js';
import { elementSize, parseStoragePid, StorageRef, TensorRef, torchPickleHooks } from './torchPickle.js';
import { readZipDirectory, readZipEntry } from './zip.js';

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** The storages a pickle names, by key; legacy views get their own refs onto a root. */
class StorageTable {
  readonly roots = new Map<string, StorageRef>();
  private readonly views = new Map<string, StorageRef>();
  constructor(private readonly file: string) {}

  load(pid: PickleValue[]): StorageRef {
    const { dtype, key, numel, view } = parseStoragePid(this.file, pid);
    let root = this.roots.get(key);
    if (!root) this.roots.set(key, (root = new StorageRef(key, dtype, numel)));
    if (root.dtype !== dtype || root.numel !== numel) {
      throw new CheckpointError(this.file, `storage '${key}' is named with two different types or sizes (corrupt)`);
    }
    if (!view) return root;
    const [viewKey, offset, viewNumel] = view;
    if (offset + viewNumel > numel) throw new CheckpointError(this.file, `storage view '${viewKey}' runs past storage '${key}'`);
    let ref = this.views.get(viewKey);
    if (!ref) this.views.set(viewKey, (ref = new StorageRef(viewKey, dtype, viewNumel, root, offset)));
    return ref;
  }
}

/** Root storages used by the tensors of `dict`. */
function neededRoots(tensors: Iterable<PickleValue>): Set<StorageRef> {
  const out = new Set<StorageRef>();
  for (const v of tensors) if (v instanceof TensorRef) out.add(v.storage.root ?? v.storage);
  return out;
}

interface TorchPickle {
  value: PickleValue;
  end: number;
  table: StorageTable;
}

/** Unpickles the object pickle, collecting the storages it names. */
function unpickleTorch(src: ByteSource, bytes: Uint8Array, start: number, budget: MemoryBudget): TorchPickle {
  const table = new StorageTable(src.name);
  const { value, end } = unpickle(bytes, start, torchPickleHooks(src.name, (pid) => table.load(pid)), src.name, budget);
  return { value, end, table };
}

/** Selects the state dict, reads the storages its tensors use with `readRoots`, materializes. */
async function toStateDict(src: ByteSource, value: PickleValue, bigEndian: boolean, budget: MemoryBudget,
  readRoots: (needed: Set<StorageRef>) => Promise<Map<StorageRef, Uint8Array>>): Promise<StateDict> {
  const dict = selectStateDict(value, src.name);
  const storages = await readRoots(neededRoots(dict.items.values()));
  return buildStateDict(dict, src.name, (t, name) => {
    const root = t.storage.root ?? t.storage;
    return materializeTensor({
      dtype: root.dtype, bytes: storages.get(root)!, bigEndian,
      offset: t.storage.elementOffset + t.storageOffset, size: t.size, stride: t.stride,
    }, src.name, name, budget);
  });
}

/** Reads a torch zip checkpoint (torch >= 1.6). */
export async function readTorchZip(src: ByteSource, budget: MemoryBudget): Promise<StateDict> {
  const entries = await readZipDirectory(src);
  const first = entries.keys().next().value;
  // Like torch's PyTorchStreamReader: the archive's folder is the first record's top directory.
  const prefix = first === undefined ? '' : first.slice(0, first.indexOf('/') + 1);
  const entry = (name: string) => entries.get(prefix + name);
  const pkl = entry('data.pkl');
  if (!pkl) {
    if (entry('constants.pkl') || entries.has(`${prefix}code/`)) {
      throw new CheckpointError(src.name, 'is a TorchScript archive (torch.jit.save), not a state dict: save model.state_dict() with torch.save');
    }
    throw new CheckpointError(src.name, `zip archive has no '${prefix}data.pkl': not a torch.save checkpoint`);
  }
  const order = entry('byteorder');
  if (order && order.uncompressedSize > 16) throw new CheckpointError(src.name, `byteorder record has ${order.uncompressedSize} bytes, not 'little' or 'big' (corrupt)`);
  const byteorder = order ? new TextDecoder().decode(await readZipEntry(src, order, budget)).trim() : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') throw new CheckpointError(src.name, `unknown byteorder record '${byteorder.slice(0, 16)}'`);

  const { value } = unpickleTorch(src, await readZipEntry(src, pkl, budget), 0, budget);
  return toStateDict(src, value, byteorder === 'big', budget, async (needed) => {
    const out = new Map<StorageRef, Uint8Array>();
    for (const root of needed) {
      const record = entry(`data/${root.key}`);
      if (!record) throw new CheckpointError(src.name, `storage record '${prefix}data/${root.key}' is missing from the archive`);
      const bytes = await readZipEntry(src, record, budget);
      const nbytes = root.numel * elementSize[root.dtype];
      if (bytes.length < nbytes) throw new CheckpointError(src.name, `storage record 'data/${root.key}' has ${bytes.length} bytes, its tensors need ${nbytes}`);
      out.set(root, bytes.subarray(0, nbytes));
    }
    return out;
  });
}

/** Hooks for the legacy header pickles, which are plain numbers, strings and dicts. */
function plainHooks(file: string): PickleHooks {
  const refuse = (): never => { throw new CheckpointError(file, 'legacy header pickle holds an object (corrupt or not a torch checkpoint)'); };
  return {
    resolveGlobal(module, name) {
      throw new CheckpointError(file, `refuses the pickle global '${module}.${name}' in a legacy header pickle: not a torch checkpoint, and nothing in it is executed`);
    },
    reduce: refuse, newObject: refuse, build: refuse, persistentLoad: refuse,
  };
}

interface LegacyPickles extends TorchPickle {
  keys: string[];
}

/**
 * Reads a legacy (pre-1.6 format) checkpoint. The pickles come first and are small, so they are
 * parsed from a prefix of the file that doubles until they fit; storages are then read by offset.
 * Storage bytes are always little-endian: torch's C++ writer swaps them on big-endian hosts.
 */
export async function readTorchLegacy(src: ByteSource, budget: MemoryBudget): Promise<StateDict> {
  let pickles: LegacyPickles | null = null;
  // Each retry parses from the start again and is charged again: the garbage of the cut-short
  // parses counts too, so a hostile pickle cannot cost the budget once per doubling.
  for (let prefixLength = Math.min(src.size, 1 << 20); !pickles; prefixLength = Math.min(src.size, prefixLength * 2)) {
    try {
      pickles = parseLegacyPickles(src, await src.read(0, prefixLength), budget);
    } catch (e) {
      // The pickles go on past this prefix: read more, unless the prefix was the whole file.
      if (!(e instanceof CheckpointTruncatedError) || prefixLength >= src.size) throw e;
    }
  }
  const { value, end, keys, table } = pickles;
  return toStateDict(src, value, false, budget, (needed) => readLegacyStorages(src, end, keys, table, needed));
}

/** Magic number, protocol version, sys info, the object, the storage keys. */
function parseLegacyPickles(src: ByteSource, prefix: Uint8Array, budget: MemoryBudget): LegacyPickles {
  const header = plainHooks(src.name);
  const magic = unpickle(prefix, 0, header, src.name, budget);
  if (magic.value !== LEGACY_MAGIC) throw new CheckpointError(src.name, 'is a pickle without torch\'s magic number: not a torch checkpoint');
  const version = unpickle(prefix, magic.end, header, src.name, budget);
  if (version.value !== LEGACY_PROTOCOL) throw new CheckpointError(src.name, `legacy protocol version ${describePickleValue(version.value)} is not ${LEGACY_PROTOCOL}`);
  const sysInfo = unpickle(prefix, version.end, header, src.name, budget);
  const object = unpickleTorch(src, prefix, sysInfo.end, budget);
  const keys = unpickle(prefix, object.end, header, src.name, budget);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw new CheckpointError(src.name, 'legacy storage key list is not a list of strings (corrupt)');
  }
  return { ...object, end: keys.end, keys: keys.value as string[] };
}

/**
 * The legacy format packs storages at any byte offset; from a Buffer source one would be viewed
 * unaligned and then copied once per tensor. Copying each such storage once instead keeps tensors
 * that shared it sharing memory (the storage is read once, so this is at most the file's size).
 */
function aligned(bytes: Uint8Array, size: number): Uint8Array {
  if (bytes.byteOffset % size === 0) return bytes;
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

/** After the key list: for each key, int64 element count then the bytes. */
async function readLegacyStorages(src: ByteSource, start: number, keys: string[], table: StorageTable, needed: Set<StorageRef>): Promise<Map<StorageRef, Uint8Array>> {
  const out = new Map<StorageRef, Uint8Array>();
  const seen = new Set<string>();
  let offset = start;
  for (const key of keys) {
    const root = table.roots.get(key);
    if (!root) throw new CheckpointError(src.name, `legacy storage key '${key}' is not named by the pickle (corrupt)`);
    if (seen.has(key)) throw new CheckpointError(src.name, `legacy storage key '${key}' is listed twice (corrupt)`);
    seen.add(key);
    const head = await src.read(offset, 8);
    const numel = new DataView(head.buffer, head.byteOffset, 8).getBigInt64(0, true);
    if (numel !== BigInt(root.numel)) throw new CheckpointError(src.name, `legacy storage '${key}' has ${numel} elements, the pickle says ${root.numel} (corrupt)`);
    const nbytes = root.numel * elementSize[root.dtype];
    if (needed.has(root)) out.set(root, aligned(await src.read(offset + 8, nbytes), elementSize[root.dtype]));
    else if (offset + 8 + nbytes > src.size) throw new CheckpointTruncatedError(src.name, `legacy storage '${key}' runs past the end of the file (truncated)`);
    offset += 8 + nbytes;
  }
  for (const root of needed) {
    if (!out.has(root)) throw new CheckpointError(src.name, `storage '${root.key}' used by a tensor is missing from the legacy storage list`);
  }
  return out;
}
