/**
 * Reads and writes the tensor archive shared with test/reference/tensor_archive.py: a folder with
 * manifest.json ({ tensors: {name: {dtype, shape, file}}, meta }) and one raw little-endian file
 * per tensor.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type ArchiveArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface ArchiveTensor {
  dtype: 'float32' | 'float64' | 'int32' | 'int64' | 'uint8';
  shape: number[];
  data: ArchiveArray;
}

export interface Archive {
  /** Where the archive lives; scripts may write files beside the tensors. */
  folder: string;
  tensors: Map<string, ArchiveTensor>;
  meta: Record<string, unknown>;
}

function view(dtype: ArchiveTensor['dtype'], bytes: Buffer): ArchiveArray {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const buf = copy.buffer;
  switch (dtype) {
    case 'float32': return new Float32Array(buf);
    case 'float64': return new Float64Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'uint8': return copy;
  }
}

export function readArchive(folder: string): Archive {
  const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as {
    tensors: Record<string, { dtype: ArchiveTensor['dtype']; shape: number[]; file: string }>;
    meta?: Record<string, unknown>;
  };
  const tensors = new Map<string, ArchiveTensor>();
  for (const [name, e] of Object.entries(manifest.tensors)) {
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data: view(e.dtype, readFileSync(join(folder, e.file))) });
  }
  return { folder, tensors, meta: manifest.meta ?? {} };
}

export function writeArchive(folder: string, tensors: Record<string, ArchiveTensor>, meta: Record<string, unknown> = {}): void {
  mkdirSync(folder, { recursive: true });
  const entries: Record<string, { dtype: string; shape: number[]; file: string }> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const file = name.replace(/\//g, '__') + '.bin';
    writeFileSync(join(folder, file), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    entries[name] = { dtype: t.dtype, shape: t.shape, file };
  }
  writeFileSync(join(folder, 'manifest.json'), JSON.stringify({ tensors: entries, meta }));
}

/** Typed accessors that fail with the tensor's name when it is missing or of another dtype. */
export function getFloat32(a: Archive, name: string): Float32Array {
  const t = a.tensors.get(name);
  if (!t) throw new Error(`reference archive has no tensor '${name}'`);
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof Float64Array) return Float32Array.from(t.data);
  throw new Error(`reference tensor '${name}' is ${t.dtype}, expected float32`);
}

export function getInt(a: Archive, name: string): Int32Array {
  const t = a.tensors.get(name);
  if (!t) throw new Error(`reference archive has no tensor '${name}'`);
  if (t.data instanceof BigInt64Array) return Int32Array.from(t.data, (v) => Number(v));
  if (t.data instanceof Int32Array) return t.data;
  if (t.data instanceof Uint8Array) return Int32Array.from(t.data);
  throw new Error(`reference tensor '${name}' is ${t.dtype}, expected an integer type`);
}

export function getShape(a: Archive, name: string): number[] {
  const t = a.tensors.get(name);
  if (!t) throw new Error(`reference archive has no tensor '${name}'`);
  return t.shape;
}
