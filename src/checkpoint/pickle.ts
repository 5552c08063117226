/**
 * A safe unpickler: a stack machine over pickle protocols 2..5 that builds plain JS values and
 * executes nothing. Whatever would make Python import or call something (GLOBAL, STACK_GLOBAL,
 * REDUCE, NEWOBJ, BUILD, BINPERSID) is handed to `PickleHooks`, which resolves names against
 * an allow-list (see torchPickle.ts). Opcodes that only older or exotic pickles use (text
 * protocol 0, INST/OBJ, EXT*, out-of-band buffers) are refused by name.
 *
 * Every opcode consumes at least one byte, so a hostile pickle cannot loop; every length is
 * checked against the bytes left, so it cannot read out of bounds or allocate from a lie. The
 * objects it builds are charged to the load's MemoryBudget (a 1-byte EMPTY_DICT costs ~250 bytes
 * of heap, so a pickle of them would otherwise cost 250x its size), and containers may not nest
 * deeper than Python's own pickler can write (its recursion limit, 1000), so nothing that later
 * walks a value can overflow the stack.
 */
import type { MemoryBudget } from './budget.js';
import { CheckpointError, CheckpointTruncatedError } from './errors.js';

/** Base of the values that hooks create (storages, tensors, allowed globals). */
export abstract class PickleInstance {
  abstract readonly kind: string;
}

/** A Python dict / OrderedDict, in insertion order. `state` is what BUILD gave it (e.g. `_metadata`). */
export class PickleDict extends PickleInstance {
  readonly kind = 'dict';
  readonly items = new Map<PickleValue, PickleValue>();
  state: PickleValue = null;
}

/** A value built by the unpickler. Lists, tuples and sets are all arrays. */
export type PickleValue = null | boolean | number | bigint | string | Uint8Array | PickleValue[] | PickleInstance;

/** The decisions about names and objects that a pickle delegates to its loader. */
export interface PickleHooks {
  /** GLOBAL / STACK_GLOBAL: return a value standing for `module.name`, or throw to refuse it. */
  resolveGlobal(module: string, name: string): PickleValue;
  /** REDUCE: "call" an allowed global with positional args. */
  reduce(callable: PickleValue, args: PickleValue[]): PickleValue;
  /** NEWOBJ / NEWOBJ_EX: "construct" an allowed class. */
  newObject(cls: PickleValue, args: PickleValue[]): PickleValue;
  /** BUILD: set the state of an object. */
  build(target: PickleValue, state: PickleValue): void;
  /** BINPERSID: map a persistent id (torch: a storage tuple) to a value. */
  persistentLoad(pid: PickleValue): PickleValue;
}

/** Result of one pickle: its value and the offset just past its STOP opcode. */
export interface Unpickled {
  value: PickleValue;
  end: number;
}

const MAX_LONG_BYTES = 64; // Python ints in a state dict are sizes and offsets; 512 bits is ample.
const MAX_LINE = 1024;
/** Python's pickler recurses per nesting level and stops at its recursion limit (1000). */
export const MAX_PICKLE_DEPTH = 1000;

/**
 * Estimated heap bytes of what the unpickler creates (V8: an empty Map-backed dict ~240 bytes,
 * an empty array ~32 plus its stack slot; an array slot is 8 bytes, but a growing array leaves
 * its old backing stores as garbage, ~2x more, so a slot is charged 24).
 */
const COST = { dict: 256, array: 48, slot: 24, entry: 32, object: 64, string: 24 } as const;

/**
 * A short, bounded description of a pickled value for error messages: never recursive past two
 * levels, never longer than ~80 characters, safe for bigints and self-referential containers.
 */
