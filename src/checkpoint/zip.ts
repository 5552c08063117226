/**
 * A small zip reader for torch's checkpoint archives: the central directory (zip64 aware, since
 * big checkpoints put offsets past 4 GiB) and entry extraction. torch writes entries STORED with
 * their data 64-byte aligned; DEFLATE (an archive re-zipped by some tool) is inflated with
 * node:zlib. Every offset and size is checked against the file before it is used.
 *
 * Hostile archives: every entry must own its bytes. Records are laid out one after another, so an
 * entry's local header, data and descriptor must end before the next entry's local header (or the
 * central directory) begins; two directory entries at one record, or a record that overlaps
 * another, are refused, so no byte of the file is read twice. DEFLATE output is written into a
 * buffer of the declared size, charged to the load's MemoryBudget first, and inflating stops
 * with an error as soon as the data would run past it (a zip bomb costs its declared size at most).
 */
import { createInflateRaw, crc32 } from 'node:zlib';
import type { MemoryBudget } from './budget.js';
import { CheckpointError } from './errors.js';
import { type ByteSource, checkRange } from './source.js';

/** One file of the archive, as the central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 = STORED, 8 = DEFLATE. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  crc32: number;
  /** Where the next record (or the central directory) starts: this entry's bytes must end there. */
  slotEnd: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

/** True when the bytes start like a zip archive (a local header or an empty archive's EOCD). */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads a little-endian u64 as a number, refusing values past 2^53 (no real archive has them). */
function u64(src: ByteSource, dv: DataView, at: number): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CheckpointError(src.name, `zip field at ${at} is out of range (${v})`);
  return Number(v);
}

interface Directory {
  entries: number;
  size: number;
  offset: number;
}

/** Finds the end-of-central-directory record, then its zip64 twin when the 32-bit fields overflow. */
async function findDirectory(src: ByteSource): Promise<Directory> {
  const tailLength = Math.min(src.size, EOCD_SIZE + MAX_COMMENT + 20);
  const tailStart = src.size - tailLength;
  const tail = await src.read(tailStart, tailLength);
  const dv = view(tail);
  let at = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (dv.getUint32(i, true) === SIG_EOCD) { at = i; break; }
  }
  if (at < 0) throw new CheckpointError(src.name, 'zip archive has no end-of-central-directory record (truncated or corrupt)');
  const dir: Directory = { entries: dv.getUint16(at + 10, true), size: dv.getUint32(at + 12, true), offset: dv.getUint32(at + 16, true) };
  if (at >= 20 && dv.getUint32(at - 20, true) === SIG_ZIP64_LOCATOR) {
    const recordOffset = u64(src, dv, at - 20 + 8);
    checkRange(src.name, src.size, recordOffset, 56, 'zip64 end-of-central-directory record');
    const rec = view(await src.read(recordOffset, 56));
    if (rec.getUint32(0, true) !== SIG_ZIP64_EOCD) throw new CheckpointError(src.name, 'zip64 locator points at no zip64 directory record (corrupt)');
    return { entries: u64(src, rec, 32), size: u64(src, rec, 40), offset: u64(src, rec, 48) };
  }
  return dir;
}

/** Replaces 0xFFFFFFFF fields of a central entry by the values of its zip64 extra field (id 1). */
function applyZip64Extra(src: ByteSource, e: ZipEntry, extra: DataView): void {
  for (let p = 0; p + 4 <= extra.byteLength; ) {
    const id = extra.getUint16(p, true);
    const len = extra.getUint16(p + 2, true);
    if (p + 4 + len > extra.byteLength) break;
    if (id === 1) {
      let q = p + 4;
      const take = (): number => {
        if (q + 8 > p + 4 + len) throw new CheckpointError(src.name, `zip64 extra field of '${e.name}' is too short`);
        const v = u64(src, extra, q); q += 8; return v;
      };
      // The order is fixed by the zip spec; only the overflowed fields are present.
      if (e.uncompressedSize === 0xffffffff) e.uncompressedSize = take();
      if (e.compressedSize === 0xffffffff) e.compressedSize = take();
      if (e.localHeaderOffset === 0xffffffff) e.localHeaderOffset = take();
      return;
    }
    p += 4 + len;
  }
}

/** Inflates raw DEFLATE data that must give exactly `size` bytes, never holding more than that. */
async function inflateInto(src: ByteSource, what: string, raw: Uint8Array, size: number): Promise<Uint8Array> {
  const out = Buffer.allocUnsafeSlow(size);
  const inflater = createInflateRaw({ chunkSize: 1 << 20 });
  let length = 0;
  let overflow = false;
  try {
    inflater.end(raw);
    for await (const chunk of inflater as AsyncIterable<Buffer>) {
      if (length + chunk.length > size) { overflow = true; break; }
      out.set(chunk, length);
      length += chunk.length;
    }
  } catch (e) {
    throw new CheckpointError(src.name, `${what} does not inflate (${(e as Error).message})`);
  } finally {
    inflater.destroy();
  }
  if (overflow) throw new CheckpointError(src.name, `${what} inflates to more than its declared ${size} bytes (corrupt, or a zip bomb); stopped there`);
  if (length !== size) throw new CheckpointError(src.name, `${what} inflates to ${length} bytes, expected ${size}`);
  return out;
}

