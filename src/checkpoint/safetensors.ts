/**
 * .safetensors: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the data,
 * offsets counted from the end of the header. Tensors are always contiguous and little-endian.
 */
import type { StateDict } from '../../backbones/graph/tensor.js';
import { CheckpointError } from './errors.js';
import type { ByteSource } from './source.js';
import { materializeTensor } from './tensorData.js';
import { elementSize, type TorchDType } from './torchPickle.js';

/** safetensors dtype names -> ours; others (complex, fp8, unsigned wider than 8 bits) are refused. */
const dtypes: Record<string, TorchDType> = {
  F32: 'float32', F64: 'float64', F16: 'float16', BF16: 'bfloat16',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

/** The header JSON may not be larger than this (the safetensors crate's own limit). */
const MAX_HEADER = 100_000_000;

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
  if (!ours) return bad(`dtype ${JSON.stringify(dtype)} is not supported (${Object.keys(dtypes).join(', ')})`);
  const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(shape) || !shape.every(isIndex)) return bad('shape is not a list of non-negative integers');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) return bad('data_offsets is not [begin, end]');
  return { dtype: ours, shape: shape as number[], begin: offsets[0] as number, end: offsets[1] as number };
}

/** Reads every tensor of a .safetensors file, in header order. `__metadata__` is ignored. */
export async function readSafetensors(src: ByteSource): Promise<StateDict> {
  const head = await src.read(0, 8);
  const length = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(Math.min(MAX_HEADER, src.size - 8))) throw new CheckpointError(src.name, `safetensors header length ${length} is out of range for a ${src.size}-byte file`);
  const headerEnd = 8 + Number(length);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(await src.read(8, headerEnd - 8)));
  } catch (e) {
    throw new CheckpointError(src.name, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CheckpointError(src.name, 'safetensors header is not a JSON object');

  const out: StateDict = new Map();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = parseEntry(src.name, name, raw);
    let numel = 1;
    for (const d of e.shape) numel *= d;
    if (numel * elementSize[e.dtype] !== e.end - e.begin) {
      throw new CheckpointError(src.name, `safetensors entry '${name}': shape [${e.shape.join(', ')}] of ${e.dtype} needs ${numel * elementSize[e.dtype]} bytes, data_offsets give ${e.end - e.begin}`);
    }
    const bytes = await src.read(headerEnd + e.begin, e.end - e.begin);
    const stride = e.shape.map((_, d) => e.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    out.set(name, materializeTensor({ dtype: e.dtype, bytes, offset: 0, size: e.shape, stride, bigEndian: false }, src.name, name));
  }
  return out;
}
