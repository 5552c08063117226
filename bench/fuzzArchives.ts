/**
 * Checkpoint formats for `npm run fuzz`, written independently of src/checkpoint so the fuzzer
 * never trusts the code it tests: a zip reader/writer in torch's layout (STORED, 64-byte aligned,
 * CRC-32 recomputed, so a mutation inside data.pkl reaches the unpickler instead of stopping at the
 * CRC check), a pickle opcode scanner and opcode-aware mutations, and writers for the legacy
 * torch.save format and .safetensors made from a state dict.
 */
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { type Mutated, type Rng, interestingUnsigned, mutateBytes, mutateJson, pick, randInt, weighted } from './fuzzMutations.js';

// ---------------------------------------------------------------------------------------------
// zip

export interface ZipFile {
  name: string;
  data: Uint8Array;
  /** DEFLATE (8) and others: `compressed` is written instead of `data`, with these sizes and CRC. */
  method?: number;
  compressed?: Uint8Array;
  uncompressedSize?: number;
  crc?: number;
}

/** A fixed-width header field of the original archive, for raw overwrites the CRC does not cover. */
export interface ZipField { label: string; at: number; width: number }

export interface ParsedZip { entries: ZipFile[]; fields: ZipField[] }

/** Reads a STORED zip (as torch writes it) and lists its header fields. */
export function readZip(bytes: Uint8Array): ParsedZip {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= 0; i--) if (dv.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw new Error('seed zip has no EOCD');
  const fields: ZipField[] = [
    { label: 'eocd.entries', at: eocd + 10, width: 2 }, { label: 'eocd.cdSize', at: eocd + 12, width: 4 },
    { label: 'eocd.cdOffset', at: eocd + 16, width: 4 }, { label: 'eocd.commentLength', at: eocd + 20, width: 2 },
  ];
  if (eocd >= 20 && dv.getUint32(eocd - 20, true) === 0x07064b50) fields.push({ label: 'zip64locator.offset', at: eocd - 12, width: 8 });
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  const entries: ZipFile[] = [];
  for (let i = 0; i < count; i++) {
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    const size = dv.getUint32(p + 20, true);
    const local = dv.getUint32(p + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    for (const [label, off, width] of [['method', 10, 2], ['crc', 16, 4], ['csize', 20, 4], ['usize', 24, 4], ['nameLength', 28, 2],
      ['extraLength', 30, 2], ['localOffset', 42, 4]] as const) fields.push({ label: `central[${i}].${label}`, at: p + off, width });
    for (const [label, off, width] of [['signature', 0, 4], ['method', 8, 2], ['nameLength', 26, 2], ['extraLength', 28, 2]] as const) {
      fields.push({ label: `local[${i}].${label}`, at: local + off, width });
    }
    const dataAt = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    entries.push({ name, data: bytes.subarray(dataAt, dataAt + size) });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return { entries, fields };
}

/** Writes entries as torch does: STORED, data 64-byte aligned by padding in the local extra field. */
export function writeZip(entries: readonly ZipFile[], methods: ReadonlyMap<number, number> = new Map()): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const enc = new TextEncoder();
  entries.forEach((e, i) => {
    const name = enc.encode(e.name);
    const base = offset + 30 + name.length + 4;
    const pad = (64 - (base % 64)) % 64;
    const extraLen = 4 + pad;
    const local = new Uint8Array(30 + name.length + extraLen);
    const ldv = new DataView(local.buffer);
    const crc = e.crc ?? crc32(e.data) >>> 0;
    const method = methods.get(i) ?? e.method ?? 0;
    const body = e.compressed ?? e.data;
    const usize = e.uncompressedSize ?? e.data.length;
    ldv.setUint32(0, 0x04034b50, true); ldv.setUint16(4, 20, true); ldv.setUint16(8, method, true);
    ldv.setUint32(14, crc, true); ldv.setUint32(18, body.length, true); ldv.setUint32(22, usize, true);
    ldv.setUint16(26, name.length, true); ldv.setUint16(28, extraLen, true);
    local.set(name, 30);
    ldv.setUint16(30 + name.length, 0x4246, true); ldv.setUint16(32 + name.length, pad, true);
    const c = new Uint8Array(46 + name.length);
    const cdv = new DataView(c.buffer);
    cdv.setUint32(0, 0x02014b50, true); cdv.setUint16(4, 20, true); cdv.setUint16(6, 20, true); cdv.setUint16(10, method, true);
    cdv.setUint32(16, crc, true); cdv.setUint32(20, body.length, true); cdv.setUint32(24, usize, true);
    cdv.setUint16(28, name.length, true); cdv.setUint32(42, offset, true);
    c.set(name, 46);
    parts.push(local, body);
    central.push(c);
    offset += local.length + body.length;
  });
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const eocd = new Uint8Array(22);
  const edv = new DataView(eocd.buffer);
  edv.setUint32(0, 0x06054b50, true); edv.setUint16(8, entries.length, true); edv.setUint16(10, entries.length, true);
  edv.setUint32(12, cdSize, true); edv.setUint32(16, offset, true);
  return concatAll([...parts, ...central, eocd]);
}

export function concatAll(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Mutations of a torch zip: inside data.pkl (re-zipped, CRC valid), its entries, its headers, raw bytes. */
export function mutateTorchZip(rng: Rng, seed: Uint8Array, parsed: ParsedZip): Mutated {
  const kind = weighted(rng, [[10, 'pickle'], [4, 'pklBytes'], [3, 'entries'], [3, 'deflate'], [3, 'headers'], [1, 'raw']] as const);
  const entries = parsed.entries.map((e) => ({ ...e }));
  const pkl = entries.findIndex((e) => e.name.endsWith('/data.pkl'));
  if (kind === 'pickle' || kind === 'pklBytes') {
    const m = kind === 'pickle' ? mutatePickle(rng, entries[pkl].data) : mutateBytes(rng, entries[pkl].data);
    entries[pkl].data = m.bytes;
    return { bytes: writeZip(entries), what: `zip data.pkl ${kind === 'pickle' ? 'pickle' : 'bytes'}: ${m.what}` };
  }
  if (kind === 'entries') {
    const i = randInt(rng, 0, entries.length);
    const op = pick(rng, ['drop', 'dup', 'rename', 'truncate', 'extend', 'swapData', 'reorder', 'deflateMethod', 'version', 'empty'] as const);
    const methods = new Map<number, number>();
    const e = entries[i];
    if (op === 'drop') entries.splice(i, 1);
    else if (op === 'dup') entries.splice(randInt(rng, 0, entries.length), 0, { ...e, data: e.data.subarray(0, randInt(rng, 0, e.data.length + 1)) });
    else if (op === 'rename') e.name = pick(rng, ['', `${e.name}x`, e.name.replace(/^[^/]*\//, ''), `other/${e.name}`, e.name.toUpperCase(), '../data.pkl', 'model_final.pth/data/99999']);
    else if (op === 'truncate') e.data = e.data.subarray(0, randInt(rng, 0, e.data.length));
    else if (op === 'extend') e.data = concatAll([e.data, new Uint8Array(randInt(rng, 1, 4096))]);
    else if (op === 'swapData') { const j = randInt(rng, 0, entries.length); [e.data, entries[j].data] = [entries[j].data, e.data]; }
    else if (op === 'reorder') entries.reverse();
    else if (op === 'deflateMethod') methods.set(i, pick(rng, [1, 8, 12, 14, 99, 0xffff]));
    else if (op === 'version') { const v = entries.findIndex((x) => x.name.endsWith('/version')); entries[v].data = new TextEncoder().encode(pick(rng, ['0\n', '99\n', '', 'x', '-1\n', '3\n'])); }
    else entries.length = 0;
    return { bytes: writeZip(entries, methods), what: `zip entries: ${op} ${e?.name ?? ''}` };
  }
  if (kind === 'deflate') {
    // An entry DEFLATE-compressed (valid, or its stream or declared size broken), or a bomb.
    const i = rng() < 0.5 ? pkl : randInt(rng, 0, entries.length);
    const e = entries[i];
    const op = weighted(rng, [[2, 'valid'], [2, 'stream'], [2, 'sizeLie'], [3, 'bomb']] as const);
    if (op === 'bomb') {
      const n = pick(rng, [64 << 20, 512 << 20, 1 << 30, 0xffffffff - (64 << 20) + 1]);
      const bomb = zeroBomb(n);
      entries[i] = { ...e, method: 8, compressed: bomb.compressed, uncompressedSize: n, crc: bomb.crc };
      return { bytes: writeZip(entries), what: `zip deflate bomb: ${e.name} = ${n} zero bytes in ${bomb.compressed.length}` };
    }
    let compressed: Uint8Array = deflateRawSync(e.data);
    let uncompressedSize = e.data.length;
    if (op === 'stream') compressed = mutateBytes(rng, compressed).bytes;
    if (op === 'sizeLie') uncompressedSize = Number(interestingUnsigned(rng, 4, e.data.length, seed.length));
    entries[i] = { ...e, method: 8, compressed, uncompressedSize };
    return { bytes: writeZip(entries), what: `zip deflate ${op}: ${e.name}${op === 'sizeLie' ? ` declared ${uncompressedSize}` : ''}` };
  }
  if (kind === 'headers') {
    const f = pick(rng, parsed.fields);
    const out = Uint8Array.from(seed);
    const v = interestingUnsigned(rng, f.width, 0, seed.length);
    for (let b = 0; b < f.width; b++) out[f.at + b] = Number((v >> BigInt(8 * b)) & 0xffn);
    return { bytes: out, what: `zip header ${f.label}=${v}` };
  }
  const m = mutateBytes(rng, seed);
  return { bytes: m.bytes, what: `zip raw: ${m.what}` };
}

const bombs = new Map<number, { compressed: Uint8Array; crc: number }>();

/**
 * A raw DEFLATE stream of `n` zero bytes (n a multiple of 64 MiB, or that less 64 MiB plus one
 * block), built from one full-flushed 64 MiB block repeated, so it costs kilobytes to make.
 */
function zeroBomb(n: number): { compressed: Uint8Array; crc: number } {
  const hit = bombs.get(n);
  if (hit) return hit;
  const chunk = new Uint8Array(64 << 20);
  const block = deflateRawSync(chunk, { finishFlush: constants.Z_FULL_FLUSH });
  const count = Math.ceil(n / chunk.length);
  const tail = n - (count - 1) * chunk.length;
  const last = deflateRawSync(chunk.subarray(0, tail));
  let crc = 0;
  for (let i = 0; i < count - 1; i++) crc = crc32(chunk, crc);
  crc = crc32(chunk.subarray(0, tail), crc) >>> 0;
  const out = { compressed: concatAll([...Array(count - 1).fill(block) as Uint8Array[], last]), crc };
  bombs.set(n, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// pickle

/** One opcode of a pickle: where it is, how long its argument is, and what kind the argument is. */
export interface PickleOp { at: number; op: number; end: number; arg: 'none' | 'int' | 'len' | 'line' | 'float' }

const argless = new Set([...'}])(.012tRbsuaeNdlQ'].map((c) => c.charCodeAt(0)).concat([0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x93, 0x94]));
const intArgs: Record<number, number> = { 0x4b: 1, 0x4d: 2, 0x4a: 4, 0x71: 1, 0x72: 4, 0x68: 1, 0x6a: 4, 0x80: 1, 0x95: 8 };
const lenArgs: Record<number, number> = { 0x58: 4, 0x54: 4, 0x42: 4, 0x55: 1, 0x43: 1, 0x8a: 1, 0x8b: 4, 0x8c: 1, 0x8d: 8, 0x8e: 8 };
const lineArgs = new Set([...'IFLSVpgPc'].map((c) => c.charCodeAt(0)));

/** Splits a pickle into opcodes, stopping at STOP or at the first byte it does not know. */
export function scanPickle(bytes: Uint8Array, start = 0): PickleOp[] {
  const ops: PickleOp[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = start; p < bytes.length;) {
    const op = bytes[p];
    let end: number;
    let arg: PickleOp['arg'] = 'none';
    if (argless.has(op)) end = p + 1;
    else if (op in intArgs) { end = p + 1 + intArgs[op]; arg = 'int'; }
    else if (op === 0x47) { end = p + 9; arg = 'float'; }
    else if (op in lenArgs) {
      const w = lenArgs[op];
      if (p + 1 + w > bytes.length) break;
      const n = w === 1 ? bytes[p + 1] : w === 4 ? dv.getUint32(p + 1, true) : Number(dv.getBigUint64(p + 1, true));
      end = p + 1 + w + n; arg = 'len';
    } else if (lineArgs.has(op)) {
      let q = bytes.indexOf(0x0a, p + 1);
      if (op === 0x63 && q >= 0) q = bytes.indexOf(0x0a, q + 1);
      if (q < 0) break;
      end = q + 1; arg = 'line';
    } else break;
    if (end > bytes.length) break;
    ops.push({ at: p, op, end, arg });
    p = end;
    if (op === 0x2e) break;
  }
  return ops;
}

// The building blocks of pickles written here (protocol 2).
const enc = new TextEncoder();
export const P = {
  op: (c: string | number): Uint8Array => new Uint8Array([typeof c === 'string' ? c.charCodeAt(0) : c]),
  str(s: string): Uint8Array {
    const b = enc.encode(s);
    const out = new Uint8Array(5 + b.length);
    out[0] = 0x58; new DataView(out.buffer).setUint32(1, b.length, true); out.set(b, 5);
    return out;
  },
  int(n: number | bigint): Uint8Array {
    const v = BigInt(n);
    if (v >= 0n && v < 256n) return new Uint8Array([0x4b, Number(v)]);
    if (v >= 0n && v < 65536n) return new Uint8Array([0x4d, Number(v & 0xffn), Number(v >> 8n)]);
    if (v >= -(1n << 31n) && v < 1n << 31n) { const o = new Uint8Array(5); o[0] = 0x4a; new DataView(o.buffer).setInt32(1, Number(v), true); return o; }
    const bytes: number[] = [];
    let x = v;
    do { bytes.push(Number(x & 0xffn)); x >>= 8n; } while (!((x === 0n && (bytes[bytes.length - 1] & 0x80) === 0) || (x === -1n && (bytes[bytes.length - 1] & 0x80) !== 0)));
    return new Uint8Array([0x8a, bytes.length, ...bytes]);
  },
  float(x: number): Uint8Array { const o = new Uint8Array(9); o[0] = 0x47; new DataView(o.buffer).setFloat64(1, x, false); return o; },
  global: (module: string, name: string): Uint8Array => enc.encode(`c${module}\n${name}\n`),
  tuple: (...items: Uint8Array[]): Uint8Array => concatAll([P.op('('), ...items, P.op('t')]),
};

const interestingStrings = ['', '0', '99999', '../0', '/etc/passwd', 'cpu', 'cuda:0', 'meta', 'storage', 'module.', 'state_dict',
  'model', 'FloatStorage', 'a'.repeat(70000), 'data/0', '\u0000', 'roi_heads.box_predictor.cls_score.weight'];
const interestingGlobals: [string, string][] = [
  ['torch._utils', '_rebuild_tensor'], ['torch._utils', '_rebuild_tensor_v2'], ['torch._utils', '_rebuild_parameter'],
  ['torch._utils', '_rebuild_parameter_with_state'], ['torch', 'DoubleStorage'], ['torch', 'HalfStorage'], ['torch', 'BFloat16Storage'],
  ['torch', 'BoolStorage'], ['torch', 'LongStorage'], ['torch', 'ByteStorage'], ['torch', 'UntypedStorage'], ['torch', 'ComplexFloatStorage'],
  ['torch.cuda', 'FloatStorage'], ['torch', 'Size'], ['torch', 'float16'], ['argparse', 'Namespace'], ['collections', 'OrderedDict'],
  ['builtins', 'set'], ['__builtin__', 'set'], ['os', 'system'], ['builtins', 'getattr'], ['torch', 'Tensor'], ['numpy.core.multiarray', '_reconstruct'],
];

/** Replacement opcodes for an integer (shapes, strides, offsets, numel, memo indices). */
function intReplacement(rng: Rng): Uint8Array {
  return weighted<() => Uint8Array>(rng, [
    [4, () => P.int(pick(rng, [0n, 1n, -1n, 2n ** 31n - 1n, -(2n ** 31n), 2n ** 32n, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n, 2n ** 100n, 1000000n, 65536n * 65536n]))],
    [1, () => P.float(pick(rng, [NaN, Infinity, -Infinity, 1.5, -0, 1e300]))],
    [1, () => pick(rng, [P.op('N'), P.op(0x88), P.op(0x89), P.str('1'), P.op(')'), P.op(']'), P.op('}')])],
  ])();
}

/** `n` nested containers: deep enough to overflow a recursive walker. */
function deepNesting(rng: Rng): Uint8Array {
  const n = pick(rng, [1000, 100_000, 1_000_000]);
  return rng() < 0.5
    ? concatAll([new Uint8Array(n).fill(0x5d), new Uint8Array(n - 1).fill(0x61)]) // ] x n, a x n-1: [[[...]]]
    : concatAll([new Uint8Array(n).fill(0x28), P.op(')'), new Uint8Array(n).fill(0x74)]); // MARK x n, ), TUPLE x n
}

/** A container that holds itself (through the memo): a walker without a visited set never ends. */
function selfReference(rng: Rng): Uint8Array {
  const memo = new Uint8Array([0x72, 0x0f, 0x27, 0, 0]); // LONG_BINPUT 9999
  const get = new Uint8Array([0x6a, 0x0f, 0x27, 0, 0]);
  return rng() < 0.5
    ? concatAll([P.op(']'), memo, get, P.op('a')])
    : concatAll([P.op('}'), memo, P.str('self'), get, P.op('s')]);
}

/**
 * Opcode-aware mutations: integer arguments and lengths overwritten, integers replaced by other
 * encodings (LONG1 past 2^53, floats, None), strings and globals swapped for torch's other names,
 * opcodes deleted, duplicated, moved or replaced, deep nesting and self-references inserted.
 */
export function mutatePickle(rng: Rng, bytes: Uint8Array): Mutated {
  const ops = scanPickle(bytes);
  if (ops.length < 4) return mutateBytes(rng, bytes);
  const body = ops.slice(1, -1);
  const splice = (at: number, end: number, insert: Uint8Array): Uint8Array => concatAll([bytes.subarray(0, at), insert, bytes.subarray(end)]);
  const kind = weighted(rng, [[3, 'intArg'], [1, 'lenArg'], [4, 'replaceInt'], [3, 'string'], [2, 'global'], [2, 'opcode'], [2, 'delete'],
    [1, 'duplicate'], [1, 'move'], [1, 'deep'], [1, 'selfRef'], [1, 'wrap'], [1, 'bytes']] as const);
  const ofArg = (arg: PickleOp['arg'], filter: (o: PickleOp) => boolean = () => true) => body.filter((o) => o.arg === arg && filter(o));
  if (kind === 'intArg' || kind === 'lenArg') {
    const cands = ofArg(kind === 'intArg' ? 'int' : 'len');
    if (!cands.length) return mutateBytes(rng, bytes);
    const o = pick(rng, cands);
    const width = kind === 'intArg' ? intArgs[o.op] : lenArgs[o.op];
    const out = Uint8Array.from(bytes);
    const v = interestingUnsigned(rng, width, 0, bytes.length);
    for (let b = 0; b < width; b++) out[o.at + 1 + b] = Number((v >> BigInt(8 * b)) & 0xffn);
    return { bytes: out, what: `${kind} op 0x${o.op.toString(16)}@${o.at}=${v}` };
  }
  if (kind === 'replaceInt') {
    const cands = ofArg('int', (o) => o.op === 0x4b || o.op === 0x4d || o.op === 0x4a);
    if (!cands.length) return mutateBytes(rng, bytes);
    const o = pick(rng, cands);
    const rep = intReplacement(rng);
    return { bytes: splice(o.at, o.end, rep), what: `replaceInt@${o.at} -> ${[...rep.subarray(0, 10)].map((b) => b.toString(16)).join(' ')}` };
  }
  if (kind === 'string') {
    const cands = ofArg('len', (o) => o.op === 0x58);
    if (!cands.length) return mutateBytes(rng, bytes);
    const o = pick(rng, cands);
    const old = new TextDecoder().decode(bytes.subarray(o.at + 5, o.end));
    const s = weighted<() => string>(rng, [[3, () => pick(rng, interestingStrings)], [1, () => `module.${old}`], [1, () => old.slice(0, -1)], [1, () => `${old}${old}`]])();
    return { bytes: splice(o.at, o.end, P.str(s)), what: `string@${o.at} ${JSON.stringify(old.slice(0, 30))} -> ${JSON.stringify(s.slice(0, 30))}` };
  }
  if (kind === 'global') {
    const cands = ofArg('line', (o) => o.op === 0x63);
    if (!cands.length) return mutateBytes(rng, bytes);
    const o = pick(rng, cands);
    const [m, n] = pick(rng, interestingGlobals);
    return { bytes: splice(o.at, o.end, P.global(m, n)), what: `global@${o.at} -> ${m}.${n}` };
  }
  if (kind === 'opcode') {
    const o = pick(rng, body);
    const rep = pick(rng, [...argless]);
    const out = o.arg === 'none' ? Uint8Array.from(bytes) : splice(o.at, o.end, new Uint8Array([rep]));
    out[o.at] = rep;
    return { bytes: out, what: `opcode@${o.at} 0x${o.op.toString(16)} -> 0x${rep.toString(16)}` };
  }
  if (kind === 'delete' || kind === 'duplicate') {
    const o = pick(rng, body);
    const n = pick(rng, [1, 1, 2, 5]);
    const last = body[Math.min(body.length - 1, body.indexOf(o) + n - 1)];
    const seg = bytes.subarray(o.at, last.end);
    return { bytes: kind === 'delete' ? splice(o.at, last.end, new Uint8Array()) : splice(o.at, o.at, seg), what: `${kind} ops@${o.at}x${n}` };
  }
  if (kind === 'move') {
    const o = pick(rng, body);
    const seg = bytes.subarray(o.at, o.end);
    const without = concatAll([bytes.subarray(0, o.at), bytes.subarray(o.end)]);
    const to = pick(rng, scanPickle(without).slice(1, -1)).at;
    return { bytes: concatAll([without.subarray(0, to), seg, without.subarray(to)]), what: `move op@${o.at} -> ${to}` };
  }
  // Insertions go just before a SETITEMS / SETITEM, i.e. among a dict's key-value pairs.
  const setters = body.filter((o) => o.op === 0x75 || o.op === 0x73);
  const at = setters.length ? pick(rng, setters).at : body[body.length - 1].end;
  if (kind === 'deep') return { bytes: splice(at, at, concatAll([P.str('deep'), deepNesting(rng)])), what: `deep nesting@${at}` };
  if (kind === 'selfRef') return { bytes: splice(at, at, concatAll([P.str('cycle'), selfReference(rng)])), what: `self-reference@${at}` };
  if (kind === 'wrap') {
    // {'state_dict' | 'model' | 'module': <original>} or a list around it.
    const key = pick(rng, ['state_dict', 'model', 'model_state_dict', 'module', 'weights']);
    const inner = bytes.subarray(ops[0].end, ops[ops.length - 1].at);
    const wrapped = rng() < 0.8 ? concatAll([P.op('}'), P.str(key), inner, P.op('s')]) : concatAll([P.op(']'), inner, P.op('a')]);
    return { bytes: concatAll([bytes.subarray(0, ops[0].end), wrapped, P.op('.')]), what: `wrap in ${key}` };
  }
  const m = mutateBytes(rng, bytes);
  return { bytes: m.bytes, what: `bytes ${m.what}` };
}

// ---------------------------------------------------------------------------------------------
// legacy torch.save and safetensors, made from a state dict

/** A tensor of a seed state dict (what loadCheckpoint returns). */
export interface SeedTensor { dtype: 'float32' | 'int64'; shape: readonly number[]; data: ArrayBufferView }

function bytesOf(a: ArrayBufferView): Uint8Array { return new Uint8Array(a.buffer, a.byteOffset, a.byteLength); }

function contiguousStride(shape: readonly number[]): number[] {
  return shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
}

/** A legacy file and where its five pickles and the storages start. */
export interface LegacySeed { bytes: Uint8Array; pickles: [number, number][]; storagesAt: number }

/**
 * The legacy (`_use_new_zipfile_serialization=False`) format: magic number, protocol version,
 * sys info, the OrderedDict of `_rebuild_tensor_v2` calls, the storage keys, then per storage an
 * int64 element count and its bytes.
 */
export function writeLegacy(sd: ReadonlyMap<string, SeedTensor>): LegacySeed {
  const proto = new Uint8Array([0x80, 2]);
  const stop = P.op('.');
  const magic = concatAll([proto, P.int(0x1950a86a20f9469cfc6cn), stop]);
  const version = concatAll([proto, P.int(1001), stop]);
  const sysInfo = concatAll([proto, P.op('}'), P.op('('), P.str('protocol_version'), P.int(1001), P.str('little_endian'), P.op(0x88),
    P.str('type_sizes'), P.op('}'), P.op('('), P.str('short'), P.int(2), P.str('int'), P.int(4), P.str('long'), P.int(4), P.op('u'), P.op('u'), stop]);
  const ordered = concatAll([P.global('collections', 'OrderedDict'), P.op(')'), P.op('R')]);
  const items: Uint8Array[] = [];
  const keys: string[] = [];
  for (const [name, t] of sd) {
    const key = String(keys.length);
    keys.push(key);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const storage = P.tuple(P.str('storage'), P.global('torch', t.dtype === 'float32' ? 'FloatStorage' : 'LongStorage'), P.str(key), P.str('cpu'), P.int(numel), P.op('N'));
    items.push(P.str(name), P.global('torch._utils', '_rebuild_tensor_v2'),
      P.tuple(storage, P.op('Q'), P.int(0), P.tuple(...t.shape.map((d) => P.int(d))), P.tuple(...contiguousStride(t.shape).map((d) => P.int(d))), P.op(0x89), ordered),
      P.op('R'));
  }
  const object = concatAll([proto, ordered, P.op('('), ...items, P.op('u'), stop]);
  const keyList = concatAll([proto, P.op(']'), P.op('('), ...keys.map((k) => P.str(k)), P.op('e'), stop]);
  const pickles: [number, number][] = [];
  let at = 0;
  for (const p of [magic, version, sysInfo, object, keyList]) { pickles.push([at, at + p.length]); at += p.length; }
  const storages: Uint8Array[] = [];
  for (const t of sd.values()) {
    const head = new Uint8Array(8);
    new DataView(head.buffer).setBigInt64(0, BigInt(t.shape.reduce((a, b) => a * b, 1)), true);
    storages.push(head, bytesOf(t.data));
  }
  return { bytes: concatAll([magic, version, sysInfo, object, keyList, ...storages]), pickles, storagesAt: at };
}

/** Mutates a legacy file: mostly inside one of its pickles (the state dict most), else raw bytes. */
export function mutateLegacy(rng: Rng, seed: LegacySeed): Mutated {
  const kind = weighted(rng, [[8, 'pickle'], [2, 'storageCount'], [2, 'raw'], [1, 'truncate']] as const);
  const b = seed.bytes;
  if (kind === 'pickle') {
    const which = weighted(rng, [[1, 0], [1, 1], [1, 2], [8, 3], [2, 4]] as const);
    const [lo, hi] = seed.pickles[which];
    const m = rng() < 0.75 ? mutatePickle(rng, b.subarray(lo, hi)) : mutateBytes(rng, b.subarray(lo, hi));
    return { bytes: concatAll([b.subarray(0, lo), m.bytes, b.subarray(hi)]), what: `legacy pickle ${which}: ${m.what}` };
  }
  if (kind === 'storageCount') {
    // The int64 element count before the first few storages.
    const out = Uint8Array.from(b);
    const v = interestingUnsigned(rng, 8, 0, b.length);
    new DataView(out.buffer).setBigUint64(seed.storagesAt, v, true);
    return { bytes: out, what: `legacy storage count=${v}` };
  }
  if (kind === 'truncate') {
    const p = randInt(rng, 0, b.length);
    return { bytes: b.slice(0, p), what: `legacy truncate@${p}` };
  }
  const m = mutateBytes(rng, b, { lo: 0, hi: rng() < 0.8 ? seed.storagesAt : b.length });
  return { bytes: m.bytes, what: `legacy raw: ${m.what}` };
}

/** A .safetensors file of the state dict (F32 / I64, header padded to 8 bytes as the crate does). */
export function writeSafetensors(sd: ReadonlyMap<string, SeedTensor>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, t] of sd) {
    const n = t.data.byteLength;
    header[name] = { dtype: t.dtype === 'float32' ? 'F32' : 'I64', shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  return safetensorsWithHeader(JSON.stringify(header), [...sd.values()].map((t) => bytesOf(t.data)));
}

function safetensorsWithHeader(headerText: string, data: readonly Uint8Array[]): Uint8Array {
  let text = enc.encode(headerText);
  const padded = new Uint8Array(Math.ceil(text.length / 8) * 8).fill(0x20);
  padded.set(text);
  text = padded;
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(text.length), true);
  return concatAll([len, text, ...data]);
}

/** Mutates a safetensors file: its JSON header structurally (length fixed up), its length field, raw bytes. */
export function mutateSafetensors(rng: Rng, seed: Uint8Array): Mutated {
  const n = Number(new DataView(seed.buffer, seed.byteOffset, 8).getBigUint64(0, true));
  const kind = weighted(rng, [[6, 'json'], [6, 'semantic'], [2, 'length'], [2, 'raw']] as const);
  if (kind === 'semantic') {
    const header = JSON.parse(new TextDecoder().decode(seed.subarray(8, 8 + n))) as Record<string, SafetensorsEntry>;
    const what = semanticEdit(rng, header);
    return { bytes: safetensorsWithHeader(JSON.stringify(header), [seed.subarray(8 + n)]), what: `safetensors ${what}` };
  }
  if (kind === 'json') {
    const text = new TextDecoder().decode(seed.subarray(8, 8 + n));
    const m = mutateJson(rng, text, [
      { path: ['backbone.body.conv1.weight', 'dtype'], sample: 'F32' }, { path: ['backbone.body.conv1.weight', 'shape'], sample: [64, 3, 7, 7] },
      { path: ['backbone.body.conv1.weight', 'data_offsets'], sample: [0, 37632] }, { path: ['__metadata__', 'format'], sample: 'pt' },
    ]);
    return { bytes: safetensorsWithHeader(new TextDecoder().decode(m.bytes), [seed.subarray(8 + n)]), what: `safetensors header ${m.what}` };
  }
  if (kind === 'length') {
    const out = Uint8Array.from(seed);
    const v = interestingUnsigned(rng, 8, n, seed.length);
    new DataView(out.buffer).setBigUint64(0, v, true);
    return { bytes: out, what: `safetensors length=${v}` };
  }
  const m = mutateBytes(rng, seed, { lo: 0, hi: rng() < 0.8 ? 8 + n : seed.length });
  return { bytes: m.bytes, what: `safetensors raw: ${m.what}` };
}

interface SafetensorsEntry { dtype: string; shape: number[]; data_offsets: [number, number] }

/** A different shape with the same number of elements, so the loader accepts it and the converter sees it. */
function reshaped(rng: Rng, shape: readonly number[]): number[] {
  const numel = shape.reduce((a, b) => a * b, 1);
  const s = [...shape];
  return weighted<() => number[]>(rng, [
    [2, () => [numel]],
    [1, () => [1, numel]],
    [2, () => [...s].reverse()],
    [1, () => [...s, 1]],
    [1, () => [1, ...s]],
    [1, () => s.length > 1 ? [s[0] * s[1], ...s.slice(2)] : [numel, 1]],
    [2, () => { const i = randInt(rng, 0, s.length); const j = randInt(rng, 0, s.length); if (i !== j && s[i] % 2 === 0) { s[i] /= 2; s[j] *= 2; } else s.push(1); return s; }],
    [1, () => s.length > 1 ? [s[1], s[0], ...s.slice(2)] : [1, ...s]],
  ])();
}

/**
 * Edits that keep a safetensors header self-consistent (sizes match the data), so loading
 * succeeds and the converter receives tensors of the wrong shape, dtype or name.
 */
function semanticEdit(rng: Rng, header: Record<string, SafetensorsEntry>): string {
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = rng() < 0.3 ? pick(rng, names.filter((k) => /cls_score|bbox_pred|mask_fcn_logits|conv1\.weight|fpn|rpn/.test(k))) : pick(rng, names);
  const e = header[name];
  const op = weighted(rng, [[5, 'reshape'], [2, 'dtype'], [2, 'drop'], [1, 'swap'], [1, 'empty'], [1, 'rename']] as const);
  if (op === 'reshape') { const old = e.shape; e.shape = reshaped(rng, e.shape); return `reshape ${name} [${old}] -> [${e.shape}]`; }
  if (op === 'dtype') {
    const how = pick(rng, ['I32', 'U8', 'F16', 'BF16', 'I64', 'BOOL'] as const);
    if (how === 'I32') e.dtype = e.dtype === 'F32' ? 'I32' : 'F64';
    else if (how === 'U8' || how === 'BOOL') { e.dtype = how; e.shape = [...e.shape, e.dtype === 'I64' ? 8 : 4]; }
    else if (how === 'F16' || how === 'BF16') { e.dtype = how; e.shape = [...e.shape, 2]; }
    else if (e.dtype === 'F32' && e.shape.length && e.shape[e.shape.length - 1] % 2 === 0) { e.dtype = 'I64'; e.shape = [...e.shape.slice(0, -1), e.shape[e.shape.length - 1] / 2]; }
    return `dtype ${name} -> ${e.dtype} [${e.shape}]`;
  }
  if (op === 'drop') { delete header[name]; return `drop ${name}`; }
  if (op === 'swap') { const other = pick(rng, names); [header[name], header[other]] = [header[other], header[name]]; return `swap ${name} <-> ${other}`; }
  if (op === 'empty') { e.shape = [0, ...e.shape.slice(1)]; e.data_offsets = [e.data_offsets[0], e.data_offsets[0]]; return `empty ${name} [${e.shape}]`; }
  const renamed = pick(rng, [`module.${name}`, name.replace('backbone.', ''), `${name}.extra`, name.replace(/\d+/, '7')]);
  delete header[name];
  header[renamed] = e;
  return `rename ${name} -> ${renamed}`;
}
