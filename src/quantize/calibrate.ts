/**
 * Calibration of activation ranges for the int8 variant: the package's fp32 networks, each with
 * the activations to be quantized exposed as extra outputs, run by the ordinary detector on the
 * calibration images (every stage as `detect` runs it, so the heads see real proposals and
 * detections); each activation's values are summarised as they arrive.
 *
 * Two rules turn the summaries into ranges: 'minmax' (the extremes seen) and 'percentile' (the
 * `percentile`-th and (100 - `percentile`)-th percentiles of the values, so rare outliers do not
 * stretch the scale; estimated from a strided sample of each tensor).
 */
import { type OnnxModel, serializeModel } from '../../onnx/index.js';
import type { InferenceSession, OrtModule, Tensor } from '../runtime/index.js';
import type { ActivationRange } from './int8.js';

export type CalibrationMethod = 'minmax' | 'percentile';

/** Values kept per tensor per run for the percentile estimate. */
const SAMPLE_PER_RUN = 16384;

/** Running extremes and a strided sample of one activation's values. */
class ActivationSummary {
  min = Infinity;
  max = -Infinity;
  private readonly samples: Float32Array[] = [];

  observe(data: Float32Array): void {
    let min = this.min;
    let max = this.max;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.min = min;
    this.max = max;
    const stride = Math.max(1, Math.floor(data.length / SAMPLE_PER_RUN));
    const sample = new Float32Array(Math.ceil(data.length / stride));
    for (let i = 0, k = 0; i < data.length; i += stride) sample[k++] = data[i];
    this.samples.push(sample);
  }

  range(method: CalibrationMethod, percentile: number): ActivationRange {
    if (method === 'minmax') return { min: this.min, max: this.max };
    const all = new Float32Array(this.samples.reduce((n, s) => n + s.length, 0));
    let at = 0;
    for (const s of this.samples) { all.set(s, at); at += s.length; }
    all.sort();
    const pick = (p: number) => all[Math.min(all.length - 1, Math.max(0, Math.round((p / 100) * (all.length - 1))))];
    return { min: pick(100 - percentile), max: pick(percentile) };
  }
}

/** The activations observed for each network, by network role then value name. */
export class CalibrationStats {
  private readonly byNetwork = new Map<string, Map<string, ActivationSummary>>();
  runs = 0;

  observe(network: string, name: string, data: Float32Array): void {
    let m = this.byNetwork.get(network);
    if (!m) this.byNetwork.set(network, (m = new Map()));
    let s = m.get(name);
    if (!s) m.set(name, (s = new ActivationSummary()));
    s.observe(data);
  }

  /** The ranges of one network's activations under a rule. */
  ranges(network: string, method: CalibrationMethod, percentile = 99.99): Map<string, ActivationRange> {
    const out = new Map<string, ActivationRange>();
    for (const [name, s] of this.byNetwork.get(network) ?? []) out.set(name, s.range(method, percentile));
    return out;
  }
}

/** `model` with `names` (values it computes) added as float32 outputs of undeclared shape. */
export function exposeActivations(model: OnnxModel, names: readonly string[]): OnnxModel {
  const declared = new Set([...model.graph.inputs, ...model.graph.outputs].map((v) => v.name));
  const extra = names.filter((n) => !declared.has(n)).map((name) => ({ name, dtype: 'float32' as const, shape: undefined }));
  return { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...extra] } };
}

/**
 * An OrtModule whose sessions, created from the given calibration bytes, record the named
 * activations (found among a run's outputs or, for graph inputs, its feeds) into `stats`.
 */
export function recordingOrt(ort: OrtModule, networks: ReadonlyMap<Uint8Array, { role: string; names: readonly string[] }>, stats: CalibrationStats): OrtModule {
  return {
    Tensor: ort.Tensor,
    InferenceSession: {
      async create(bytes: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> {
        const session = await ort.InferenceSession.create(bytes, options);
        const watched = networks.get(bytes);
        if (!watched) return session;
        const run = async (feeds: Record<string, Tensor>): Promise<InferenceSession.ReturnType> => {
          const out = await session.run(feeds);
          stats.runs++;
          for (const name of watched.names) {
            const t = out[name] ?? feeds[name];
            if (t && t.type === 'float32') stats.observe(watched.role, name, t.data as Float32Array);
          }
          return out;
        };
        return {
          inputNames: session.inputNames,
          outputNames: session.outputNames,
          run,
          release: () => session.release(),
        } as unknown as InferenceSession;
      },
    },
  };
}

/** Serialized calibration networks: the model with its activations exposed. */
export function calibrationBytes(model: OnnxModel, names: readonly string[]): Uint8Array {
  return serializeModel(exposeActivations(model, names));
}
