/**
 * A minimal WebAssembly binary writer: enough of the format (types, functions, one exported
 * memory, exports, code with the scalar and SIMD instructions the kernels use) to assemble small
 * kernels at run time, so that no .wasm file has to be shipped, fetched or bundled.
 *
 * Binary format: https://webassembly.github.io/spec/core/binary/ (sections 1 type, 3 function,
 * 5 memory, 7 export, 10 code); SIMD opcodes are 0xFD followed by a LEB128 sub-opcode.
 */

export type ValType = 'i32' | 'f32' | 'v128';
const VALTYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const name = (s: string) => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];

/**
 * The body of one function: locals are declared by `local(type)`; instructions are appended by
 * the methods, each named as the WebAssembly text format names it.
 */
export class FunctionBody {
  readonly code: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(readonly params: readonly ValType[], readonly results: readonly ValType[] = []) {}

  /** A new local of `type`; returns its index. */
  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  private simd(sub: number, ...rest: number[]): this {
    return this.op(0xfd, ...uleb(sub), ...rest);
  }

  get(i: number): this { return this.op(0x20, ...uleb(i)); }
  set(i: number): this { return this.op(0x21, ...uleb(i)); }
  tee(i: number): this { return this.op(0x22, ...uleb(i)); }
  i32Const(v: number): this { return this.op(0x41, ...sleb(v | 0)); }
  f32Const(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }

  /** `block` (branch target: its end) and `loop` (branch target: its start), without results. */
  block(): this { return this.op(0x02, 0x40); }
  loop(): this { return this.op(0x03, 0x40); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { return this.op(0x0c, ...uleb(depth)); }
  brIf(depth: number): this { return this.op(0x0d, ...uleb(depth)); }

  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32GeS(): this { return this.op(0x4e); }
  i32GtS(): this { return this.op(0x4a); }
  f32Mul(): this { return this.op(0x94); }

  /** Loads and stores take a constant byte offset added to the address on the stack. */
  i32Load(offset = 0): this { return this.op(0x28, 2, ...uleb(offset)); }
  f32Load(offset = 0): this { return this.op(0x2a, 2, ...uleb(offset)); }
  f32Store(offset = 0): this { return this.op(0x38, 2, ...uleb(offset)); }
  v128Load(offset = 0): this { return this.simd(0x00, 4, ...uleb(offset)); }
  v128Store(offset = 0): this { return this.simd(0x0b, 4, ...uleb(offset)); }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4ExtractLane(lane: number): this { return this.simd(0x1f, lane); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Mul(): this { return this.simd(0xe6); }
  /** i8x16.shuffle with float lanes: result lane i is lane `lanes[i]` of (a, b) taken as 8 floats. */
  f32x4Shuffle(lanes: readonly [number, number, number, number]): this {
    return this.simd(0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }

  /** The function's code entry: its locals, grouped by runs of equal type, and its expression. */
  encode(): number[] {
    const groups: number[][] = [];
    for (let i = 0; i < this.locals.length;) {
      let j = i;
      while (j < this.locals.length && this.locals[j] === this.locals[i]) j++;
      groups.push([...uleb(j - i), VALTYPE[this.locals[i]]]);
      i = j;
    }
    const body = [...vec(groups), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/** A module of exported functions and one exported memory named 'memory' (initial size 1 page). */
export function assembleModule(functions: ReadonlyArray<{ name: string; body: FunctionBody }>): Uint8Array<ArrayBuffer> {
  const types = functions.map(({ body }) => [0x60, ...vec(body.params.map((t) => [VALTYPE[t]])), ...vec(body.results.map((t) => [VALTYPE[t]]))]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(7, vec([
      ...functions.map(({ name: n }, i) => [...name(n), 0x00, ...uleb(i)]),
      [...name('memory'), 0x02, 0x00],
    ])),
    ...section(10, vec(functions.map(({ body }) => body.encode()))),
  ];
  return new Uint8Array(bytes);
}
