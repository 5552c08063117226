/**
 * Byte-level writers for hand-made checkpoints: a pickle assembler, torch's zip and legacy
 * layouts, a zip writer that can lie (sizes, offsets, aliased records) and safetensors. Used by
 * hostileCorpus.ts to write hostile files at test time, so no binary is committed.
 */
import { constants, crc32, deflateRawSync } from 'node:zlib';

/** A protocol-2 pickle, opcode by opcode. */
export class PickleWriter {
  private readonly parts: Uint8Array[] = [];

  raw(...bytes: (number | Uint8Array)[]): this {
    for (const b of bytes) this.parts.push(typeof b === 'number' ? Uint8Array.of(b) : b);
    return this;
  }
  proto(): this { return this.raw(0x80, 2); }
  stop(): this { return this.raw(0x2e); }
  mark(): this { return this.raw(0x28); }
  none(): this { return this.raw(0x4e); }
  bool(v: boolean): this { return this.raw(v ? 0x88 : 0x89); }
  emptyTuple(): this { return this.raw(0x29); }
  emptyList(): this { return this.raw(0x5d); }
  emptyDict(): this { return this.raw(0x7d); }
  tuple(): this { return this.raw(0x74); }
  tuple1(): this { return this.raw(0x85); }
  list(): this { return this.raw(0x6c); }
  append(): this { return this.raw(0x61); }
  appends(): this { return this.raw(0x65); }
  setitem(): this { return this.raw(0x73); }
  setitems(): this { return this.raw(0x75); }
  reduce(): this { return this.raw(0x52); }
  persid(): this { return this.raw(0x51); }
  pop(): this { return this.raw(0x30); }
  put(i: number): this { return this.raw(0x72, le32(i)); }
  get(i: number): this { return this.raw(0x6a, le32(i)); }
  global(module: string, name: string): this { return this.raw(0x63, Buffer.from(`${module}\n${name}\n`, 'latin1')); }
  str(s: string): this { const b = Buffer.from(s, 'utf8'); return this.raw(0x58, le32(b.length), b); }

  /** An int: BININT for 32-bit values, LONG1 (two's complement) otherwise. */
  int(v: number | bigint): this {
    if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) {
      const b = Buffer.alloc(4); b.writeInt32LE(v); return this.raw(0x4a, b);
    }
    let n = BigInt(v);
    const bytes: number[] = [];
    for (;;) {
      bytes.push(Number(n & 0xffn));
      n >>= 8n;
      const top = bytes[bytes.length - 1]!;
      if ((n === 0n && top < 0x80) || (n === -1n && top >= 0x80)) break;
    }
    return this.raw(0x8a, bytes.length, Uint8Array.from(bytes));
  }

  /** A tuple of ints (torch.Size-like sizes and strides). */
  ints(values: (number | bigint)[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }

  bytes(): Uint8Array { return Buffer.concat(this.parts); }
}

function le32(v: number): Uint8Array { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; }
function le64(v: number | bigint): Uint8Array { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); return b; }

/** A tensor entry of a hand-made state dict; any field may be a lie. */
export interface FakeTensor {
  key: string;
  storageKey: string | bigint;
  numel: number | bigint;
  offset?: number | bigint;
  size: (number | bigint)[];
  stride: (number | bigint)[];
  storageType?: string;
}

/** `('storage', torch.<type>, key, 'cpu', numel[, None])` then BINPERSID. */
export function writeStoragePid(p: PickleWriter, t: FakeTensor, legacy: boolean): void {
  p.mark().str('storage').global('torch', t.storageType ?? 'FloatStorage');
  if (typeof t.storageKey === 'string') p.str(t.storageKey); else p.int(t.storageKey);
  p.str('cpu').int(t.numel);
  if (legacy) p.none();
  p.tuple().persid();
}

/** `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`. */
export function writeTensor(p: PickleWriter, t: FakeTensor, legacy: boolean): void {
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  writeStoragePid(p, t, legacy);
  p.int(t.offset ?? 0).ints(t.size).ints(t.stride).bool(false);
  p.global('collections', 'OrderedDict').emptyTuple().reduce();
  p.tuple().reduce();
}

/** An OrderedDict state-dict pickle (no PROTO/STOP framing added by callers). */
export function stateDictPickle(tensors: FakeTensor[], legacy: boolean): Uint8Array {
  const p = new PickleWriter().proto().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const t of tensors) { p.str(t.key); writeTensor(p, t, legacy); }
  return p.setitems().stop().bytes();
}

/** float32 little-endian bytes of 0, 1, 2, ... */
export function floats(n: number): Uint8Array {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = i;
  return new Uint8Array(f.buffer);
}

