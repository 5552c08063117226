/**
 * A small typed ONNX graph builder (default domain, opset 17).
 *
 * Each op helper appends one node and returns the name of the value it produces, branded as
 * `Value` so that a plain string (a typo, a state-dict key) cannot be passed where a graph value is
 * expected. Initializers keep references to the caller's arrays; nothing is copied until
 * `serialize()` writes the model into one buffer, or `writeModel` / `serializeModelToFile` stream
 * it (the same bytes) without ever holding it whole.
 *
 * Shape glossary in the doc comments: N batch, C channels, H/W spatial size.
 */
import type { HostTensor } from './tensor.js';
import { numel } from './tensor.js';
import {
  type ComputedFloat32, type Dim, type ElemType, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor,
  type OnnxValueInfo, serializeModel,
} from './onnx.js';

/**
 * A built network: the unserialized model, which `serializeModelToFile` (or `writeModel`) streams
 * without materialising it, and its ModelProto bytes, serialized on first read of `onnx` and kept.
 */
export interface OnnxNetwork {
  readonly model: OnnxModel;
  readonly onnx: Uint8Array;
}

/** `info` plus `model` and a lazily serialized `onnx`, so callers that only write files never hold the bytes. */
export function onnxNetwork<T extends object>(model: OnnxModel, info: T): T & OnnxNetwork {
  let bytes: Uint8Array | undefined;
  return Object.defineProperty({ ...info, model }, 'onnx', {
    enumerable: true,
    get: (): Uint8Array => (bytes ??= serializeModel(model)),
  }) as T & OnnxNetwork;
}

declare const valueBrand: unique symbol;
/** The name of a value (tensor) of the graph under construction. */
export type Value = string & { readonly [valueBrand]: true };

/** The opset our graphs are written for; onnxruntime 1.30 runs it on every provider. */
export const DEFAULT_OPSET = 17;
/** ONNX IR version 8 is the one released with opset 17. */
export const DEFAULT_IR_VERSION = 8;

export interface ConvOptions {
  /** [sH, sW], default [1, 1]. */
  strides?: readonly number[];
  /** [top, left, bottom, right], default zeros. */
  pads?: readonly number[];
  dilations?: readonly number[];
  /** Number of groups (ResNeXt's cardinality), default 1. */
  group?: number;
}

export interface PoolOptions {
  kernelShape: readonly number[];
  strides?: readonly number[];
  pads?: readonly number[];
  ceilMode?: boolean;
}

export interface ResizeOptions {
  mode: 'nearest' | 'linear' | 'cubic';
  coordinateTransformationMode?: 'half_pixel' | 'asymmetric' | 'align_corners' | 'pytorch_half_pixel';
  nearestMode?: 'floor' | 'round_prefer_floor' | 'round_prefer_ceil' | 'ceil';
  /** Output size [N, C, H, W] as an int64 value (give this or `scales`). */
  sizes?: Value;
  /** Per-axis scale factors as a float32 value. */
  scales?: Value;
}

export interface GemmOptions {
  alpha?: number;
  beta?: number;
  transA?: boolean;
  transB?: boolean;
}

/** Options every op helper accepts. */
export interface NodeOptions {
  /** Name for the produced value (e.g. a graph output's name); generated when omitted. */
  name?: string;
}

/** Attribute constructors, for `node()` calls with ops that have no helper. */
export const attr = {
  int: (value: number): OnnxAttribute => ({ type: 'int', value }),
  float: (value: number): OnnxAttribute => ({ type: 'float', value }),
  string: (value: string): OnnxAttribute => ({ type: 'string', value }),
  ints: (value: readonly number[]): OnnxAttribute => ({ type: 'ints', value }),
  floats: (value: readonly number[]): OnnxAttribute => ({ type: 'floats', value }),
  tensor: (value: OnnxTensor): OnnxAttribute => ({ type: 'tensor', value }),
};

