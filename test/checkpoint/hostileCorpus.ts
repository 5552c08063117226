/**
 * The hostile checkpoints of the memory and robustness tests, written at test time into a folder
 * (nothing binary is committed): tiny files that ask for gigabytes (stride-0 and overlapping
 * views, zip bombs, aliased zip records, overlapping safetensors ranges, object floods), odd
 * pickles (deep nesting, self-reference, bigints where numbers belong, 2^32-element tensors),
 * zips whose sizes and offsets lie, and legitimate files cut short at every byte. Each case says
 * which part of the error message proves the right refusal.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  deflateBomb, type FakeTensor, floats, PickleWriter, safetensors, stateDictPickle, torchLegacy, torchZip,
  torchZipRecords, writeStoragePid, writeZip,
} from './hostileWriters.js';

/** One hostile file and what its refusal must say. */
export interface HostileCase {
  name: string;
  /** The group it runs in: one child process per group. */
  group: string;
  file: string;
  /**
   * A fragment the CheckpointError's message must contain; null: the file must load. For
   * `everyPrefix` cases, every prefix must fail with a CheckpointError naming it.
   */
  expect: string | null;
  /** Passed to loadCheckpoint. */
  options?: { maxMaterializedBytes?: number };
  /** Load every prefix bytes[0:cut] of the file (as Buffers named `<file>[:cut]`) instead. */
  everyPrefix?: boolean;
  /** Load this many copies with 1-3 random bytes changed anywhere: each loads or is a CheckpointError. */
  mutants?: number;
}

const MiB = 1 << 20;
const BUDGET = 'memory budget';

/** A one-storage state dict in both torch formats. */
function bothFormats(tensors: FakeTensor[], storages: Record<string, Uint8Array>): { zip: Uint8Array; legacy: Uint8Array } {
  const legacyStorages = Object.entries(storages).map(([k, b]): [string, number, Uint8Array] => [k, b.length / 4, b]);
  return { zip: torchZip(tensors, storages), legacy: torchLegacy(stateDictPickle(tensors, true), legacyStorages) };
}

/** A zip state dict whose data.pkl is the given object pickle body (framed with PROTO/STOP). */
function zipWithPickle(body: (p: PickleWriter) => void, storages: Record<string, Uint8Array> = {}): Uint8Array {
  const p = new PickleWriter().proto();
  body(p);
  return writeZip(torchZipRecords(p.stop().bytes(), storages));
}

/** A legacy file whose object pickle is the given body (no storages). */
function legacyWithPickle(body: (p: PickleWriter) => void): Uint8Array {
  const p = new PickleWriter().proto();
  body(p);
  return torchLegacy(p.stop().bytes(), []);
}

/** An OrderedDict holding `key` -> a one-float tensor, with the key written by `writeKey`. */
function dictWithKey(writeKey: (p: PickleWriter) => void): (p: PickleWriter) => void {
  return (p) => {
    p.global('collections', 'OrderedDict').emptyTuple().reduce();
    writeKey(p);
    writeTensorOf(p, { key: '', storageKey: '0', numel: 1, size: [1], stride: [1] });
    p.setitem();
  };
}

function writeTensorOf(p: PickleWriter, t: FakeTensor): void {
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  writeStoragePid(p, t, false);
  p.int(t.offset ?? 0).ints(t.size).ints(t.stride).bool(false);
  p.global('collections', 'OrderedDict').emptyTuple().reduce();
  p.tuple().reduce();
}