export function describePickleValue(v: PickleValue, depth = 0): string {
  let text: string;
  if (v === null) text = 'None';
  else if (typeof v === 'string') text = JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') text = String(v);
  else if (v instanceof Uint8Array) text = `bytes[${v.length}]`;
  else if (Array.isArray(v)) {
    if (depth >= 2) text = `(${v.length} items)`;
    else {
      const shown = v.slice(0, 4).map((x) => describePickleValue(x, depth + 1));
      text = `(${shown.join(', ')}${v.length > 4 ? `, ... ${v.length} items` : ''})`;
    }
  } else text = `<${v.kind}>`;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Opcodes refused by name, so an error says what was met instead of a bare byte. */
const UNSUPPORTED: Record<number, string> = {
  0x46: 'FLOAT', 0x49: 'INT', 0x4c: 'LONG', 0x50: 'PERSID', 0x53: 'STRING', 0x56: 'UNICODE',
  0x67: 'GET', 0x69: 'INST', 0x6f: 'OBJ', 0x70: 'PUT', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

class Unpickler {
  private pos: number;
  private stack: PickleValue[] = [];
  private readonly marks: PickleValue[][] = [];
  private readonly memo = new Map<number, PickleValue>();
  private readonly dv: DataView;
  private readonly text = new TextDecoder('utf-8');
  /** Nesting depth of each container built so far (absent: 1). */
  private readonly depths = new WeakMap<object, number>();

  constructor(private readonly bytes: Uint8Array, start: number, private readonly hooks: PickleHooks,
    private readonly file: string, private readonly budget: MemoryBudget | null) {
    this.pos = start;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Charges the budget for what the current opcode creates. */
  charge(bytes: number): void {
    this.budget?.charge(bytes, this.chargeText);
  }
  private readonly chargeText = (): string => `pickle at byte ${this.pos}: one more of its unpickled objects`;

  depthOf(v: PickleValue): number {
    return typeof v === 'object' && v !== null ? this.depths.get(v) ?? 1 : 0;
  }

  /** Records that `container` holds `children` (all of them, or some appended), refusing deep nesting. */
  nest(container: object, children: Iterable<PickleValue>): void {
    const before = this.depths.get(container) ?? 1;
    let depth = before;
    for (const c of children) depth = Math.max(depth, this.depthOf(c) + 1);
    if (depth > MAX_PICKLE_DEPTH) this.fail(`containers nest more than ${MAX_PICKLE_DEPTH} deep (Python's pickler cannot write that; corrupt or hostile)`);
    if (depth > before) this.depths.set(container, depth); // depth 1 is the default: most containers cost no entry
  }

  /** Pushes a new tuple / list of `items`. */
  pushArray(items: PickleValue[], reused = false): void {
    this.charge(reused ? 0 : COST.array + COST.slot * items.length);
    this.nest(items, items);
    this.push(items);
  }

  fail(message: string): never {
    throw new CheckpointError(this.file, `pickle at byte ${this.pos}: ${message}`);
  }

  /** Advances past n bytes and returns their start, or throws when the pickle is cut short. */
  take(n: number): number {
    if (n < 0 || this.pos + n > this.bytes.length) {
      throw new CheckpointTruncatedError(this.file, `pickle ends unexpectedly at byte ${this.bytes.length} (needs ${n} more bytes at ${this.pos}; truncated or corrupt)`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number { return this.bytes[this.take(1)]!; }
  u16(): number { return this.dv.getUint16(this.take(2), true); }
  u32(): number { return this.dv.getUint32(this.take(4), true); }
  u64(): number {
    const v = this.dv.getBigUint64(this.take(8), true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? this.fail(`length ${v} is out of range`) : Number(v);
  }
  raw(n: number): Uint8Array { const at = this.take(n); return this.bytes.subarray(at, at + n); }
  line(): string {
    const window = this.bytes.subarray(this.pos, this.pos + MAX_LINE + 1);
    const length = window.indexOf(0x0a);
    if (length < 0 && window.length <= MAX_LINE) this.take(window.length + 1); // throws: truncated
    if (length < 0) this.fail(`GLOBAL name longer than ${MAX_LINE} bytes (corrupt)`);
    const end = this.pos + length;
    return this.text.decode(this.raw(end - this.pos + 1).subarray(0, -1));
  }

  /** Every stack slot is charged: a 1-byte NONE costs an 8-byte slot and the stack's growth. */
  push(v: PickleValue): void { this.charge(COST.slot); this.stack.push(v); }
  pop(): PickleValue {
    if (this.stack.length === 0) this.fail('stack underflow (corrupt pickle)');
    return this.stack.pop()!;
  }
  top(): PickleValue {
    if (this.stack.length === 0) this.fail('stack underflow (corrupt pickle)');
    return this.stack[this.stack.length - 1]!;
  }
  popMark(): PickleValue[] {
    const items = this.stack;
    const outer = this.marks.pop();
    if (outer === undefined) this.fail('no MARK before a collection opcode (corrupt pickle)');
    this.stack = outer;
    return items;
  }

  run(): Unpickled {
    for (;;) {
      const op = this.u8();
      if (op === 0x2e) return { value: this.pop(), end: this.pos }; // STOP
      if (!(this.scalar(op) || this.collection(op) || this.memoOrStack(op) || this.object(op))) {
        const name = UNSUPPORTED[op];
        this.pos -= 1;
        this.fail(name ? `unsupported pickle opcode ${name} (0x${op.toString(16)})` : `unknown pickle opcode 0x${op.toString(16)} (corrupt or not a pickle)`);
      }
    }
  }

  /** Numbers, strings, bytes, None, booleans, framing. */
  scalar(op: number): boolean {
    switch (op) {
      case 0x80: this.u8(); return true; // PROTO
      case 0x95: this.u64(); return true; // FRAME: frames are only a read-ahead hint
      case 0x4e: this.push(null); return true; // NONE
      case 0x88: this.push(true); return true; // NEWTRUE
      case 0x89: this.push(false); return true; // NEWFALSE
      case 0x4a: this.push(this.dv.getInt32(this.take(4), true)); return true; // BININT
      case 0x4b: this.push(this.u8()); return true; // BININT1
      case 0x4d: this.push(this.u16()); return true; // BININT2
      case 0x8a: this.push(this.long(this.u8())); return true; // LONG1
      case 0x8b: this.push(this.long(this.u32())); return true; // LONG4
      case 0x47: this.push(this.dv.getFloat64(this.take(8), false)); return true; // BINFLOAT (big-endian)
      case 0x58: this.push(this.string(this.u32())); return true; // BINUNICODE
      case 0x8c: this.push(this.string(this.u8())); return true; // SHORT_BINUNICODE
      case 0x8d: this.push(this.string(this.u64())); return true; // BINUNICODE8
      // Python 2 str: torch.load decodes it as utf-8 by default.
      case 0x54: this.push(this.string(this.u32())); return true; // BINSTRING
      case 0x55: this.push(this.string(this.u8())); return true; // SHORT_BINSTRING
      case 0x42: this.push(this.byteString(this.u32())); return true; // BINBYTES
      case 0x43: this.push(this.byteString(this.u8())); return true; // SHORT_BINBYTES
      case 0x8e: case 0x96: this.push(this.byteString(this.u64())); return true; // BINBYTES8, BYTEARRAY8
      default: return false;
    }
  }

  /** A UTF-8 string of n bytes (a JS string takes up to 2 bytes per character). */
  string(n: number): string {
    const bytes = this.raw(n);
    this.charge(COST.string + 2 * n);
    return this.text.decode(bytes);
  }
  byteString(n: number): Uint8Array {
    const bytes = this.raw(n);
    this.charge(COST.string + n);
    return bytes.slice();
  }

  /** A little-endian two's-complement integer of n bytes; a number when it is exact. */
  long(n: number): number | bigint {
    if (n > MAX_LONG_BYTES) this.fail(`integer of ${n} bytes is too large`);
    const b = this.raw(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (n > 0 && b[n - 1]! >= 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** Lists, tuples, dicts, sets and their MARK-delimited builders. */
  collection(op: number): boolean {
    switch (op) {
      // MARK: the items pushed until the matching builder become its container (charged here).
      case 0x28: this.charge(COST.array); this.marks.push(this.stack); this.stack = []; return true;
      case 0x5d: case 0x29: case 0x8f: this.pushArray([]); return true; // EMPTY_LIST, EMPTY_TUPLE, EMPTY_SET
      case 0x7d: this.charge(COST.dict); this.push(new PickleDict()); return true; // EMPTY_DICT
      case 0x6c: case 0x74: case 0x91: this.pushArray(this.popMark(), true); return true; // LIST, TUPLE, FROZENSET
      case 0x85: this.pushArray([this.pop()]); return true; // TUPLE1
      case 0x86: { const b = this.pop(); this.pushArray([this.pop(), b]); return true; } // TUPLE2
      case 0x87: { const c = this.pop(); const b = this.pop(); this.pushArray([this.pop(), b, c]); return true; } // TUPLE3
      case 0x61: { const v = this.pop(); const list = this.list(); this.charge(COST.slot); this.nest(list, [v]); list.push(v); return true; } // APPEND
      case 0x65: case 0x90: { // APPENDS, ADDITEMS (a loop, not push(...items): a hostile MARK may hold millions)
        const items = this.popMark();
        const list = this.list();
        this.charge(COST.slot * items.length);
        this.nest(list, items);
        for (const v of items) list.push(v);
        return true; }
      case 0x64: { this.charge(COST.dict); const d = new PickleDict(); this.setItems(d, this.popMark()); this.push(d); return true; } // DICT
      case 0x73: { const v = this.pop(); const k = this.pop(); this.setItems(this.dict(), [k, v]); return true; } // SETITEM
      case 0x75: { const kv = this.popMark(); this.setItems(this.dict(), kv); return true; } // SETITEMS
      default: return false;
    }
  }

  list(): PickleValue[] {
    const t = this.top();
    return Array.isArray(t) ? t : this.fail('APPEND to something that is not a list');
  }
  dict(): PickleDict {
    const t = this.top();
    return t instanceof PickleDict ? t : this.fail('SETITEM on something that is not a dict');
  }
  setItems(d: PickleDict, kv: PickleValue[]): void {
    if (kv.length % 2 !== 0) this.fail('odd number of items for a dict');
    this.charge(COST.entry * (kv.length / 2));
    this.nest(d, kv);
    for (let i = 0; i < kv.length; i += 2) d.items.set(kv[i]!, kv[i + 1]!);
  }

  /** Memo and stack shuffling. */
  memoOrStack(op: number): boolean {
    switch (op) {
      case 0x71: this.memoize(this.u8()); return true; // BINPUT
      case 0x72: this.memoize(this.u32()); return true; // LONG_BINPUT
      case 0x94: this.memoize(this.memo.size); return true; // MEMOIZE
      case 0x68: this.push(this.recall(this.u8())); return true; // BINGET
      case 0x6a: this.push(this.recall(this.u32())); return true; // LONG_BINGET
      case 0x30: this.pop(); return true; // POP
      case 0x31: this.popMark(); return true; // POP_MARK
      case 0x32: this.push(this.top()); return true; // DUP
      default: return false;
    }
  }

  memoize(i: number): void {
    const v = this.top();
    this.charge(COST.entry);
    this.memo.set(i, v);
  }

  recall(i: number): PickleValue {
    const v = this.memo.get(i);
    return v === undefined ? this.fail(`memo entry ${i} is missing (corrupt pickle)`) : v;
  }

  /** The opcodes that would import or call in Python: all delegated to the hooks. */
  object(op: number): boolean {
    switch (op) {
      case 0x63: { const module = this.line(); this.charge(COST.object); this.push(this.hooks.resolveGlobal(module, this.line())); return true; } // GLOBAL
      case 0x93: { const name = this.pop(); const module = this.pop(); // STACK_GLOBAL
        if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
        this.charge(COST.object);
        this.push(this.hooks.resolveGlobal(module, name)); return true; }
      case 0x52: { const args = this.args(this.pop()); this.pushMade(this.hooks.reduce(this.pop(), args), args); return true; } // REDUCE
      case 0x81: { const args = this.args(this.pop()); this.pushMade(this.hooks.newObject(this.pop(), args), args); return true; } // NEWOBJ
      case 0x92: { const kwargs = this.pop(); const args = this.args(this.pop()); // NEWOBJ_EX
        if (!(kwargs instanceof PickleDict) || kwargs.items.size > 0) this.fail('NEWOBJ_EX with keyword arguments is not supported');
        this.pushMade(this.hooks.newObject(this.pop(), args), args); return true; }
      case 0x62: { const state = this.pop(); const target = this.top(); this.hooks.build(target, state); // BUILD
        if (typeof target === 'object' && target !== null) this.nest(target, [state]);
        return true; }
      case 0x51: this.pushMade(this.hooks.persistentLoad(this.pop()), []); return true; // BINPERSID
      default: return false;
    }
  }

  /**
   * Pushes what a hook made from `args`. Hooks copy at most a few small lists (a tensor's sizes),
   * but OrderedDict(items) copies its items: charged by their count.
   */
  pushMade(v: PickleValue, args: PickleValue[]): void {
    const items = args[0];
    this.charge(COST.object + (v instanceof PickleDict && Array.isArray(items) ? COST.entry * items.length : 0));
    if (typeof v === 'object' && v !== null && v !== items) this.nest(v, v instanceof PickleDict ? [items ?? null] : args);
    this.push(v);
  }

  args(v: PickleValue): PickleValue[] {
    return Array.isArray(v) ? v : this.fail('call arguments are not a tuple');
  }
}

/**
 * Unpickles one pickle starting at `start`.
 * @param bytes the buffer holding the pickle (and possibly more after its STOP)
 * @param file the checkpoint's name, for errors
 * @param budget charged for the objects built (none: unlimited, for the tiny legacy headers)
 */
export function unpickle(bytes: Uint8Array, start: number, hooks: PickleHooks, file: string, budget: MemoryBudget | null = null): Unpickled {
  return new Unpickler(bytes, start, hooks, file, budget).run();
}
