/**
 * Format-blind mutations for `npm run fuzz`: a seeded PRNG, byte-level mutations (bit flips,
 * interesting-value overwrites, truncation, chunk duplication / removal / insertion) and
 * structural mutations of JSON documents (key deletion, type changes, extreme numbers, deep
 * nesting, long strings). Each mutation returns the new bytes and a short description, which the
 * findings' notes record. Pure functions of their inputs and the PRNG: a case replays exactly.
 */

/** A PRNG: uniform in [0, 1). */
export type Rng = () => number;

/** mulberry32 seeded by a string hash (FNV-1a) of its key: one independent stream per case. */
export function rngFor(...key: (string | number)[]): Rng {
  let h = 0x811c9dc5;
  for (const ch of key.join('/')) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  let a = h;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer in [lo, hi). */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * Math.max(0, hi - lo));
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

/** Picks by weight: [[weight, value], ...]. */
export function weighted<T>(rng: Rng, items: readonly (readonly [number, T])[]): T {
  const total = items.reduce((s, [w]) => s + w, 0);
  let r = rng() * total;
  for (const [w, v] of items) { r -= w; if (r < 0) return v; }
  return items[items.length - 1][1];
}

/** Small lengths skewed towards short: most chunk operations touch a few bytes, some many. */
function chunkLength(rng: Rng, max: number): number {
  const scale = pick(rng, [4, 16, 64, 512, 8192]);
  return Math.max(1, Math.min(max, randInt(rng, 1, scale + 1)));
}

export interface Mutated {
  bytes: Uint8Array;
  /** What was done, e.g. 'bitflip@1234^0x10'. */
  what: string;
}

/** A region [lo, hi) of the input that mutations target (e.g. a file's header). */
export interface Region { lo: number; hi: number }

const interestingBytes = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x20, 0x40];

/** Unsigned values that make lengths, counts and offsets misbehave, for a field of `width` bytes. */
export function interestingUnsigned(rng: Rng, width: number, current = 0, fileLength = 0): bigint {
  const max = (1n << BigInt(8 * width)) - 1n;
  const half = 1n << BigInt(8 * width - 1);
  const cands: bigint[] = [0n, 1n, 2n, max, max - 1n, half, half - 1n, BigInt(current) + 1n, BigInt(current) - 1n,
    BigInt(current) * 2n, BigInt(fileLength), BigInt(fileLength) + 1n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x7fffn, 0x8000n,
    0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n, 0xffffffffn, BigInt(randInt(rng, 0, 1 << 30))];
  const v = pick(rng, cands);
  return ((v % (max + 1n)) + (max + 1n)) % (max + 1n);
}

function writeUnsigned(bytes: Uint8Array, at: number, width: number, value: bigint, bigEndian: boolean): void {
  for (let i = 0; i < width; i++) {
    const b = Number((value >> BigInt(8 * i)) & 0xffn);
    bytes[bigEndian ? at + width - 1 - i : at + i] = b;
  }
}

/** Overwrites a `width`-byte field with an interesting value (little- or big-endian). */
export function overwriteField(rng: Rng, bytes: Uint8Array, at: number, width: number, bigEndian: boolean, label = 'field'): Mutated {
  const out = Uint8Array.from(bytes);
  let current = 0n;
  for (let i = 0; i < width; i++) current |= BigInt(bytes[bigEndian ? at + width - 1 - i : at + i] ?? 0) << BigInt(8 * i);
  const v = interestingUnsigned(rng, width, Number(current), bytes.length);
  writeUnsigned(out, at, width, v, bigEndian);
  return { bytes: out, what: `${label}@${at}[${width}${bigEndian ? 'be' : 'le'}]=${v}` };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

type ByteMutation = (rng: Rng, bytes: Uint8Array, region: Region) => Mutated;

const bitflip: ByteMutation = (rng, bytes, { lo, hi }) => {
  const out = Uint8Array.from(bytes);
  const n = pick(rng, [1, 1, 1, 2, 4, 8]);
  const at: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = randInt(rng, lo, hi);
    const bit = 1 << randInt(rng, 0, 8);
    out[p] ^= bit;
    at.push(`${p}^0x${bit.toString(16)}`);
  }
  return { bytes: out, what: `bitflip@${at.join(',')}` };
};

