/**
 * Reads a whole ONNX ModelProto back into the plain `OnnxModel` that `serializeModel` writes:
 * nodes, attributes, initializers (their data copied out of the file's bytes into typed arrays),
 * graph inputs and outputs. Enough for the models resdet writes and for rewriting them (precision
 * variants); a model using what the writer cannot say again (subgraphs, external data, sparse
 * initializers, functions, other opset domains, element types it has no name for) is refused by name rather than
 * written back wrong.
 */
import { type Dim, ELEM_TYPE, type ElemType, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxTensorDType, type OnnxValueInfo } from './onnx.js';
import { readFields, type RawField } from './protobuf.js';

const utf8 = new TextDecoder();

/** Fields of a message, fixed32 ones (float attributes) included as their 4 bytes. */
function fields(buf: Uint8Array): Generator<RawField> {
  return readFields(buf, { fixed: true });
}

/** Varints of a packed repeated field. */
function packedVarints(buf: Uint8Array): bigint[] {
  const out: bigint[] = [];
  let pos = 0;
  while (pos < buf.length) {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[pos++];
      v |= BigInt(b & 127) << shift;
      if (b < 128) break;
    }
    out.push(v);
  }
  return out;
}

/** int64 fields are two's complement in 64 bits: back to a signed number. */
function signed(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

const DTYPE_OF_CODE = new Map<number, OnnxTensorDType>(
  (['float32', 'float16', 'int8', 'uint8', 'int64', 'int32'] as const).map((d) => [ELEM_TYPE[d], d]),
);
const ELEM_OF_CODE = new Map<number, ElemType>(Object.entries(ELEM_TYPE).map(([k, v]) => [v, k as ElemType]));

/** A copy of `bytes` (little-endian raw_data) as the dtype's typed array, aligned. */
function typedData(dtype: OnnxTensorDType, bytes: Uint8Array): OnnxTensor['data'] {
  // A fresh, aligned buffer (a Node Buffer's slice() would be a view of its pool, not a copy).
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  const copy = aligned.buffer;
  switch (dtype) {
    case 'float32': return new Float32Array(copy);
    case 'float16': return new Uint16Array(copy);
    case 'int8': return new Int8Array(copy);
    case 'uint8': return new Uint8Array(copy);
    case 'int64': return new BigInt64Array(copy);
    case 'int32': return new Int32Array(copy);
  }
}

function tensor(buf: Uint8Array): OnnxTensor {
  const dims: number[] = [];
  let code = 0;
  let name = '';
  let raw: Uint8Array | undefined;
  const floats: number[] = [];
  const int32s: number[] = [];
  const int64s: bigint[] = [];
  for (const f of fields(buf)) {
    switch (f.no) {
      case 1: if (f.wire === 0) dims.push(signed(f.varint)); else for (const v of packedVarints(f.bytes)) dims.push(signed(v)); break;
      case 2: code = Number(f.varint); break;
      case 4:
        if (f.wire === 5) floats.push(new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true));
        else for (let i = 0; i + 4 <= f.bytes.length; i += 4) floats.push(new DataView(f.bytes.buffer, f.bytes.byteOffset + i, 4).getFloat32(0, true));
        break;
      case 5: if (f.wire === 0) int32s.push(Number(BigInt.asIntN(32, f.varint))); else for (const v of packedVarints(f.bytes)) int32s.push(Number(BigInt.asIntN(32, v))); break;
      case 7: if (f.wire === 0) int64s.push(BigInt.asIntN(64, f.varint)); else for (const v of packedVarints(f.bytes)) int64s.push(BigInt.asIntN(64, v)); break;
      case 8: name = utf8.decode(f.bytes); break;
      case 9: raw = f.bytes; break;
      case 13: case 14: throw new Error(`tensor '${name}' keeps its data outside the model (external data), which is not supported`);
    }
  }
  const dtype = DTYPE_OF_CODE.get(code);
  if (dtype === undefined) throw new Error(`tensor '${name}' has element type ${code}, which is not supported`);
  let data: OnnxTensor['data'];
  if (raw !== undefined) data = typedData(dtype, raw);
  else if (dtype === 'float32') data = Float32Array.from(floats);
  else if (dtype === 'int64') data = BigInt64Array.from(int64s);
  else if (dtype === 'int32') data = Int32Array.from(int32s);
  else if (dtype === 'float16') data = Uint16Array.from(int32s); // float16 bits travel in int32_data
  else if (dtype === 'int8') data = Int8Array.from(int32s);
  else data = Uint8Array.from(int32s);
  return { name, dtype, dims, data };
}

function attribute(buf: Uint8Array): [string, OnnxAttribute] {
  let name = '';
  let type = 0;
  let f32: number | undefined;
  let i64: number | undefined;
  let str: string | undefined;
  let t: OnnxTensor | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  for (const f of fields(buf)) {
    switch (f.no) {
      case 1: name = utf8.decode(f.bytes); break;
      case 2: f32 = new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true); break;
      case 3: i64 = signed(f.varint); break;
      case 4: str = utf8.decode(f.bytes); break;
      case 5: t = tensor(f.bytes); break;
      case 6: case 11: throw new Error(`attribute '${name}' holds a subgraph, which is not supported`);
      case 7:
        if (f.wire === 5) floats.push(new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true));
        else for (let i = 0; i + 4 <= f.bytes.length; i += 4) floats.push(new DataView(f.bytes.buffer, f.bytes.byteOffset + i, 4).getFloat32(0, true));
        break;
      case 8: if (f.wire === 0) ints.push(signed(f.varint)); else for (const v of packedVarints(f.bytes)) ints.push(signed(v)); break;
      case 20: type = Number(f.varint); break;
    }
  }
  // AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7
  switch (type) {
    case 1: return [name, { type: 'float', value: f32 ?? 0 }];
    case 2: return [name, { type: 'int', value: i64 ?? 0 }];
    case 3: return [name, { type: 'string', value: str ?? '' }];
    case 4: if (t) return [name, { type: 'tensor', value: t }]; break;
    case 6: return [name, { type: 'floats', value: floats }];
    case 7: return [name, { type: 'ints', value: ints }];
  }
  throw new Error(`attribute '${name}' has type ${type}, which is not supported`);
}

