/**
 * A minimal protocol-buffers (proto2 wire format) writer, enough for ONNX's ModelProto, and a
 * field reader for inspecting and rewriting models.
 *
 * Messages are assembled as trees of fields whose large payloads (initializer raw_data) are views
 * over the caller's typed arrays, not copies. The tree is measured first (length prefixes come
 * before their payloads), then written in one pass by one encoder, either into one exactly-sized
 * buffer (`encodeMessage`) or through a small staging buffer into a `ByteSink` such as a file
 * (`streamMessage`), so a 170 MB model never needs a 170 MB allocation on the way to disk. Both
 * produce the same bytes.
 */

/** Wire types of the protobuf encoding that ONNX uses. */
const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LENGTH_DELIMITED = 2;

/** Bytes produced while the message is written (e.g. weights computed on the fly), chunk by chunk. */
export interface ByteSource {
  readonly byteLength: number;
  /**
   * Passes exactly byteLength bytes, in order, to `emit`; each chunk may be reused by the source
   * once `emit` returns.
   */
  writeTo(emit: (chunk: Uint8Array) => void): void;
}

/**
 * Where streamed bytes go, in order. `write` must consume the chunk before it returns (the writer
 * reuses its staging buffer).
 */
export interface ByteSink {
  write(chunk: Uint8Array): void;
}

type Field =
  | { kind: 'varint'; no: number; value: number | bigint }
  | { kind: 'float'; no: number; value: number }
  | { kind: 'bytes'; no: number; value: Uint8Array | ByteSource }
  | { kind: 'message'; no: number; value: ProtoMessage };

const utf8 = new TextEncoder();

/** Byte length of `value` as a varint; negative int64 values take 10 bytes (two's complement). */
export function varintSize(value: number | bigint): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`varint ${value} is not a safe integer`);
    if (value < 0) return 10;
    let n = 1;
    while (value >= 128) {
      value = Math.floor(value / 128);
      n++;
    }
    return n;
  }
  let u = BigInt.asUintN(64, value);
  let n = 1;
  while (u >= 128n) {
    u >>= 7n;
    n++;
  }
  return n;
}

/** A message under construction: an ordered list of fields, sized once when first measured. */
export class ProtoMessage {
  private readonly fields: Field[] = [];
  private measured = -1;

  /** int32/int64/enum/bool field (one entry of a repeated field per call: unpacked encoding). */
  varint(no: number, value: number | bigint): this {
    return this.push({ kind: 'varint', no, value });
  }

  /** float (fixed32) field. */
  float(no: number, value: number): this {
    return this.push({ kind: 'float', no, value });
  }

  /** bytes field; the array is referenced, not copied, or the source called, when the message is encoded. */
  bytes(no: number, value: Uint8Array | ByteSource): this {
    return this.push({ kind: 'bytes', no, value });
  }

  /** string field, UTF-8 encoded. */
  string(no: number, value: string): this {
    return this.push({ kind: 'bytes', no, value: utf8.encode(value) });
  }

  /** Embedded message field. */
  message(no: number, value: ProtoMessage): this {
    return this.push({ kind: 'message', no, value });
  }

  private push(f: Field): this {
    if (this.measured >= 0) throw new Error('ProtoMessage changed after it was measured');
    this.fields.push(f);
    return this;
  }

  /** Encoded size in bytes (cached: the tree must not change afterwards). */
  size(): number {
    if (this.measured >= 0) return this.measured;
    let n = 0;
    for (const f of this.fields) {
      n += varintSize(f.no * 8);
      switch (f.kind) {
        case 'varint': n += varintSize(f.value); break;
        case 'float': n += 4; break;
        case 'bytes': n += varintSize(f.value.byteLength) + f.value.byteLength; break;
        case 'message': {
          const m = f.value.size();
          n += varintSize(m) + m;
          break;
        }
      }
    }
    this.measured = n;
    return n;
  }

  /** Writes the fields at the writer's position. */
  writeTo(w: ProtoWriter): void {
    for (const f of this.fields) {
      switch (f.kind) {
        case 'varint':
          w.tag(f.no, WIRE_VARINT);
          w.varint(f.value);
          break;
        case 'float':
          w.tag(f.no, WIRE_FIXED32);
          w.float32(f.value);
          break;
        case 'bytes':
          w.tag(f.no, WIRE_LENGTH_DELIMITED);
          w.varint(f.value.byteLength);
          w.raw(f.value);
          break;
        case 'message':
          w.tag(f.no, WIRE_LENGTH_DELIMITED);
          w.varint(f.value.size());
          f.value.writeTo(w);
          break;
      }
    }
  }
}

/**
 * Sequential writer. Without a sink, `buffer` receives the whole message; with one, `buffer` is a
 * staging area handed to the sink whenever it fills (and by `flush`), and payloads at least as
 * large as it go to the sink directly, uncopied.
 */
export class ProtoWriter {
  /** Position in `buffer`. */
  pos = 0;
  private flushed = 0;
  private readonly view: DataView;

