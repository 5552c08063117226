/**
 * Calibration of activation ranges for the int8 variant: the package's fp32 networks, each with
 * the activations to be quantized exposed as extra outputs, run by the ordinary detector on the
 * calibration images (every stage as `detect` runs it, so the heads see real proposals and
 * detections); each activation's values are summarised as they arrive.
 *
 * Three rules turn the summaries into ranges: 'minmax' (the extremes seen), 'percentile' (the
 * `percentile`-th and (100 - `percentile`)-th percentiles of the values, so rare outliers do not
 * stretch the scale) and 'entropy' (per side of zero, the clipping threshold whose 128-level
 * quantized histogram is closest, by KL divergence, to the values' 2048-bin histogram, as
 * TensorRT's entropy calibration). Percentile and entropy read a strided sample of each tensor.
 */
import { type OnnxModel, serializeModel } from '../../onnx/index.js';
import type { InferenceSession, OrtModule, Tensor } from '../runtime/index.js';
import type { ActivationRange } from './int8.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

/** Bins of the value histogram, and the levels it is quantized to, in the entropy search. */
const HISTOGRAM_BINS = 2048;
const QUANTIZED_BINS = 128;

/**
 * The threshold T minimising KL(P || Q), P the histogram of |values| (over their own interval
 * [min |v|, max |v|]) clipped at T (outliers
 * folded into its last bin), Q the histogram's bins below T (without the outliers) merged into
 * QUANTIZED_BINS levels and spread back evenly over each level's non-empty bins. Thresholds are
 * tried every 8 bins. Returns T in the values' units.
 */
export function entropyThreshold(values: Float32Array): number {
  let minAbs = Infinity;
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > maxAbs) maxAbs = a;
    if (a < minAbs) minAbs = a;
  }
  if (maxAbs === 0) return 0;
  // The histogram spans the values' own interval, so a side far from zero (a logit map that is
  // all below -8) is clipped in its tail, not collapsed onto its nearest value.
  const width = (maxAbs - minAbs) / HISTOGRAM_BINS;
  if (width === 0) return maxAbs;
  const hist = new Float64Array(HISTOGRAM_BINS);
  for (let i = 0; i < values.length; i++) hist[Math.min(HISTOGRAM_BINS - 1, Math.floor((Math.abs(values[i]) - minAbs) / width))]++;
  const above = new Float64Array(HISTOGRAM_BINS + 1); // above[i]: values in bins >= i
  for (let i = HISTOGRAM_BINS - 1; i >= 0; i--) above[i] = above[i + 1] + hist[i];
  let best = HISTOGRAM_BINS;
  let bestKl = Infinity;
  const p = new Float64Array(HISTOGRAM_BINS);
  const q = new Float64Array(HISTOGRAM_BINS);
  for (let end = QUANTIZED_BINS; end <= HISTOGRAM_BINS; end += 8) {
    p.set(hist.subarray(0, end));
    p[end - 1] += above[end];
    // Q: each of QUANTIZED_BINS levels holds the sum of its bins, spread over those that are non-empty.
    const per = end / QUANTIZED_BINS;
    for (let level = 0; level < QUANTIZED_BINS; level++) {
      const from = Math.floor(level * per);
      const to = level === QUANTIZED_BINS - 1 ? end : Math.floor((level + 1) * per);
      let sum = 0;
      let nonEmpty = 0;
      for (let i = from; i < to; i++) {
        sum += hist[i];
        if (hist[i] > 0) nonEmpty++;
      }
      for (let i = from; i < to; i++) q[i] = hist[i] > 0 ? sum / nonEmpty : 0;
    }
    let pSum = 0;
    let qSum = 0;
    for (let i = 0; i < end; i++) { pSum += p[i]; qSum += q[i]; }
    let kl = 0;
    for (let i = 0; i < end; i++) {
      if (p[i] === 0) continue;
      // Where Q lost all of P's mass (an empty last bin holding the folded outliers): smoothed, as
      // onnxruntime's calibrator does, rather than infinite.
      kl += (p[i] / pSum) * Math.log((p[i] / pSum) / Math.max(q[i] / qSum, 1e-4 / end));
    }
    if (kl < bestKl) { bestKl = kl; best = end; }
  }
  return minAbs + best * width;
}

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
    if (method === 'entropy') {
      // Each side on its own, zeros left out: uint8 activations are asymmetric (a ReLU's have no
      // negative side, a logit map can be all negative), and zero is exact under any range, so the
      // zeros of a ReLU would only pull its threshold down.
      const side = (sign: 1 | -1) => entropyThreshold(all.filter((v) => sign * v > 0));
      return { min: Math.max(this.min, -side(-1)), max: Math.min(this.max, side(1)) };
    }
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
