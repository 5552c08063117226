/**
 * The shared ONNX leaf: host tensor types, a typed graph builder, the ModelProto writer and a
 * reader for a model's declared interface and a whole-model reader (readModel), float16 conversion.
 * Imports nothing else of ours. Writing a model to a
 * file (`serializeModelToFile`) is Node-only and lives in `./onnxFile.js`, outside this index.
 */
export type { HostDType, HostTensor, StateDict } from './tensor.js';
export { numel } from './tensor.js';
export {
  type ConvOptions, type GemmOptions, type NodeOptions, type PoolOptions, type ResizeOptions, type Value,
  type OnnxNetwork, DEFAULT_IR_VERSION, DEFAULT_OPSET, GraphBuilder, attr, onnxNetwork,
} from './builder.js';
export {
  type ComputedFloat32, type Dim, type ElemType, type OnnxAttribute, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxTensor,
  type OnnxTensorDType, type OnnxValueInfo, ELEM_TYPE, serializeModel, writeModel,
} from './onnx.js';
export { type DeclaredValue, type ModelInterface, readModelInterface } from './inspect.js';
export {
  type ByteSink, type ByteSource, type RawField, ProtoMessage, ProtoWriter, encodeMessage, readFields, streamMessage, varintSize,
} from './protobuf.js';
export { renameOutputs } from './rewrite.js';
export { float16Bits, float16Value, fromFloat16, toFloat16 } from './float16.js';
export { readModel } from './read.js';