  constructor(readonly buffer: Uint8Array, private readonly sink?: ByteSink) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    if (sink && buffer.byteLength < 16) throw new RangeError('ProtoWriter: a staging buffer needs at least 16 bytes');
  }

  /** Bytes written so far, flushed or not. */
  get offset(): number {
    return this.flushed + this.pos;
  }

  tag(no: number, wire: number): void {
    this.varint(no * 8 + wire);
  }

  varint(value: number | bigint): void {
    this.reserve(10);
    if (typeof value === 'number' && value >= 0) {
      while (value >= 128) {
        this.buffer[this.pos++] = (value % 128) | 128;
        value = Math.floor(value / 128);
      }
      this.buffer[this.pos++] = value;
      return;
    }
    let u = BigInt.asUintN(64, BigInt(value));
    while (u >= 128n) {
      this.buffer[this.pos++] = Number(u & 127n) | 128;
      u >>= 7n;
    }
    this.buffer[this.pos++] = Number(u);
  }

  float32(value: number): void {
    this.reserve(4);
    this.view.setFloat32(this.pos, value, true);
    this.pos += 4;
  }

  raw(bytes: Uint8Array | ByteSource): void {
    if (bytes instanceof Uint8Array) this.chunk(bytes);
    else bytes.writeTo((chunk) => this.chunk(chunk));
  }

  /** Hands the staged bytes to the sink (no-op without one). */
  flush(): void {
    if (!this.sink || this.pos === 0) return;
    this.sink.write(this.buffer.subarray(0, this.pos));
    this.flushed += this.pos;
    this.pos = 0;
  }

  private chunk(bytes: Uint8Array): void {
    if (this.sink && bytes.byteLength > this.buffer.byteLength - this.pos) {
      this.flush();
      if (bytes.byteLength >= this.buffer.byteLength) {
        this.sink.write(bytes);
        this.flushed += bytes.byteLength;
        return;
      }
    }
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.byteLength;
  }

  /** Makes room for `n` bytes in the staging buffer (in-memory, the measured size guarantees it). */
  private reserve(n: number): void {
    if (this.sink && this.pos + n > this.buffer.byteLength) this.flush();
  }
}

/** Encodes a message tree into a single buffer of exactly its size. */
export function encodeMessage(message: ProtoMessage): Uint8Array {
  const out = new Uint8Array(message.size());
  const w = new ProtoWriter(out);
  message.writeTo(w);
  if (w.pos !== out.byteLength) throw new Error(`protobuf size mismatch: measured ${out.byteLength}, wrote ${w.pos}`);
  return out;
}

/** Staging buffer of `streamMessage`: large enough to make writes few, small next to any model. */
export const STREAM_STAGING_BYTES = 1 << 20;

/**
 * Encodes a message tree into `sink`, through a staging buffer of `stagingBytes`; the bytes are
 * those `encodeMessage` returns.
 * @returns the number of bytes written
 */
export function streamMessage(message: ProtoMessage, sink: ByteSink, stagingBytes = STREAM_STAGING_BYTES): number {
  const size = message.size();
  const w = new ProtoWriter(new Uint8Array(Math.max(16, Math.min(stagingBytes, size))), sink);
  message.writeTo(w);
  w.flush();
  if (w.offset !== size) throw new Error(`protobuf size mismatch: measured ${size}, wrote ${w.offset}`);
  return size;
}

/** One field as read: `varint` for wire type 0, `bytes` (a view, not a copy) for length-delimited. */
export interface RawField { no: number; wire: number; varint: bigint; bytes: Uint8Array }

/**
 * Iterates the top-level fields of one encoded message. fixed32/fixed64 fields are skipped, or
 * with `fixed` yielded as their 4 or 8 bytes (e.g. float attributes, for a reader that keeps them).
 * @throws Error on truncated or malformed input
 */
export function* readFields(buf: Uint8Array, options: { fixed?: boolean } = {}): Generator<RawField> {
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++];
      result |= BigInt(b & 127) << shift;
      if (b < 128) return result;
    }
  };
  const empty = new Uint8Array(0);
  while (pos < buf.length) {
    const key = Number(readVarint());
    const no = key >>> 3;
    const wire = key & 7;
    switch (wire) {
      case 0: yield { no, wire, varint: readVarint(), bytes: empty }; break;
      case 1:
      case 5: {
        const len = wire === 1 ? 8 : 4;
        if (options.fixed) {
          if (pos + len > buf.length) throw new Error(`field ${no} runs past the end of its message`);
          yield { no, wire, varint: 0n, bytes: buf.subarray(pos, pos + len) };
        }
        pos += len;
        break;
      }
      case 2: {
        const len = Number(readVarint());
        if (pos + len > buf.length) throw new Error(`field ${no} runs past the end of its message`);
        yield { no, wire, varint: 0n, bytes: buf.subarray(pos, pos + len) };
        pos += len;
        break;
      }
      default: throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}