/** Reads the central directory: entry name -> entry. */
export async function readZipDirectory(src: ByteSource): Promise<Map<string, ZipEntry>> {
  const dir = await findDirectory(src);
  checkRange(src.name, src.size, dir.offset, dir.size, 'zip central directory');
  const bytes = await src.read(dir.offset, dir.size);
  const dv = view(bytes);
  const names = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < dir.entries; i++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== SIG_CENTRAL) {
      throw new CheckpointError(src.name, `zip central directory entry ${i} is missing or corrupt`);
    }
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen + commentLen > bytes.length) throw new CheckpointError(src.name, `zip central directory entry ${i} runs past the directory`);
    const entry: ZipEntry = {
      name: names.decode(bytes.subarray(p + 46, p + 46 + nameLen)),
      method: dv.getUint16(p + 10, true),
      crc32: dv.getUint32(p + 16, true),
      compressedSize: dv.getUint32(p + 20, true),
      uncompressedSize: dv.getUint32(p + 24, true),
      localHeaderOffset: dv.getUint32(p + 42, true),
      slotEnd: dir.offset,
    };
    applyZip64Extra(src, entry, new DataView(bytes.buffer, bytes.byteOffset + p + 46 + nameLen, extraLen));
    if (entries.has(entry.name)) throw new CheckpointError(src.name, `zip central directory names '${entry.name}' twice (corrupt or hostile)`);
    entries.set(entry.name, entry);
    p += 46 + nameLen + extraLen + commentLen;
  }
  assignSlots(src, entries, dir.offset);
  return entries;
}

/**
 * Gives every entry the span up to the next local header (records are disjoint and in order),
 * refusing two entries at one record and records inside the central directory.
 */
function assignSlots(src: ByteSource, entries: Map<string, ZipEntry>, directoryOffset: number): void {
  const byOffset = [...entries.values()].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 0; i < byOffset.length; i++) {
    const e = byOffset[i]!;
    const next = byOffset[i + 1];
    if (next && next.localHeaderOffset === e.localHeaderOffset) {
      throw new CheckpointError(src.name, `zip entries '${e.name}' and '${next.name}' point at the same record at byte ${e.localHeaderOffset} (overlapping records are refused)`);
    }
    if (e.localHeaderOffset >= directoryOffset) {
      throw new CheckpointError(src.name, `zip entry '${e.name}' has its record at byte ${e.localHeaderOffset}, inside or past the central directory at ${directoryOffset} (corrupt)`);
    }
    e.slotEnd = next ? next.localHeaderOffset : directoryOffset;
  }
}

/**
 * Returns the uncompressed bytes of an entry: a view of the source for STORED entries (no copy
 * for in-memory sources), a new buffer for DEFLATE ones. The CRC-32 is checked, so a flipped
 * byte in a weight is an error rather than a silently wrong model.
 */
export async function readZipEntry(src: ByteSource, entry: ZipEntry, budget: MemoryBudget): Promise<Uint8Array> {
  const what = `zip entry '${entry.name}'`;
  checkRange(src.name, src.size, entry.localHeaderOffset, 30, `${what} header`);
  const header = view(await src.read(entry.localHeaderOffset, 30));
  if (header.getUint32(0, true) !== SIG_LOCAL) throw new CheckpointError(src.name, `${what} has no local header at ${entry.localHeaderOffset} (corrupt)`);
  // The local extra field (torch's alignment padding) may differ from the central one.
  const dataOffset = entry.localHeaderOffset + 30 + header.getUint16(26, true) + header.getUint16(28, true);
  checkRange(src.name, src.size, dataOffset, entry.compressedSize, what);
  if (dataOffset + entry.compressedSize > entry.slotEnd) {
    throw new CheckpointError(src.name, `${what}: its ${entry.compressedSize} bytes at ${dataOffset} run into the next record at byte ${entry.slotEnd} (overlapping records are refused)`);
  }
  if (entry.method !== 0 && entry.method !== 8) {
    throw new CheckpointError(src.name, `${what} uses zip compression method ${entry.method}; only STORED (0) and DEFLATE (8) are supported`);
  }
  if (entry.method === 0 && entry.compressedSize !== entry.uncompressedSize) throw new CheckpointError(src.name, `${what} is stored with mismatched sizes (corrupt)`);
  if (entry.method === 8) budget.charge(entry.uncompressedSize, `${what} (DEFLATE, declared ${entry.uncompressedSize} bytes inflated)`);
  const raw = await src.read(dataOffset, entry.compressedSize);
  const data = entry.method === 0 ? raw : await inflateInto(src, what, raw, entry.uncompressedSize);
  if ((crc32(data) >>> 0) !== entry.crc32) throw new CheckpointError(src.name, `${what} fails its CRC-32 check (corrupt)`);
  return data;
}