const overwriteByte: ByteMutation = (rng, bytes, { lo, hi }) => {
  const out = Uint8Array.from(bytes);
  const p = randInt(rng, lo, hi);
  out[p] = pick(rng, interestingBytes);
  return { bytes: out, what: `byte@${p}=0x${out[p].toString(16)}` };
};

const overwriteInt: ByteMutation = (rng, bytes, { lo, hi }) => {
  const width = pick(rng, [2, 4, 4, 8]);
  const p = randInt(rng, lo, Math.max(lo + 1, hi - width + 1));
  if (p + width > bytes.length) return overwriteByte(rng, bytes, { lo, hi });
  return overwriteField(rng, bytes, p, width, rng() < 0.3, 'int');
};

const randomBytes: ByteMutation = (rng, bytes, { lo, hi }) => {
  const out = Uint8Array.from(bytes);
  const p = randInt(rng, lo, hi);
  const n = Math.min(chunkLength(rng, 256), out.length - p);
  for (let i = 0; i < n; i++) out[p + i] = randInt(rng, 0, 256);
  return { bytes: out, what: `random@${p}+${n}` };
};

const truncate: ByteMutation = (rng, bytes, { lo, hi }) => {
  const p = randInt(rng, lo, hi);
  return { bytes: bytes.slice(0, p), what: `truncate@${p}` };
};

const duplicateChunk: ByteMutation = (rng, bytes, { lo, hi }) => {
  const a = randInt(rng, lo, hi);
  const n = Math.min(chunkLength(rng, hi - a), bytes.length - a);
  const b = randInt(rng, lo, hi + 1);
  return { bytes: concat(bytes.subarray(0, b), bytes.subarray(a, a + n), bytes.subarray(b)), what: `dup[${a},+${n}]->${b}` };
};

const removeChunk: ByteMutation = (rng, bytes, { lo, hi }) => {
  const a = randInt(rng, lo, hi);
  const n = Math.min(chunkLength(rng, hi - a), bytes.length - a);
  return { bytes: concat(bytes.subarray(0, a), bytes.subarray(a + n)), what: `remove[${a},+${n}]` };
};

const insertChunk: ByteMutation = (rng, bytes, { lo, hi }) => {
  const b = randInt(rng, lo, hi + 1);
  const n = chunkLength(rng, 4096);
  const fill = rng() < 0.5 ? pick(rng, interestingBytes) : -1;
  const chunk = new Uint8Array(n).map(() => (fill >= 0 ? fill : randInt(rng, 0, 256)));
  return { bytes: concat(bytes.subarray(0, b), chunk, bytes.subarray(b)), what: `insert@${b}+${n}${fill >= 0 ? `x0x${fill.toString(16)}` : ''}` };
};

const swapChunks: ByteMutation = (rng, bytes, { lo, hi }) => {
  const n = chunkLength(rng, Math.max(1, Math.floor((hi - lo) / 2)));
  const a = randInt(rng, lo, Math.max(lo + 1, hi - n));
  const b = randInt(rng, lo, Math.max(lo + 1, hi - n));
  const out = Uint8Array.from(bytes);
  out.set(bytes.subarray(a, a + n), b);
  out.set(bytes.subarray(b, b + n), a);
  return { bytes: out, what: `swap[${a},${b},+${n}]` };
};

const byteMutations: readonly (readonly [number, ByteMutation])[] = [
  [4, bitflip], [3, overwriteByte], [3, overwriteInt], [1, randomBytes], [2, truncate],
  [1, duplicateChunk], [1, removeChunk], [1, insertChunk], [1, swapChunks],
];

/**
 * One to three byte mutations inside `region` (default: the whole input). Truncation and
 * length-changing mutations are applied last, so the region's offsets stay meaningful.
 */
