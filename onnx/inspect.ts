/**
 * Reads the interface of an ONNX model (graph inputs/outputs, opsets) from its bytes, without a
 * runtime: enough to check a user's model against the pyramid it claims to emit, and a package's
 * heads against its config (class count from initializer dims, pooled size from RoiAlign nodes).
 * Initializer data is skipped by length, never decoded.
 */
import type { Dim } from './onnx.js';
import { readFields as fields } from './protobuf.js';

/** A graph input or output as declared in the model; elemType is TensorProto.DataType's code. */
export interface DeclaredValue {
  name: string;
  elemType: number;
  /** undefined when the model declares no shape */
  shape?: Dim[];
}

export interface ModelInterface {
  irVersion: number;
  /** domain ('' for the default one) -> version */
  opsets: Map<string, number>;
  inputs: DeclaredValue[];
  outputs: DeclaredValue[];
  /** Names of the graph's initializers, which old exporters also list as inputs. */
  initializerNames: Set<string>;
  /** Initializer name -> its dims (the data itself is never read). */
  initializerShapes: Map<string, number[]>;
  /** The graph's nodes (top level, not inside subgraphs), with their integer attributes. */
  nodes: DeclaredNode[];
}

/** A node of the graph: enough to read the sizes a head bakes in (RoiAlign's output size). */
export interface DeclaredNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Attributes with an integer value (AttributeProto.i), by name. */
  ints: Map<string, number>;
}

const utf8 = new TextDecoder();

function valueInfo(buf: Uint8Array): DeclaredValue {
  const v: DeclaredValue = { name: '', elemType: 0 };
  for (const f of fields(buf)) {
    if (f.no === 1) v.name = utf8.decode(f.bytes);
    if (f.no !== 2) continue;
    for (const t of fields(f.bytes)) {
      if (t.no !== 1) continue; // TypeProto.tensor_type
      for (const tt of fields(t.bytes)) {
        if (tt.no === 1) v.elemType = Number(tt.varint);
        if (tt.no === 2) v.shape = shapeOf(tt.bytes);
      }
    }
  }
  return v;
}

function shapeOf(buf: Uint8Array): Dim[] {
  const dims: Dim[] = [];
  for (const d of fields(buf)) {
    if (d.no !== 1) continue;
    let dim: Dim = '?';
    for (const x of fields(d.bytes)) {
      if (x.no === 1) dim = Number(x.varint);
      if (x.no === 2) dim = utf8.decode(x.bytes);
    }
    dims.push(dim);
  }
  return dims;
}

/** Varints of a repeated int64 field, packed (wire type 2) or one per field (wire type 0). */
function pushInts(out: number[], f: { wire: number; varint: bigint; bytes: Uint8Array }): void {
  if (f.wire === 0) { out.push(Number(BigInt.asIntN(64, f.varint))); return; }
  let value = 0n;
  let shift = 0n;
  for (const b of f.bytes) {
    value |= BigInt(b & 127) << shift;
    shift += 7n;
    if (b < 128) { out.push(Number(BigInt.asIntN(64, value))); value = 0n; shift = 0n; }
  }
}

/** TensorProto: name (8) and dims (1); raw_data and the typed data fields are skipped. */
function initializer(buf: Uint8Array): { name: string; dims: number[] } {
  const t = { name: '', dims: [] as number[] };
  for (const f of fields(buf)) {
    if (f.no === 8 && f.wire === 2) t.name = utf8.decode(f.bytes);
    if (f.no === 1) pushInts(t.dims, f);
  }
  return t;
}

/** NodeProto: input (1), output (2), op_type (4), attribute (5: name 1, i 3). */
function node(buf: Uint8Array): DeclaredNode {
  const n: DeclaredNode = { opType: '', inputs: [], outputs: [], ints: new Map() };
  for (const f of fields(buf)) {
    if (f.wire !== 2) continue;
    if (f.no === 1) n.inputs.push(utf8.decode(f.bytes));
    if (f.no === 2) n.outputs.push(utf8.decode(f.bytes));
    if (f.no === 4) n.opType = utf8.decode(f.bytes);
    if (f.no !== 5) continue;
    let name = '';
    let i: number | undefined;
    for (const a of fields(f.bytes)) {
      if (a.no === 1 && a.wire === 2) name = utf8.decode(a.bytes);
      if (a.no === 3 && a.wire === 0) i = Number(BigInt.asIntN(64, a.varint));
    }
    if (i !== undefined) n.ints.set(name, i);
  }
  return n;
}

/**
 * Reads the declared interface of a serialized ModelProto.
 * @throws Error when the bytes are not a ModelProto with a graph
 */
export function readModelInterface(model: Uint8Array): ModelInterface {
  const out: ModelInterface = {
    irVersion: 0, opsets: new Map(), inputs: [], outputs: [], initializerNames: new Set(), initializerShapes: new Map(), nodes: [],
  };
  let graph: Uint8Array | undefined;
  for (const f of fields(model)) {
    if (f.no === 1 && f.wire === 0) out.irVersion = Number(f.varint);
    if (f.no === 7 && f.wire === 2) graph = f.bytes;
    if (f.no === 8 && f.wire === 2) {
      let domain = '';
      let version = 0;
      for (const o of fields(f.bytes)) {
        if (o.no === 1) domain = utf8.decode(o.bytes);
        if (o.no === 2) version = Number(o.varint);
      }
      out.opsets.set(domain, version);
    }
  }
  if (!graph) throw new Error('not an ONNX ModelProto: no graph');
  for (const f of fields(graph)) {
    if (f.wire !== 2) continue;
    if (f.no === 11) out.inputs.push(valueInfo(f.bytes));
    if (f.no === 12) out.outputs.push(valueInfo(f.bytes));
    if (f.no === 1) out.nodes.push(node(f.bytes));
    if (f.no === 5) {
      const t = initializer(f.bytes);
      out.initializerNames.add(t.name);
      out.initializerShapes.set(t.name, t.dims);
    }
  }
  return out;
}
