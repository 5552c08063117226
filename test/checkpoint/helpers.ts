/**
 * Shared by the checkpoint tests: the torch-written cases of test/reference/checkpoint_cases.py,
 * written out as files, and an exact tensor comparison.
 */
import { expect } from 'chai';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostTensor } from '../../onnx/tensor.js';
import { torchReference } from '../helpers/reference.js';
import type { Archive, ArchiveTensor } from '../helpers/tensorArchive.js';

export interface CaseMeta {
  keys?: string[];
  hashes?: Record<string, [string, number[], string]>;
  refused?: string;
  error?: string;
  marker?: string;
}

let archive: Archive | null = null;
const folder = join(tmpdir(), `resdet-checkpoint-test-${process.pid}`);
process.on('exit', () => rmSync(folder, { recursive: true, force: true }));

/** The reference archive (torch runs once, then it is cached). */
export function cases(): Archive {
  archive ??= torchReference('checkpoint_cases');
  return archive;
}

export function caseMeta(name: string): CaseMeta {
  const all = cases().meta.cases as Record<string, CaseMeta>;
  const meta = all[name];
  if (!meta) throw new Error(`checkpoint_cases.py wrote no case '${name}'`);
  return meta;
}

/** The bytes torch wrote for a case. */
export function caseBytes(name: string): Uint8Array {
  const t = cases().tensors.get(`file/${name}`);
  if (!t || !(t.data instanceof Uint8Array)) throw new Error(`reference archive has no file for case '${name}'`);
  return t.data;
}

/** Writes a case's bytes (or given bytes) to a temporary file and returns its path. */
export function caseFile(name: string, bytes: Uint8Array = caseBytes(name), extension = '.pth'): string {
  mkdirSync(folder, { recursive: true });
  const path = join(folder, `${name}${extension}`);
  writeFileSync(path, bytes);
  return path;
}

/** The value torch saved under `key`, converted as the loader must convert it. */
export function expected(name: string, key: string): ArchiveTensor {
  const t = cases().tensors.get(`expect/${name}/${key}`);
  if (!t) throw new Error(`reference archive has no expected tensor '${key}' for case '${name}'`);
  return t;
}

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Exact equality: dtype, shape and every bit (so NaN, -0 and infinities count too). */
export function expectSameTensor(actual: HostTensor | undefined, want: ArchiveTensor, what: string): void {
  expect(actual, `${what} is missing`).to.not.equal(undefined);
  expect(actual!.dtype, `${what} dtype`).to.equal(want.dtype);
  expect(actual!.shape, `${what} shape`).to.deep.equal(want.shape);
  expect(bytesOf(actual!.data).equals(bytesOf(want.data)), `${what} values differ from what torch saved`).to.equal(true);
}