export function mutateBytes(rng: Rng, bytes: Uint8Array, region: Region = { lo: 0, hi: bytes.length }): Mutated {
  if (bytes.length === 0) return { bytes: new Uint8Array([pick(rng, interestingBytes)]), what: 'fill-empty' };
  const lo = Math.max(0, Math.min(region.lo, bytes.length - 1));
  const hi = Math.max(lo + 1, Math.min(region.hi, bytes.length));
  const rounds = weighted(rng, [[6, 1], [2, 2], [1, 3]]);
  let cur: Mutated = { bytes, what: '' };
  const whats: string[] = [];
  for (let i = 0; i < rounds; i++) {
    const m = weighted(rng, byteMutations);
    const r = { lo: Math.min(lo, cur.bytes.length - 1), hi: Math.min(hi, cur.bytes.length) };
    if (r.hi <= r.lo) break;
    cur = m(rng, cur.bytes, r);
    whats.push(cur.what);
    if (m === truncate) break;
  }
  return { bytes: cur.bytes, what: whats.join(' ') };
}

// ---------------------------------------------------------------------------------------------
// JSON

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Values JSON.stringify cannot write (non-finite numbers, -0, integers past 2^53, nesting deep
 * enough to overflow a recursive parser): placed as marker strings, swapped for raw text after
 * stringify.
 */
const rawTokens: Record<string, () => string> = {
  inf: () => '1e400',
  negInf: () => '-1e400',
  negZero: () => '-0',
  denormal: () => '1e-400',
  unsafeInt: () => '9007199254740993',
  hugeInt: () => '123456789012345678901234567890',
  deepArray: () => '['.repeat(100_000) + ']'.repeat(100_000),
  deepObject: () => '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000),
  longString: () => `"${'A'.repeat(2_000_000)}"`,
  bigArray: () => `[${Array(200_000).fill('1').join(',')}]`,
};
const RAW = '\u0001raw:';

export function interestingJsonValue(rng: Rng, current: Json): Json {
  const n = typeof current === 'number' ? current : 1;
  const s = typeof current === 'string' ? current : 'x';
  return weighted<() => Json>(rng, [
    [3, () => pick(rng, [0, -1, 1, -0.5, 0.5, 1e-9, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 1e9, 1e15, 1e308, -1e308])],
    [2, () => pick(rng, [n * 2, n * 1000, -n, n + 1, n - 1, n + 0.5, Math.floor(n / 2)])],
    [2, () => `${RAW}${pick(rng, Object.keys(rawTokens))}`],
    [2, () => pick(rng, ['NaN', 'Infinity', '-1', '', ' ', '0x10', '1e3', 'null', 'true', '__proto__', 'constructor'])],
    [2, () => pick(rng, ['../../../../etc/passwd', '/etc/passwd', '..', '.', '', 'backbone.onnx', 'resdet.json', 'a/../../b.onnx',
      'nul\u0000.onnx', '\ud800', 'C:\\Windows\\win.ini', 'file:///etc/passwd', `${s}${s}`, s.toUpperCase(), s.slice(1)])],
    [2, () => pick<Json>(rng, [null, true, false, [], {}, [null], [[]], { a: 1 }, [1, 2, 3], [-1, -1], [0.5, 0.5, 0.5], ['0', 'x']])],
  ])();
}

interface JsonPath { parent: Json[] | { [k: string]: Json } | null; key: string | number; value: Json; path: string }

/** Every node of the document with its parent, root first. */
function nodes(root: Json): JsonPath[] {
  const out: JsonPath[] = [{ parent: null, key: '', value: root, path: '$' }];
  for (let i = 0; i < out.length; i++) {
    const v = out[i].value;
    if (Array.isArray(v)) v.forEach((c, k) => out.push({ parent: v, key: k, value: c, path: `${out[i].path}[${k}]` }));
    else if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) out.push({ parent: v, key: k, value: c, path: `${out[i].path}.${k}` });
  }
  return out;
}

function setAt(node: JsonPath, value: Json): void {
  if (Array.isArray(node.parent)) node.parent[node.key as number] = value;
  else if (node.parent) Object.defineProperty(node.parent, node.key, { value, enumerable: true, writable: true, configurable: true });
}

function serialize(root: Json): string {
  const text = JSON.stringify(root, null, 2) ?? 'null';
  return text.replace(/"\\u0001raw:(\w+)"/g, (_, k: string) => rawTokens[k]());
}

/** A config key the package's resdet.json may set, with its stage, for targeted injection. */
export interface KnownKey {
  path: string[];
  sample: Json;
  /** Values a validator may well accept that still strain what follows (huge sizes, tiny thresholds). */
  extremes?: Json[];
}

/**
 * One or two structural mutations of a JSON document. `knownKeys` are paths worth setting even
 * where the document lacks them (a package's optional config); `weightPath` favours some nodes.
 */