/** Writes every hostile file into `dir` and returns the cases. */
export function writeHostileCorpus(dir: string): HostileCase[] {
  mkdirSync(dir, { recursive: true });
  const cases: HostileCase[] = [];
  const add = (name: string, group: string, bytes: Uint8Array, expect: string | null, extra: Partial<HostileCase> = {}): void => {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    cases.push({ name, group, file, expect, ...extra });
  };
  const one = floats(1);

  // --- stride-0 and overlapping views: a few bytes of storage viewed as gigabytes ----------------
  const stride0 = bothFormats([{ key: 'w', storageKey: '0', numel: 1, size: [200_000_000], stride: [0] }], { 0: one });
  add('stride0-2e8.pth', 'views', stride0.zip, `tensor 'w'`);
  add('stride0-2e8-legacy.pth', 'views', stride0.legacy, `tensor 'w'`);
  const ten = Array.from({ length: 10 }, (_, i): FakeTensor => ({ key: `w${i}`, storageKey: '0', numel: 1, size: [200_000_000], stride: [0] }));
  const stride0x10 = bothFormats(ten, { 0: one });
  add('stride0-2e8-x10.pth', 'views', stride0x10.zip, BUDGET);
  add('stride0-2e8-x10-legacy.pth', 'views', stride0x10.legacy, BUDGET);
  // 40000 floats viewed as a 20000 x 20000 sliding window (stride [1, 1]): 1.6 GB from 160 KB.
  const overlap = bothFormats([{ key: 'unfolded', storageKey: '0', numel: 40_000, size: [20_000, 20_000], stride: [1, 1] }], { 0: floats(40_000) });
  add('overlapping-stride.pth', 'views', overlap.zip, `tensor 'unfolded'`);
  add('overlapping-stride-legacy.pth', 'views', overlap.legacy, `tensor 'unfolded'`);
  // Many tensors, each a modest stride-0 view: each under the budget, together over it.
  const many = Array.from({ length: 40 }, (_, i): FakeTensor => ({ key: `m${i}`, storageKey: '0', numel: 1, size: [4_000_000], stride: [0] }));
  add('stride0-many-16MB.pth', 'views', bothFormats(many, { 0: one }).zip, BUDGET);
  // 2^32 elements: past a typed array's length, in both formats and as [65536, 65536].
  const huge = bothFormats([{ key: 'big', storageKey: '0', numel: 1, size: [2 ** 32], stride: [0] }], { 0: one });
  add('stride0-2p32.pth', 'views', huge.zip, 'more than a typed array holds');
  add('stride0-2p32-legacy.pth', 'views', huge.legacy, 'more than a typed array holds');
  add('stride0-65536sq-legacy.pth', 'views', bothFormats([{ key: 'sq', storageKey: '0', numel: 1, size: [65536, 65536], stride: [0, 0] }], { 0: one }).legacy, 'more than a typed array holds');
  add('stride0-2p32-minus1.pth', 'views', bothFormats([{ key: 'big', storageKey: '0', numel: 1, size: [2 ** 32 - 1], stride: [0] }], { 0: one }).zip, BUDGET);
  // float16 storage expanded (a conversion, not a view): charged at the float32 size.
  add('stride0-half.pth', 'views', torchZip([{ key: 'h', storageKey: '0', numel: 1, size: [100_000_000], stride: [0], storageType: 'HalfStorage' }], { 0: new Uint8Array(2) }), `tensor 'h'`);
  // A legitimate expand within budget loads; the same file with a lower budget is refused by the option's name.
  const small = torchZip([{ key: 'e', storageKey: '0', numel: 3, size: [3, 1000], stride: [1, 0] }], { 0: floats(3) });
  add('stride0-small-ok.pth', 'views', small, null);
  add('stride0-small-lowered.pth', 'views', small, "tensor 'e': [3, 1000] float32 gathered from a float32 view with stride [1, 0] (stride 0: expanded) needs 12000 bytes: over the memory budget of 5000 bytes", { options: { maxMaterializedBytes: 5000 } });
  // 300 MB expanded: refused by default, loaded when the option allows it.
  const expand300 = torchZip([{ key: 'x', storageKey: '0', numel: 1, size: [75_000_000], stride: [0] }], { 0: one });
  add('stride0-300MB.pth', 'option', expand300, BUDGET);
  add('stride0-300MB-allowed.pth', 'option', expand300, null, { options: { maxMaterializedBytes: 400 * MiB } });

  // --- zip bombs and lying zip sizes ---------------------------------------------------------------
  const bomb = deflateBomb(4096); // 4 GiB of zeros in ~4 MB
  const bombRecords = (declared: number, name = 'archive/data.pkl') => torchZipRecords(stateDictPickle([], false), {})
    .map((r) => (r.name === name ? { ...r, stored: bomb, method: 8 as const, declaredUncompressed: declared, plain: new Uint8Array(0) } : r));
  add('bomb-declared-4GiB.pth', 'zip', writeZip(bombRecords(0xfffffff0)), `'archive/data.pkl'`);
  add('bomb-declared-1KB.pth', 'zip', writeZip(bombRecords(1000)), 'inflates to more than its declared 1000 bytes');
  add('bomb-declared-200MB.pth', 'zip', writeZip(bombRecords(200 * MiB)), `inflates to more than its declared ${200 * MiB} bytes`);
  const storageBomb = torchZipRecords(stateDictPickle([{ key: 'w', storageKey: '0', numel: 1, size: [1], stride: [1] }], false), { 0: one })
    .map((r) => (r.name === 'archive/data/0' ? { ...r, stored: bomb, method: 8 as const, declaredUncompressed: 0xfffffff0 } : r));
  add('bomb-storage-4GiB.pth', 'zip', writeZip(storageBomb), `'archive/data/0'`);
  const records = (): ReturnType<typeof torchZipRecords> => torchZipRecords(stateDictPickle([{ key: 'w', storageKey: '0', numel: 4, size: [4], stride: [1] }], false), { 0: floats(4) });
  add('zip-stored-sizes-differ.pth', 'zip', writeZip(records().map((r) => (r.name === 'archive/data/0' ? { ...r, declaredUncompressed: 1 << 30 } : r))), 'mismatched sizes');
  add('zip-size-past-eof.pth', 'zip', writeZip(records().map((r) => (r.name === 'archive/data/0' ? { ...r, declaredCompressed: 2 ** 31, declaredUncompressed: 2 ** 31 } : r))), 'archive/data/0');
  add('zip-record-into-next.pth', 'zip', writeZip(records().map((r) => (r.name === 'archive/data/0' ? { ...r, declaredCompressed: 200, declaredUncompressed: 200 } : r))), 'run into the next record');
  // A central offset that lies (into data.pkl's record) makes two records overlap.
  add('zip-offset-lies.pth', 'zip', writeZip(records().map((r) => (r.name === 'archive/data/0' ? { ...r, declaredOffset: 7 } : r))), "'archive/data.pkl': its");
  const inflatesShort = deflateBomb(1);
  add('zip-deflate-shorter.pth', 'zip', writeZip(records().map((r) => (r.name === 'archive/data/0' ? { ...r, stored: inflatesShort, method: 8 as const, declaredUncompressed: 2 * MiB } : r))), 'inflates to 1048576 bytes, expected 2097152');
  // 100 directory entries all at one 20 MB record (the storages of 100 tensors).
  const big = new Uint8Array(20 * MiB);
  const aliased = Array.from({ length: 100 }, (_, i): FakeTensor => ({ key: `t${i}`, storageKey: String(i), numel: big.length / 4, size: [big.length / 4], stride: [1] }));
  const aliasRecords = torchZipRecords(stateDictPickle(aliased, false), { 0: big })
    .map((r) => (r.name === 'archive/data/0' ? { ...r, aliases: aliased.slice(1).map((t) => `archive/data/${String(t.storageKey)}`) } : r));
  add('zip-100-entries-one-record.pth', 'zip', writeZip(aliasRecords), 'point at the same record');
  add('zip-duplicate-name.pth', 'zip', writeZip(records().map((r) => (r.name === 'archive/data/0' ? { ...r, aliases: ['archive/data/0'] } : r))), "names 'archive/data/0' twice");

  // --- safetensors: overlapping, out-of-range and huge declared shapes --------------------------
  const st = (header: Record<string, unknown> | string, data: Uint8Array) => safetensors(header, data);
  const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const stHeader: Record<string, unknown> = {};
  for (let i = 0; i < 100; i++) stHeader[`t${i}`] = f32([big.length / 4], 0, big.length);
  add('st-100-overlapping.safetensors', 'safetensors', st(stHeader, big), 'overlap');
  add('st-partial-overlap.safetensors', 'safetensors', st({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, floats(3)), `'a' [0, 8] and 'b' [4, 12] overlap`);
  add('st-out-of-range.safetensors', 'safetensors', st({ a: f32([2 ** 38], 0, 2 ** 40) }, floats(4)), 'run past');
  add('st-huge-shape.safetensors', 'safetensors', st({ a: f32([2 ** 31, 2 ** 31], 0, 4) }, floats(1)), "safetensors entry 'a': shape [2147483648, 2147483648]");
  add('st-65-dims.safetensors', 'safetensors', st({ a: f32(new Array(65).fill(1), 0, 4) }, floats(1)), 'at most 64');
  // JSON.parse copes with deep nesting; JSON.stringify of it (in a message) would overflow the stack.
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  add('st-deep-json.safetensors', 'safetensors', st(`{"a": ${deep}, "b": {"dtype": ${deep}, "shape": [1], "data_offsets": [0, 4]}}`, floats(1)), "safetensors entry 'a'");
  add('st-deep-dtype.safetensors', 'safetensors', st(`{"b": {"dtype": ${deep}, "shape": [1], "data_offsets": [0, 4]}}`, floats(1)), "safetensors entry 'b': dtype (an array) is not supported");
  // 20 MB of '{},': JSON.parse would build ~12x that in objects; refused before parsing.
  add('st-header-flood.safetensors', 'safetensors', st(`{"__metadata__": [${'{},'.repeat(7 * MiB)}{}]}`, new Uint8Array(0)), 'safetensors header of');
  add('st-half-ok.safetensors', 'safetensors', st({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: f32([1], 4, 8) }, floats(2)), null);

  // --- odd pickles: deep, self-referential, bigints, floods -------------------------------------
  const deepKey = dictWithKey((p) => { p.emptyTuple(); for (let i = 0; i < 100_000; i++) p.tuple1(); });
  add('deep-tuple-key.pth', 'pickle', zipWithPickle(deepKey, { 0: one }), 'nest more than 1000 deep');
  add('deep-tuple-key-legacy.pth', 'pickle', legacyWithPickle(deepKey), 'nest more than 1000 deep');
  add('deep-marks-legacy.pth', 'pickle', legacyWithPickle((p) => { for (let i = 0; i < 100_000; i++) p.mark(); for (let i = 0; i < 100_000; i++) p.list(); }), 'nest more than 1000 deep');
  add('deep-append-chain.pth', 'pickle', zipWithPickle((p) => { p.emptyList().put(0); for (let i = 0; i < 5000; i++) p.emptyList().put(i + 1).get(i).append().pop().get(i + 1); }), 'nest more than 1000 deep');
  const selfKey = dictWithKey((p) => { p.emptyList().put(0).get(0).append(); });
  add('self-ref-key.pth', 'pickle', zipWithPickle(selfKey, { 0: one }), 'is not a string');
  add('self-ref-dict.pth', 'pickle', zipWithPickle((p) => { p.emptyDict().put(0).str('x').get(0).setitem(); }), "its keys are [\"x\"]");
  add('self-ref-pid.pth', 'pickle', zipWithPickle((p) => { p.emptyList().put(0).get(0).append().persid(); }), 'unsupported persistent id');
  add('bigint-pid.pth', 'pickle', zipWithPickle((p) => { p.int(2n ** 70n).persid(); }), 'unsupported persistent id 1180591620717411303424');
  add('bigint-in-pid-tuple.pth', 'pickle', zipWithPickle((p) => { p.int(2n ** 70n).tuple1().persid(); }), 'unsupported persistent id');
  const lying = (t: Partial<FakeTensor>): Uint8Array => torchZip([{ key: 'w', storageKey: '0', numel: 1, size: [1], stride: [1], ...t }], { 0: one });
  add('bigint-numel.pth', 'pickle', lying({ numel: 2n ** 70n }), 'element count 1180591620717411303424 is invalid');
  add('bigint-storage-key.pth', 'pickle', lying({ storageKey: 2n ** 70n }), 'key 1180591620717411303424 is not a string');
  add('bigint-offset.pth', 'pickle', lying({ offset: 2n ** 70n }), 'storage offset 1180591620717411303424 is invalid');
  add('bigint-size.pth', 'pickle', lying({ size: [2n ** 70n], stride: [1] }), 'size and stride');
  add('bigint-size-legacy.pth', 'pickle', torchLegacy(stateDictPickle([{ key: 'w', storageKey: '0', numel: 1, size: [2n ** 64n], stride: [0] }], true), [['0', 1, one]]), 'size and stride');
  add('dict-flood.pth', 'floods', zipWithPickle((p) => { p.raw(new Uint8Array(4 * MiB).fill(0x7d)); }), 'unpickled objects');
  add('dict-flood-legacy.pth', 'floods', legacyWithPickle((p) => { p.raw(new Uint8Array(4 * MiB).fill(0x7d)); }), 'unpickled objects');
  add('none-flood.pth', 'floods', zipWithPickle((p) => { p.mark().raw(new Uint8Array(36 * MiB).fill(0x4e)).list(); }), 'unpickled objects');
  add('list-flood.pth', 'floods', zipWithPickle((p) => { p.raw(new Uint8Array(8 * MiB).fill(0x5d)); }), 'unpickled objects');
  add('ordereddict-amplified.pth', 'floods', zipWithPickle((p) => {
    p.global('collections', 'OrderedDict').put(0).pop().mark();
    for (let i = 0; i < 10_000; i++) p.int(i).none().raw(0x86); // TUPLE2: (i, None)
    p.list().put(1).pop();
    for (let i = 0; i < 100_000; i++) p.get(0).get(1).tuple1().reduce().pop();
    p.none();
  }), 'unpickled objects');
  add('torch-size-huge.pth', 'pickle', zipWithPickle((p) => {
    p.global('torch', 'Size').mark();
    p.mark(); for (let i = 0; i < 100_000; i++) p.int(1); p.list();
    p.tuple().reduce();
  }), 'at most 64 sizes');
  add('tensor-size-huge-list.pth', 'pickle', lying({ size: new Array(100_000).fill(1), stride: new Array(100_000).fill(1) }), 'size and stride');

  // --- legitimate files, cut short at every byte; and tied storages that must stay one copy -----
  const base = floats(20);
  const legit: FakeTensor[] = [
    { key: 'full', storageKey: '0', numel: 20, size: [20], stride: [1] },
    { key: 'a', storageKey: '0', numel: 20, offset: 2, size: [3], stride: [1] },
    { key: 'b', storageKey: '0', numel: 20, offset: 5, size: [3, 5], stride: [5, 1] },
    { key: 'expanded', storageKey: '1', numel: 3, size: [3, 4], stride: [1, 0] },
    { key: 't', storageKey: '0', numel: 20, size: [5, 4], stride: [1, 5] },
  ];
  const legitBoth = bothFormats(legit, { 0: base, 1: floats(3) });
  add('tied-zip.pth', 'legit', legitBoth.zip, null);
  add('tied-legacy.pth', 'legit', legitBoth.legacy, null);
  add('prefix-zip.pth', 'prefix', legitBoth.zip, '', { everyPrefix: true });
  add('prefix-legacy.pth', 'prefix', legitBoth.legacy, '', { everyPrefix: true });
  add('prefix.safetensors', 'prefix', st({ a: f32([3], 0, 12), h: { dtype: 'F16', shape: [2], data_offsets: [12, 16] }, __metadata__: { k: 'v' } }, floats(4)), '', { everyPrefix: true });
  add('mutants-zip.pth', 'prefix', legitBoth.zip, '', { mutants: 400 });
  add('mutants-legacy.pth', 'prefix', legitBoth.legacy, '', { mutants: 400 });
  add('mutants.safetensors', 'prefix', st({ a: f32([3], 0, 12), h: { dtype: 'F16', shape: [2], data_offsets: [12, 16] } }, floats(4)), '', { mutants: 400 });
  return cases;
}
