/**
 * ONNX model description (plain typed objects) and its encoding as onnx.proto's ModelProto.
 *
 * Only the fields resdet writes are covered; field numbers are those of onnx/onnx.proto
 * (IR version 8, the version that goes with opset 17).
 */
import { type ByteSink, type ByteSource, ProtoMessage, encodeMessage, streamMessage } from './protobuf.js';

/** Element types our graphs use, with their TensorProto.DataType codes. */
export const ELEM_TYPE = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10 } as const;
export type ElemType = keyof typeof ELEM_TYPE;

/** A dimension: a fixed size, or a symbolic name (dim_param) for a dynamic one. */
export type Dim = number | string;

/**
 * float32 values computed while the model is written (e.g. weights with a batch norm folded in),
 * so that they never exist in memory besides the serialized model.
 */
export interface ComputedFloat32 {
  readonly length: number;
  /** Writes elements [start, start + chunk.length) into `chunk`. */
  fill(chunk: Float32Array, start: number): void;
}

/** Element types a stored tensor may have. */
export type OnnxTensorDType = 'float32' | 'float16' | 'int8' | 'uint8' | 'int64' | 'int32';

/**
 * A constant tensor stored in the model (an initializer or a tensor attribute). The data's array
 * type follows the dtype: Float32Array (or ComputedFloat32) for float32, Uint16Array of IEEE
 * half-precision bit patterns for float16 (`toFloat16`), Int8Array, Uint8Array, BigInt64Array,
 * Int32Array.
 */
export interface OnnxTensor {
  name: string;
  dtype: OnnxTensorDType;
  dims: readonly number[];
  data: Float32Array | Uint16Array | Int8Array | Uint8Array | BigInt64Array | Int32Array | ComputedFloat32;
}

/** A node attribute, tagged with its AttributeProto type. */
export type OnnxAttribute =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'tensor'; value: OnnxTensor };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: Readonly<Record<string, OnnxAttribute>>;
  domain?: string;
}

/** A graph input or output with its type. */
export interface OnnxValueInfo {
  name: string;
  dtype: ElemType;
  /** The declared shape; undefined declares none (an intermediate exposed as an output, rank unknown). */
  shape: readonly Dim[] | undefined;
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  /** Default-domain opset version (17 unless said otherwise). */
  opset: number;
  irVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata?: Readonly<Record<string, string>>;
}

const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swapBytes(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) for (let k = 0; k < size; k++) out[i + k] = bytes[i + size - 1 - k];
  return out;
}

/** Elements computed per call of a ComputedFloat32's fill: 256 KiB of scratch. */
const CHUNK = 65536;

/**
 * raw_data is little-endian: a view of the caller's array on LE hosts, a swapped copy otherwise;
 * computed values are produced chunk by chunk into one scratch array as the model is written.
 */
function rawBytes(data: OnnxTensor['data']): Uint8Array | ByteSource {
  if (!ArrayBuffer.isView(data)) {
    const source = data;
    return {
      byteLength: source.length * 4,
      writeTo(emit: (chunk: Uint8Array) => void): void {
        const chunk = new Float32Array(Math.min(CHUNK, source.length));
        for (let start = 0; start < source.length; start += chunk.length) {
          const part = chunk.subarray(0, Math.min(chunk.length, source.length - start));
          source.fill(part, start);
          const bytes = new Uint8Array(part.buffer, 0, part.byteLength);
          emit(littleEndian ? bytes : swapBytes(bytes, 4));
        }
      },
    };
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return littleEndian ? bytes : swapBytes(bytes, data.BYTES_PER_ELEMENT);
}

function tensorProto(t: OnnxTensor): ProtoMessage {
  const m = new ProtoMessage();
  for (const d of t.dims) m.varint(1, d);
  m.varint(2, ELEM_TYPE[t.dtype]);
  m.string(8, t.name);
  m.bytes(9, rawBytes(t.data));
  return m;
}

function attributeProto(name: string, a: OnnxAttribute): ProtoMessage {
  const m = new ProtoMessage().string(1, name).varint(20, ATTRIBUTE_TYPE[a.type]);
  switch (a.type) {
    case 'float': return m.float(2, a.value);
    case 'int': return m.varint(3, a.value);
    case 'string': return m.string(4, a.value);
    case 'tensor': return m.message(5, tensorProto(a.value));
    case 'floats': for (const v of a.value) m.float(7, v); return m;
    case 'ints': for (const v of a.value) m.varint(8, v); return m;
  }
}

function nodeProto(n: OnnxNode): ProtoMessage {
  const m = new ProtoMessage();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  m.string(3, n.name).string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes)) m.message(5, attributeProto(name, a));
  if (n.domain) m.string(7, n.domain);
  return m;
}

function valueInfoProto(v: OnnxValueInfo): ProtoMessage {
  const tensorType = new ProtoMessage().varint(1, ELEM_TYPE[v.dtype]);
  if (v.shape !== undefined) {
    const shape = new ProtoMessage();
    for (const d of v.shape) {
      // TensorShapeProto.Dimension: dim_value = 1, dim_param = 2
      shape.message(1, typeof d === 'number' ? new ProtoMessage().varint(1, d) : new ProtoMessage().string(2, d));
    }
    tensorType.message(2, shape);
  }
  return new ProtoMessage().string(1, v.name).message(2, new ProtoMessage().message(1, tensorType));
}

function graphProto(g: OnnxGraph): ProtoMessage {
  const m = new ProtoMessage();
  for (const n of g.nodes) m.message(1, nodeProto(n));
  m.string(2, g.name);
  for (const t of g.initializers) m.message(5, tensorProto(t));
  for (const v of g.inputs) m.message(11, valueInfoProto(v));
  for (const v of g.outputs) m.message(12, valueInfoProto(v));
  return m;
}

/** The ModelProto message tree; its payloads reference the model's arrays. */
function modelProto(model: OnnxModel): ProtoMessage {
  const m = new ProtoMessage()
    .varint(1, model.irVersion)
    .string(2, model.producerName)
    .string(3, model.producerVersion);
  if (model.docString) m.string(6, model.docString);
  m.message(7, graphProto(model.graph));
  m.message(8, new ProtoMessage().string(1, '').varint(2, model.opset));
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    m.message(14, new ProtoMessage().string(1, key).string(2, value));
  }
  return m;
}

/**
 * Serializes a model to ModelProto bytes that `InferenceSession.create(bytes)` loads.
 * Sizes are computed before anything is written, into one buffer of the exact size.
 */
export function serializeModel(model: OnnxModel): Uint8Array {
  return encodeMessage(modelProto(model));
}

/**
 * Streams a model's ModelProto bytes, the same as `serializeModel`'s, into `sink` through a small
 * staging buffer: initializers go from their source arrays (or, when computed, one scratch chunk
 * at a time) to the sink, so the whole model never exists in memory.
 * @param stagingBytes size of the staging buffer (1 MiB by default)
 * @returns the number of bytes written
 */
export function writeModel(model: OnnxModel, sink: ByteSink, stagingBytes?: number): number {
  return streamMessage(modelProto(model), sink, stagingBytes);
}
