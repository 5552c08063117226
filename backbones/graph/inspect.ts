/**
 * Reads the interface of an ONNX model (graph inputs/outputs, opsets) from its bytes, without a
 * runtime: enough to check a user's model against the pyramid it claims to emit. Initializers are
 * skipped by length, never decoded.
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

/**
 * Reads the declared interface of a serialized ModelProto.
 * @throws Error when the bytes are not a ModelProto with a graph
 */
export function readModelInterface(model: Uint8Array): ModelInterface {
  const out: ModelInterface = { irVersion: 0, opsets: new Map(), inputs: [], outputs: [], initializerNames: new Set() };
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
    if (f.no === 5) {
      for (const t of fields(f.bytes)) if (t.no === 8) out.initializerNames.add(utf8.decode(t.bytes));
    }
  }
  return out;
}
