/**
 * The ONNX Runtime seam. The detector is written against onnxruntime-common's API, which
 * onnxruntime-node and onnxruntime-web both implement; each entry point (src/index.ts for Node,
 * src/browser.ts for browsers) passes in its own runtime, so neither imports the other.
 * Exports: OrtModule, Provider, SessionOptions helpers, ProviderUnavailableError.
 */
import { ResdetError } from '../../postprocess/errors.js';
import type { InferenceSession, Tensor } from 'onnxruntime-common';

/** The part of an onnxruntime package the detector uses. */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: typeof Tensor;
}

export type { InferenceSession, Tensor };

/** Execution providers resdet runs on: Node has cpu, cuda, webgpu; browsers webgpu and wasm. */
export type Provider = 'cpu' | 'cuda' | 'webgpu' | 'wasm';

/** A provider that is not available in this runtime or on this machine, and what to do about it. */
export class ProviderUnavailableError extends ResdetError {
  constructor(readonly provider: string, message: string, options?: { cause?: unknown }) {
    super('PROVIDER_UNAVAILABLE', `provider '${provider}': ${message}`, options);
  }
}

export interface RuntimeOptions {
  provider?: Provider;
  /**
   * Threads per ONNX Runtime operator (CPU provider; in browsers the WASM threads, which need a
   * cross-origin isolated page); default: ONNX Runtime's choice.
   */
  threads?: number;
  /**
   * Browsers only: the URL of the folder serving onnxruntime-web's `dist/` files
   * (`ort-wasm-simd-threaded*.wasm` and `.mjs`), when they are not next to the onnxruntime-web
   * module or the bundle holding it. Sets onnxruntime-web's `env.wasm.wasmPaths`.
   */
  wasmPaths?: string | URL;
  /**
   * What to do when `provider` cannot start (no WebGPU adapter, no CUDA files): unset (default),
   * throw a ProviderUnavailableError saying how to get it; 'cpu', run on the CPU provider (in
   * browsers: WASM) and say so in `detector.provider`, `result.provider` and `result.providerFallback`.
   */
  fallback?: 'cpu';
  /**
   * The lowest severity of onnxruntime's own log lines that are printed (default 'error'): its
   * warnings, such as "Some nodes were not assigned to the preferred execution providers" (shape
   * computations it keeps on the CPU by design), are not printed at users unless asked for.
   */
  logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /**
   * Provider 'webgpu' only: where non-maximum suppression computes its IoUs. 'cpu' (default): the
   * boxes are on the CPU already, so nothing is read back. 'gpu': the IoU bitmask of the
   * score-sorted boxes is computed on the GPU and scanned on the CPU, as torchvision's CUDA kernel
   * does (equal results; reads back N * N / 8 bytes per NMS, e.g. 128 KB for an RPN level's 1000
   * boxes). Any other provider refuses 'gpu' with a RuntimeOptionsError.
   */
  nms?: 'cpu' | 'gpu';
}

/** A `loadModel` option with a value it does not accept, or one the provider cannot honour. */
export class RuntimeOptionsError extends ResdetError {
  constructor(readonly option: string, message: string) {
    super('RUNTIME_OPTIONS', `loadModel option '${option}' ${message}`);
  }
}

/**
 * Checks the options that depend on the provider.
 * @param provider the provider the detector runs on
 * @param fellBack whether `fallback` replaced the one asked for (then GPU-only choices fall back too)
 * @returns where NMS runs
 * @throws RuntimeOptionsError for an unknown `nms` value, or 'gpu' on a provider without it
 */
export function nmsPlacement(options: RuntimeOptions, provider: Provider, fellBack: boolean): 'cpu' | 'gpu' {
  const nms = options.nms ?? 'cpu';
  if (nms !== 'cpu' && nms !== 'gpu') throw new RuntimeOptionsError('nms', `must be 'cpu' or 'gpu', got ${JSON.stringify(nms)}`);
  if (nms === 'gpu' && provider !== 'webgpu') {
    if (fellBack) return 'cpu';
    throw new RuntimeOptionsError('nms', `'gpu' needs provider 'webgpu' (got '${provider}'): load with { provider: 'webgpu', nms: 'gpu' }, or leave nms unset`);
  }
  return nms;
}

const LOG_SEVERITY = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 } as const;

/**
 * Session options for a provider: full graph optimisation, the CPU as fallback for other
 * providers, and thread pools that sleep between operators instead of spinning. Spinning threads
 * take the cores that the TypeScript between the networks (and other jobs) need: on this
 * project's 2-core machine under load, 2 threads took 466-653 ms per bundled-model image with
 * spinning, 260-263 ms without, 1 thread 237-295 ms.
 */
export function sessionOptions(options: RuntimeOptions): InferenceSession.SessionOptions {
  const provider = options.provider ?? 'cpu';
  return {
    executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: LOG_SEVERITY[options.logLevel ?? 'error'],
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}