/** One file of a zip; the `declared*` fields lie in both headers when given. */
export interface ZipRecord {
  name: string;
  /** The bytes as they lie in the file (already DEFLATE-compressed when method is 8). */
  stored: Uint8Array;
  method?: 0 | 8;
  /** The real uncompressed bytes, for the CRC (default: `stored`). */
  plain?: Uint8Array;
  declaredCompressed?: number;
  declaredUncompressed?: number;
  /** More central-directory entries pointing at this same local record. */
  aliases?: string[];
  /** The central directory's local-header offset, when it should lie. */
  declaredOffset?: number;
}

/** Writes a zip with every record's data 64-byte aligned, as torch does. */
export function writeZip(records: ZipRecord[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  let count = 0;
  for (const r of records) {
    const name = Buffer.from(r.name);
    let pad = (64 - ((offset + 30 + name.length) % 64)) % 64;
    if (pad > 0 && pad < 4) pad += 64;
    const extra = Buffer.alloc(pad);
    if (pad) { extra.writeUInt16LE(0x4246, 0); extra.writeUInt16LE(pad - 4, 2); }
    const method = r.method ?? 0;
    const crc = crc32(r.plain ?? r.stored) >>> 0;
    const csize = r.declaredCompressed ?? r.stored.length;
    const usize = r.declaredUncompressed ?? (r.plain ?? r.stored).length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14); local.writeUInt32LE(csize >>> 0, 18); local.writeUInt32LE(usize >>> 0, 22);
    local.writeUInt16LE(name.length, 26); local.writeUInt16LE(pad, 28);
    const at = r.declaredOffset ?? offset;
    for (const n of [r.name, ...(r.aliases ?? [])]) {
      const nb = Buffer.from(n);
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0); c.writeUInt16LE(20, 4); c.writeUInt16LE(20, 6); c.writeUInt16LE(method, 10);
      c.writeUInt32LE(crc, 16); c.writeUInt32LE(csize >>> 0, 20); c.writeUInt32LE(usize >>> 0, 24);
      c.writeUInt16LE(nb.length, 28); c.writeUInt32LE(at >>> 0, 42);
      central.push(c, nb);
      count++;
    }
    parts.push(local, name, extra, r.stored);
    offset += 30 + name.length + pad + r.stored.length;
  }
  const dir = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(Math.min(count, 0xffff), 8); eocd.writeUInt16LE(Math.min(count, 0xffff), 10);
  eocd.writeUInt32LE(dir.length, 12); eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, dir, eocd]);
}

/** torch.save's zip layout: archive/data.pkl, archive/data/<key>, archive/version. */
export function torchZipRecords(pkl: Uint8Array, storages: Record<string, Uint8Array>): ZipRecord[] {
  return [
    { name: 'archive/data.pkl', stored: pkl },
    ...Object.entries(storages).map(([key, bytes]) => ({ name: `archive/data/${key}`, stored: bytes })),
    { name: 'archive/version', stored: Buffer.from('3\n') },
  ];
}

export function torchZip(tensors: FakeTensor[], storages: Record<string, Uint8Array>): Uint8Array {
  return writeZip(torchZipRecords(stateDictPickle(tensors, false), storages));
}

/** The legacy header: magic number, protocol 1001, sys info (a dict). */
export function legacyHeader(sysInfo: Uint8Array = new PickleWriter().proto().emptyDict().stop().bytes()): Uint8Array {
  const magic = Uint8Array.from([0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
  const version = Uint8Array.from([0x80, 2, 0x4d, 0xe9, 0x03, 0x2e]);
  return Buffer.concat([magic, version, sysInfo]);
}

/** A legacy (torch < 1.6 format) file: header, object pickle, key list, then the storages. */
export function torchLegacy(objectPickle: Uint8Array, storages: [string, number, Uint8Array][]): Uint8Array {
  const keys = new PickleWriter().proto().emptyList().mark();
  for (const [key] of storages) keys.str(key);
  const parts = [legacyHeader(), objectPickle, keys.appends().stop().bytes()];
  for (const [, numel, bytes] of storages) parts.push(le64(numel), bytes);
  return Buffer.concat(parts);
}

/** A safetensors file from header entries (written as given, or the JSON text itself) and the data bytes. */
export function safetensors(header: Record<string, unknown> | string, data: Uint8Array): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

/**
 * A raw DEFLATE stream that inflates to `mebibytes` MiB of zeros while taking ~1 KiB per MiB:
 * one fully flushed block of 1 MiB of zeros (self-contained: a full flush resets the
 * dictionary), repeated, then an empty final block.
 */
export function deflateBomb(mebibytes: number): Uint8Array {
  const block = deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: constants.Z_FULL_FLUSH });
  const out = Buffer.alloc(block.length * mebibytes + 2);
  for (let i = 0; i < mebibytes; i++) out.set(block, i * block.length);
  out.set([0x03, 0x00], block.length * mebibytes); // BFINAL=1, fixed Huffman, end-of-block
  return out;
}
