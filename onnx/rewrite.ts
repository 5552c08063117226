/**
 * Small rewrites of serialized ONNX models that keep everything else byte for byte: renaming graph
 * outputs (through Identity nodes), e.g. because torch.onnx.export refuses the numeric names
 * ('0', '1', ...) that torchvision's FPN levels carry.
 */
import { ProtoMessage, encodeMessage, readFields } from './protobuf.js';

const utf8 = new TextDecoder();

/** Copies a field through unchanged. */
function passThrough(m: ProtoMessage, f: { no: number; wire: number; varint: bigint; bytes: Uint8Array }): void {
  if (f.wire === 0) m.varint(f.no, f.varint);
  else m.bytes(f.no, f.bytes);
}

function renamedValueInfo(valueInfo: Uint8Array, name: string): ProtoMessage {
  const m = new ProtoMessage();
  for (const f of readFields(valueInfo)) {
    if (f.no === 1) m.string(1, name);
    else passThrough(m, f);
  }
  return m;
}

function rewriteGraph(graph: Uint8Array, renames: ReadonlyMap<string, string>): ProtoMessage {
  const m = new ProtoMessage();
  const found = new Set<string>();
  for (const f of readFields(graph)) {
    if (f.no !== 12) {
      passThrough(m, f);
      continue;
    }
    let name = '';
    for (const v of readFields(f.bytes)) if (v.no === 1) name = utf8.decode(v.bytes);
    const to = renames.get(name);
    if (to === undefined) {
      passThrough(m, f);
      continue;
    }
    found.add(name);
    m.message(12, renamedValueInfo(f.bytes, to));
    // NodeProto: input 1, output 2, name 3, op_type 4
    m.message(1, new ProtoMessage().string(1, name).string(2, to).string(3, `rename_output_${to}`).string(4, 'Identity'));
  }
  for (const from of renames.keys()) if (!found.has(from)) throw new Error(`model has no output '${from}' to rename`);
  return m;
}

/**
 * Renames graph outputs: `renames` maps a current output name to the new one. The new names must
 * not already name a value of the graph.
 * @returns new ModelProto bytes (one copy of the model)
 */
export function renameOutputs(model: Uint8Array, renames: ReadonlyMap<string, string>): Uint8Array {
  const m = new ProtoMessage();
  let sawGraph = false;
  for (const f of readFields(model)) {
    if (f.no === 7 && f.wire === 2) {
      m.message(7, rewriteGraph(f.bytes, renames));
      sawGraph = true;
    } else {
      passThrough(m, f);
    }
  }
  if (!sawGraph) throw new Error('not an ONNX ModelProto: no graph');
  return encodeMessage(m);
}