function node(buf: Uint8Array): OnnxNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes: Record<string, OnnxAttribute> = {};
  let name = '';
  let opType = '';
  let domain = '';
  for (const f of fields(buf)) {
    switch (f.no) {
      case 1: inputs.push(utf8.decode(f.bytes)); break;
      case 2: outputs.push(utf8.decode(f.bytes)); break;
      case 3: name = utf8.decode(f.bytes); break;
      case 4: opType = utf8.decode(f.bytes); break;
      case 5: { const [k, a] = attribute(f.bytes); attributes[k] = a; break; }
      case 7: domain = utf8.decode(f.bytes); break;
    }
  }
  return domain ? { opType, name, inputs, outputs, attributes, domain } : { opType, name, inputs, outputs, attributes };
}

function valueInfo(buf: Uint8Array): OnnxValueInfo {
  let name = '';
  let code = 0;
  let shape: Dim[] | undefined;
  for (const f of fields(buf)) {
    if (f.no === 1) name = utf8.decode(f.bytes);
    if (f.no !== 2) continue;
    for (const t of fields(f.bytes)) {
      if (t.no !== 1) continue; // TypeProto.tensor_type
      for (const tt of fields(t.bytes)) {
        if (tt.no === 1) code = Number(tt.varint);
        if (tt.no !== 2) continue;
        shape = [];
        for (const d of fields(tt.bytes)) {
          if (d.no !== 1) continue;
          let dim: Dim = '?';
          for (const v of fields(d.bytes)) {
            if (v.no === 1) dim = signed(v.varint);
            if (v.no === 2) dim = utf8.decode(v.bytes);
          }
          shape.push(dim);
        }
      }
    }
  }
  const dtype = ELEM_OF_CODE.get(code);
  if (dtype === undefined) throw new Error(`graph value '${name}' has element type ${code}, which is not supported`);
  return { name, dtype, shape };
}

/**
 * Parses ModelProto bytes into an `OnnxModel` that `serializeModel` writes back equivalently.
 * @throws Error naming what is not supported or malformed
 */
export function readModel(bytes: Uint8Array): OnnxModel {
  let irVersion = 0;
  let producerName = '';
  let producerVersion = '';
  let docString: string | undefined;
  let opset: number | undefined;
  const metadata: Record<string, string> = {};
  let graph: OnnxModel['graph'] | undefined;
  for (const f of fields(bytes)) {
    switch (f.no) {
      case 1: irVersion = Number(f.varint); break;
      case 2: producerName = utf8.decode(f.bytes); break;
      case 3: producerVersion = utf8.decode(f.bytes); break;
      case 6: docString = utf8.decode(f.bytes); break;
      case 7: graph = readGraph(f.bytes); break;
      case 8: {
        let domain = '';
        let version = 0;
        for (const o of fields(f.bytes)) {
          if (o.no === 1) domain = utf8.decode(o.bytes);
          if (o.no === 2) version = Number(o.varint);
        }
        if (domain !== '' && domain !== 'ai.onnx') throw new Error(`model imports opset domain '${domain}', which is not supported`);
        opset = version;
        break;
      }
      case 14: {
        let key = '';
        let value = '';
        for (const p of fields(f.bytes)) {
          if (p.no === 1) key = utf8.decode(p.bytes);
          if (p.no === 2) value = utf8.decode(p.bytes);
        }
        metadata[key] = value;
        break;
      }
      case 20: throw new Error('model defines functions, which is not supported');
    }
  }
  if (graph === undefined) throw new Error('not an ONNX ModelProto: no graph');
  if (opset === undefined) throw new Error('model imports no default-domain opset');
  const model: OnnxModel = { graph, opset, irVersion, producerName, producerVersion };
  if (docString !== undefined) model.docString = docString;
  if (Object.keys(metadata).length > 0) model.metadata = metadata;
  return model;
}

function readGraph(buf: Uint8Array): OnnxModel['graph'] {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  let name = '';
  for (const f of fields(buf)) {
    switch (f.no) {
      case 1: nodes.push(node(f.bytes)); break;
      case 2: name = utf8.decode(f.bytes); break;
      case 5: initializers.push(tensor(f.bytes)); break;
      case 11: inputs.push(valueInfo(f.bytes)); break;
      case 12: outputs.push(valueInfo(f.bytes)); break;
      case 15: throw new Error('graph has sparse initializers, which are not supported');
    }
  }
  // Old exporters list initializers among the inputs; the writer declares only real inputs.
  const initNames = new Set(initializers.map((t) => t.name));
  return { name, nodes, initializers, inputs: inputs.filter((v) => !initNames.has(v.name)), outputs };
}
