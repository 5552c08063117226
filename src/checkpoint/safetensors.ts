/**
 * .safetensors: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the data,
 * offsets counted from the end of the header. Tensors are always contiguous and little-endian.
 * The format forbids overlapping ranges (the safetensors crate refuses them), so they are refused
 * here too: every data byte belongs to one tensor and is read once.
 */
import type { StateDict } from '../../onnx/tensor.js';
import type { MemoryBudget } from './budget.js';
import { CheckpointError } from './errors.js';
import type { ByteSource } from './source.js';
import { materializeTensor } from './tensorData.js';
import { elementSize, MAX_DIMS, type TorchDType } from './torchPickle.js';

/** safetensors dtype names -> ours; others (complex, fp8, unsigned wider than 8 bits) are refused. */
const dtypes: Record<string, TorchDType> = {
  F32: 'float32', F64: 'float64', F16: 'float16', BF16: 'bfloat16',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

/** The header JSON may not be larger than this (the safetensors crate's own limit). */
const MAX_HEADER = 100_000_000;
/** JSON.parse of `[{},{},...]` builds ~12 bytes of heap per byte of text: charged before parsing. */
const JSON_HEAP_PER_BYTE = 16;

/** True when the first bytes look like a safetensors header: a sane length, then '{'. */
export function looksLikeSafetensors(head: Uint8Array, size: number): boolean {
  if (head.length < 9) return false;
  const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(Math.min(MAX_HEADER, size - 8)) && head[8] === 0x7b;
}

interface HeaderEntry {
  dtype: TorchDType;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(file: string, name: string, raw: unknown): HeaderEntry {
  const bad = (what: string): never => { throw new CheckpointError(file, `safetensors entry '${name}': ${what}`); };
  if (typeof raw !== 'object' || raw === null) return bad('is not an object');
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  const ours = typeof dtype === 'string' && Object.hasOwn(dtypes, dtype) ? dtypes[dtype] : undefined;
  const shown = typeof dtype === 'string' ? JSON.stringify(dtype.slice(0, 40)) : Array.isArray(dtype) ? '(an array)' : String(typeof dtype);
  if (!ours) return bad(`dtype ${shown} is not supported (${Object.keys(dtypes).join(', ')})`);
  const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(shape) || shape.length > MAX_DIMS || !shape.every(isIndex)) return bad(`shape is not a list of at most ${MAX_DIMS} non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) return bad('data_offsets is not [begin, end]');
  return { dtype: ours, shape: shape as number[], begin: offsets[0] as number, end: offsets[1] as number };
}

function shapeText(shape: number[]): string {
  return `[${shape.join(', ')}]`; // at most MAX_DIMS safe integers
}

/**
 * Checks every entry's size against its shape and its range against the data, and that no two
 * non-empty ranges overlap.
 */
function checkLayout(file: string, entries: [string, HeaderEntry][], dataSize: number): void {
  for (const [name, e] of entries) {
    let numel = e.shape.includes(0) ? 0 : 1;
    for (const d of e.shape) numel *= d;
    const nbytes = numel * elementSize[e.dtype];
    if (nbytes !== e.end - e.begin) {
      throw new CheckpointError(file, `safetensors entry '${name}': shape ${shapeText(e.shape)} of ${e.dtype} needs ${nbytes} bytes, data_offsets give ${e.end - e.begin}`);
    }
    if (e.end > dataSize) {
      throw new CheckpointError(file, `safetensors entry '${name}': data_offsets [${e.begin}, ${e.end}] run past the ${dataSize} data bytes of the file (truncated or corrupt)`);
    }
  }
  const ranges = entries.filter(([, e]) => e.end > e.begin).sort(([, a], [, b]) => a.begin - b.begin);
  for (let i = 1; i < ranges.length; i++) {
    const [prevName, prev] = ranges[i - 1]!;
    const [name, e] = ranges[i]!;
    if (e.begin < prev.end) {
      throw new CheckpointError(file, `safetensors entries '${prevName}' [${prev.begin}, ${prev.end}] and '${name}' [${e.begin}, ${e.end}] overlap (the format forbids it)`);
    }
  }
}

/** Reads every tensor of a .safetensors file, in header order. `__metadata__` is ignored. */
export async function readSafetensors(src: ByteSource, budget: MemoryBudget): Promise<StateDict> {
  const head = await src.read(0, 8);
  const length = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(Math.min(MAX_HEADER, src.size - 8))) throw new CheckpointError(src.name, `safetensors header length ${length} is out of range for a ${src.size}-byte file`);
  const headerEnd = 8 + Number(length);
  budget.charge(JSON_HEAP_PER_BYTE * Number(length), `safetensors header of ${length} bytes (parsed, about ${JSON_HEAP_PER_BYTE} bytes of objects per byte)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(await src.read(8, headerEnd - 8)));
  } catch (e) {
    throw new CheckpointError(src.name, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CheckpointError(src.name, 'safetensors header is not a JSON object');

  const entries: [string, HeaderEntry][] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name !== '__metadata__') entries.push([name, parseEntry(src.name, name, raw)]);
  }
  checkLayout(src.name, entries, src.size - headerEnd);

  const out: StateDict = new Map();
  for (const [name, e] of entries) {
    const bytes = await src.read(headerEnd + e.begin, e.end - e.begin);
    const stride = new Array<number>(e.shape.length);
    for (let d = e.shape.length - 1, s = 1; d >= 0; s *= e.shape[d]!, d--) stride[d] = s;
    out.set(name, materializeTensor({ dtype: e.dtype, bytes, offset: 0, size: e.shape, stride, bigEndian: false }, src.name, name, budget));
  }
  return out;
}