export function mutateJson(rng: Rng, text: string, knownKeys: readonly KnownKey[] = []): Mutated {
  let root: Json;
  try { root = JSON.parse(text) as Json; } catch { return mutateBytes(rng, new TextEncoder().encode(text)); }
  const whats: string[] = [];
  const rounds = weighted(rng, [[6, 1], [3, 2], [1, 4]]);
  for (let r = 0; r < rounds; r++) {
    const all = nodes(root);
    const node = pick(rng, all.slice(1));
    const op = weighted(rng, [[3, 'delete'], [4, 'value'], [1, 'wrap'], [2, 'array'], [1, 'addKey'], [3, 'known'], [1, 'proto'], [1, 'rename']] as const);
    if (op === 'known' && knownKeys.length) {
      const k = pick(rng, knownKeys);
      let obj = root as { [key: string]: Json };
      for (const seg of k.path.slice(0, -1)) {
        if (!obj[seg] || typeof obj[seg] !== 'object' || Array.isArray(obj[seg])) obj[seg] = {};
        obj = obj[seg] as { [key: string]: Json };
      }
      const last = k.path[k.path.length - 1];
      const v = k.extremes && rng() < 0.6 ? pick(rng, k.extremes) : interestingJsonValue(rng, obj[last] ?? k.sample);
      obj[last] = v;
      whats.push(`set ${k.path.join('.')}=${shown(v)}`);
    } else if (op === 'delete' && node.parent) {
      if (Array.isArray(node.parent)) node.parent.splice(node.key as number, 1);
      else delete node.parent[node.key as string];
      whats.push(`delete ${node.path}`);
    } else if (op === 'wrap') {
      const depth = pick(rng, [1, 2, 10, 1000]);
      let v: Json = node.value;
      for (let i = 0; i < depth; i++) v = rng() < 0.5 ? [v] : { value: v };
      setAt(node, v);
      whats.push(`wrap ${node.path} x${depth}`);
    } else if (op === 'array' && Array.isArray(node.value) && node.value.length) {
      const a = node.value;
      const how = pick(rng, ['dup', 'drop', 'reverse', 'empty', 'repeat'] as const);
      if (how === 'dup') a.push(a[randInt(rng, 0, a.length)]);
      else if (how === 'drop') a.splice(randInt(rng, 0, a.length), 1);
      else if (how === 'reverse') a.reverse();
      else if (how === 'empty') a.length = 0;
      else { const e = a[0]; for (let i = 0; i < 10_000; i++) a.push(e); }
      whats.push(`array-${how} ${node.path}`);
    } else if (op === 'addKey' && node.value && typeof node.value === 'object' && !Array.isArray(node.value)) {
      const key = pick(rng, ['extra', '', 'files', 'config', 'format', 'x'.repeat(1000), 'toString', 'hasOwnProperty']);
      (node.value as { [k: string]: Json })[key] = interestingJsonValue(rng, null);
      whats.push(`add ${node.path}.${key.slice(0, 20)}`);
    } else if (op === 'proto' && node.value && typeof node.value === 'object' && !Array.isArray(node.value)) {
      Object.defineProperty(node.value, '__proto__', { value: { polluted: true, minSize: 1, path: '/etc/passwd' }, enumerable: true, writable: true, configurable: true });
      whats.push(`__proto__ ${node.path}`);
    } else if (op === 'rename' && node.parent && !Array.isArray(node.parent)) {
      const key = node.key as string;
      const renamed = pick(rng, [key.toUpperCase(), `${key}_`, key.slice(0, -1), ` ${key}`]);
      delete node.parent[key];
      node.parent[renamed] = node.value;
      whats.push(`rename ${node.path}->${renamed}`);
    } else {
      const v = interestingJsonValue(rng, node.value);
      if (node.parent) setAt(node, v); else root = v;
      whats.push(`set ${node.path}=${shown(v)}`);
    }
  }
  return { bytes: new TextEncoder().encode(serialize(root)), what: `json: ${whats.join('; ')}` };
}

function shown(v: Json): string {
  const s = typeof v === 'string' && v.startsWith(RAW) ? `<${v.slice(RAW.length)}>` : JSON.stringify(v) ?? 'undefined';
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