export class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** Declares a graph input; string dims are dynamic (dim_param). */
  input(name: string, dtype: ElemType, shape: readonly Dim[]): Value {
    this.claim(name);
    this.inputs.push({ name, dtype, shape });
    return name as Value;
  }

  /** Declares `value` as a graph output called `name` (through an Identity when renamed). */
  output(value: Value, name: string, dtype: ElemType, shape: readonly Dim[]): Value {
    const out = value === name ? value : this.identity(value, { name });
    this.outputs.push({ name, dtype, shape });
    return out;
  }

  /** Adds a constant tensor (a weight) under `name`; the data is referenced, not copied. */
  initializer(name: string, tensor: HostTensor): Value {
    if (numel(tensor.shape) !== tensor.data.length) {
      throw new RangeError(`initializer '${name}': shape [${tensor.shape}] does not hold ${tensor.data.length} values`);
    }
    this.claim(name);
    this.initializers.push({ name, dtype: tensor.dtype, dims: tensor.shape, data: tensor.data });
    return name as Value;
  }

  /**
   * Adds a float32 initializer whose values are computed while the model is serialized (folded
   * weights), so a large model never holds them twice.
   */
  computedInitializer(name: string, shape: readonly number[], values: ComputedFloat32): Value {
    if (numel(shape) !== values.length) throw new RangeError(`initializer '${name}': shape [${shape}] does not hold ${values.length} values`);
    this.claim(name);
    this.initializers.push({ name, dtype: 'float32', dims: [...shape], data: values });
    return name as Value;
  }

  /** A float32 constant. */
  constFloat(values: readonly number[] | Float32Array, shape: readonly number[] = [values.length], name?: string): Value {
    return this.initializer(name ?? this.fresh('const'), { dtype: 'float32', shape: [...shape], data: Float32Array.from(values) });
  }

  /** An int64 constant (shapes, axes, slice bounds). */
  constInt64(values: readonly number[], shape: readonly number[] = [values.length], name?: string): Value {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return this.initializer(name ?? this.fresh('const'), { dtype: 'int64', shape: [...shape], data });
  }

  /**
   * Appends a node of any op of the default domain. `''` marks an omitted optional input.
   * @returns the names of its `outputs` outputs (default 1)
   */
  node(opType: string, inputs: ReadonlyArray<Value | ''>, attributes: Record<string, OnnxAttribute> = {},
    options: NodeOptions & { outputs?: number } = {}): Value[] {
    const count = options.outputs ?? 1;
    const outs: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = i === 0 && options.name !== undefined ? options.name : this.fresh(opType);
      this.claim(name);
      outs.push(name);
    }
    this.nodes.push({ opType, name: `${opType}_${this.nodes.length}`, inputs, outputs: outs, attributes });
    return outs as Value[];
  }

  private one(opType: string, inputs: ReadonlyArray<Value | ''>, attributes: Record<string, OnnxAttribute>, o?: NodeOptions): Value {
    return this.node(opType, inputs, attributes, o)[0];
  }

  /** Conv: x [N, Cin, H, W], w [Cout, Cin/group, kH, kW], b [Cout] -> [N, Cout, H', W']. */
  conv(x: Value, w: Value, b: Value | undefined, opts: ConvOptions = {}, o?: NodeOptions): Value {
    // Strides and dilations are always written: onnxruntime-web's WebGPU Conv refuses a node
    // without 2-D dilations, though ONNX defaults them to 1.
    const a: Record<string, OnnxAttribute> = {
      group: attr.int(opts.group ?? 1),
      strides: attr.ints(opts.strides ?? [1, 1]),
      dilations: attr.ints(opts.dilations ?? [1, 1]),
    };
    if (opts.pads) a.pads = attr.ints(opts.pads);
    return this.one('Conv', b === undefined ? [x, w] : [x, w, b], a, o);
  }

  /** ConvTranspose: x [N, Cin, H, W], w [Cin, Cout/group, kH, kW], b [Cout]. */
  convTranspose(x: Value, w: Value, b: Value | undefined, opts: ConvOptions = {}, o?: NodeOptions): Value {
    // Strides and dilations are always written: onnxruntime-web's WebGPU Conv refuses a node
    // without 2-D dilations, though ONNX defaults them to 1.
    const a: Record<string, OnnxAttribute> = {
      group: attr.int(opts.group ?? 1),
      strides: attr.ints(opts.strides ?? [1, 1]),
      dilations: attr.ints(opts.dilations ?? [1, 1]),
    };
    if (opts.pads) a.pads = attr.ints(opts.pads);
    return this.one('ConvTranspose', b === undefined ? [x, w] : [x, w, b], a, o);
  }

  relu(x: Value, o?: NodeOptions): Value { return this.one('Relu', [x], {}, o); }
  sigmoid(x: Value, o?: NodeOptions): Value { return this.one('Sigmoid', [x], {}, o); }
  identity(x: Value, o?: NodeOptions): Value { return this.one('Identity', [x], {}, o); }
  add(a: Value, b: Value, o?: NodeOptions): Value { return this.one('Add', [a, b], {}, o); }
  sub(a: Value, b: Value, o?: NodeOptions): Value { return this.one('Sub', [a, b], {}, o); }
  mul(a: Value, b: Value, o?: NodeOptions): Value { return this.one('Mul', [a, b], {}, o); }
  div(a: Value, b: Value, o?: NodeOptions): Value { return this.one('Div', [a, b], {}, o); }
  matMul(a: Value, b: Value, o?: NodeOptions): Value { return this.one('MatMul', [a, b], {}, o); }

  /** MaxPool over the trailing spatial axes. */
  maxPool(x: Value, opts: PoolOptions, o?: NodeOptions): Value {
    const a: Record<string, OnnxAttribute> = { kernel_shape: attr.ints(opts.kernelShape) };
    if (opts.strides) a.strides = attr.ints(opts.strides);
    if (opts.pads) a.pads = attr.ints(opts.pads);
    if (opts.ceilMode) a.ceil_mode = attr.int(1);
    return this.one('MaxPool', [x], a, o);
  }

  /** Resize (opset 13+ form: X, roi, scales, sizes). */
  resize(x: Value, opts: ResizeOptions, o?: NodeOptions): Value {
    if ((opts.sizes === undefined) === (opts.scales === undefined)) throw new Error('resize: give exactly one of sizes or scales');
    const a: Record<string, OnnxAttribute> = { mode: attr.string(opts.mode) };
    if (opts.coordinateTransformationMode) a.coordinate_transformation_mode = attr.string(opts.coordinateTransformationMode);
    if (opts.nearestMode) a.nearest_mode = attr.string(opts.nearestMode);
    return this.one('Resize', [x, '', opts.scales ?? '', opts.sizes ?? ''], a, o);
  }

  /** Gemm: Y = alpha * A' B' + beta * C, with A' = transA ? A^T : A (2-D operands). */
  gemm(a: Value, b: Value, c: Value | undefined, opts: GemmOptions = {}, o?: NodeOptions): Value {
    const at: Record<string, OnnxAttribute> = {};
    if (opts.alpha !== undefined) at.alpha = attr.float(opts.alpha);
    if (opts.beta !== undefined) at.beta = attr.float(opts.beta);
    if (opts.transA) at.transA = attr.int(1);
    if (opts.transB) at.transB = attr.int(1);
    return this.one('Gemm', c === undefined ? [a, b] : [a, b, c], at, o);
  }

  /** Flatten to 2-D: [d0..d(axis-1)] x [d(axis)..]. */
  flatten(x: Value, axis = 1, o?: NodeOptions): Value { return this.one('Flatten', [x], { axis: attr.int(axis) }, o); }
  reshape(x: Value, shape: Value, o?: NodeOptions): Value { return this.one('Reshape', [x, shape], {}, o); }
  transpose(x: Value, perm: readonly number[], o?: NodeOptions): Value { return this.one('Transpose', [x], { perm: attr.ints(perm) }, o); }
  concat(xs: readonly Value[], axis: number, o?: NodeOptions): Value { return this.one('Concat', xs, { axis: attr.int(axis) }, o); }
  softmax(x: Value, axis = -1, o?: NodeOptions): Value { return this.one('Softmax', [x], { axis: attr.int(axis) }, o); }

  /** Shape of x (int64), optionally the axes [start, end) only (opset 15+). */
  shape(x: Value, start?: number, end?: number, o?: NodeOptions): Value {
    const a: Record<string, OnnxAttribute> = {};
    if (start !== undefined) a.start = attr.int(start);
    if (end !== undefined) a.end = attr.int(end);
    return this.one('Shape', [x], a, o);
  }

  /** Slice with constant bounds along `axes`. */
  slice(x: Value, starts: readonly number[], ends: readonly number[], axes: readonly number[], o?: NodeOptions): Value {
    return this.one('Slice', [x, this.constInt64(starts), this.constInt64(ends), this.constInt64(axes)], {}, o);
  }

  /** The model: the graph plus opset and producer. */
  toModel(options: { opset?: number; docString?: string; metadata?: Record<string, string> } = {}): OnnxModel {
    if (this.outputs.length === 0) throw new Error(`graph '${this.name}' has no outputs`);
    return {
      graph: { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs },
      opset: options.opset ?? DEFAULT_OPSET,
      irVersion: DEFAULT_IR_VERSION,
      producerName: 'resdet',
      producerVersion: '0.1.0',
      docString: options.docString,
      metadata: options.metadata,
    };
  }

  /** ModelProto bytes, written into one buffer of the exact size. */
  serialize(options?: Parameters<GraphBuilder['toModel']>[0]): Uint8Array {
    return serializeModel(this.toModel(options));
  }

  private fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`; while (this.names.has(name));
    return name;
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`graph '${this.name}': value name '${name}' is already used`);
    this.names.add(name);
  }
}
