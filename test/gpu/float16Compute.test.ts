import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { KEEP_FLOAT32, buildFloat16Probe, predictorLayers, retargetHeadPooling, toFloat16Compute, valueTypes } from '../../gpu/index.js';
import { type OnnxModel, readModel, serializeModel } from '../../onnx/index.js';
import { createDetector, probeFloat16 } from '../../src/detector/index.js';
import { decodeImage } from '../../src/image/decode.js';
import { type ModelPackage, readModelPackage } from '../../src/modelPackage/index.js';
import { quantizePackage } from '../../src/quantize/index.js';
import type { InferenceSession, OrtModule } from '../../src/runtime/index.js';
import { matchDetections } from '../helpers/matching.js';
import { resdetDetections } from '../helpers/parity.js';
import { repoRoot } from '../helpers/reference.js';

const LAYERS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);
const SAMPLES = [1, 2, 3, 4].map((i) => join(repoRoot, 'samples', `shapes-${i}.png`));
type Role = 'backbone' | 'rpnHead' | 'boxHead' | 'maskHead';
const ROLES: Role[] = ['backbone', 'rpnHead', 'boxHead', 'maskHead'];

/**
 * An onnxruntime-node whose sessions run on the CPU whatever provider they name, with graph
 * optimisations off for the float16 graphs: with them on, the CPU provider (which has few float16
 * kernels and computes through inserted Casts) folds the float16 round trips away; off, every
 * value between two nodes is rounded to float16, as a float16 GPU kernel stores it. `created`
 * records each session's graph.
 */
function cpuStandIn(options: { failFloat16?: boolean } = {}): OrtModule & { created: OnnxModel[] } {
  const created: OnnxModel[] = [];
  return {
    Tensor: ort.Tensor as unknown as OrtModule['Tensor'],
    created,
    InferenceSession: {
      async create(bytes: Uint8Array, o: InferenceSession.SessionOptions = {}): Promise<InferenceSession> {
        const model = readModel(bytes);
        created.push(model);
        const half = model.metadata?.['resdet.compute'] === 'fp16';
        if (half && options.failFloat16) throw new Error('Program Conv requires f16 but the device does not support it.');
        const { preferredOutputLocation: _gpu, ...rest } = o;
        return ort.InferenceSession.create(bytes, { ...rest, executionProviders: ['cpu'], ...(half ? { graphOptimizationLevel: 'disabled' } : {}) }) as unknown as Promise<InferenceSession>;
      },
    },
  };
}

/** Every node's float inputs agree on one type (Casts aside), as onnxruntime's type check demands. */
function expectConsistentTypes(model: OnnxModel, what: string): void {
  const types = valueTypes(model);
  for (const n of model.graph.nodes) {
    if (n.opType === 'Cast' || n.opType === 'Shape' || n.opType === 'Resize') continue;
    const floats = new Set(n.inputs.filter((i) => i).map((i) => types.get(i)).filter((t) => t === 'float32' || t === 'float16'));
    expect(floats.size, `${what}: ${n.opType} ${n.name} reads ${[...floats].join(' and ')}`).to.be.at.most(1);
  }
}

/**
 * gpu/float16Compute.ts on the bundled model's fp16 networks, as the WebGPU detector creates them
 * where the adapter has shader-f16 (heads re-targeted at GridSample pooling): the structure, the
 * graphs run (on the CPU provider, float16 rounding between nodes kept), detections against fp32,
 * and when the detector chooses float16 compute.
 */
describe('float16 compute for WebGPU (toFloat16Compute, the shader-f16 probe)', function () {
  this.timeout(600_000);
  let work: string;
  let pkg: ModelPackage;
  let fp32: ModelPackage;
  const halfModels = new Map<Role, OnnxModel>();
  const sources = new Map<Role, OnnxModel>();

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'resdet-fp16-compute-'));
    await quantizePackage(join(repoRoot, 'models', 'shapes'), { dtype: 'fp16', out: join(work, 'fp16') });
    pkg = readModelPackage(join(work, 'fp16'), { dtype: 'fp16' });
    fp32 = readModelPackage(join(repoRoot, 'models', 'shapes'));
    for (const role of ROLES) {
      let model = readModel(pkg.files[role]!);
      if (role === 'boxHead' || role === 'maskHead') model = retargetHeadPooling(model, 'webgpu');
      sources.set(role, model);
      // As the WebGPU detector rewrites them (src/detector/operators.ts).
      halfModels.set(role, toFloat16Compute(model, { float32Predictors: role !== 'backbone' }).model);
    }
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it("keeps each network's float32 interface; every layer reads float16 weights and data, the heads' predictors float32; GridSample reads float32", () => {
    for (const role of ROLES) {
      const source = sources.get(role)!;
      const half = halfModels.get(role)!;
      expect(half.graph.inputs, role).to.deep.equal(source.graph.inputs);
      expect(half.graph.outputs, role).to.deep.equal(source.graph.outputs);
      const types = valueTypes(half);
      const layers = half.graph.nodes.filter((n) => LAYERS.has(n.opType));
      const predictors = new Set(role === 'backbone' ? [] : [...predictorLayers(source)].map((n) => n.name));
      expect(predictors.size, `${role}: predictors`).to.equal({ backbone: 0, rpnHead: 10, boxHead: 2, maskHead: 1 }[role]);
      expect(layers.length, role).to.be.above(predictors.size);
      for (const n of layers) {
        const want = predictors.has(n.name) ? 'float32' : 'float16';
        for (const i of n.inputs.filter((x) => x)) expect(types.get(i), `${role}: ${n.opType} ${n.name} input ${i}`).to.equal(want);
      }
      for (const n of half.graph.nodes.filter((x) => KEEP_FLOAT32.has(x.opType))) {
        for (const i of n.inputs) if (types.get(i) === 'float16') expect.fail(`${role}: ${n.opType} ${n.name} reads float16 ${i}`);
      }
      for (const o of half.graph.outputs) expect(types.get(o.name), `${role} output ${o.name}`).to.equal('float32');
      expectConsistentTypes(half, role);
      // The fp16 package's weight Casts to float32 are gone: layers read the stored float16 tensors.
      const stored = new Set(half.graph.initializers.map((t) => t.name));
      for (const n of layers.filter((x) => !predictors.has(x.name))) {
        for (const w of n.inputs.slice(1, 3).filter((x) => x)) expect(stored.has(w), `${role}: ${n.name} reads ${w} through a node`).to.equal(true);
      }
      expect(half.metadata?.['resdet.compute']).to.equal('fp16');
    }
    const pooling = halfModels.get('boxHead')!.graph.nodes.filter((n) => n.opType === 'GridSample');
    expect(pooling.length).to.equal(4);
  });

  it('a float32 network gets its float32 weights converted, and a graph output computed in float16 a Cast back', () => {
    const { model, report } = toFloat16Compute(readModel(fp32.files.backbone), { float32Predictors: false });
    const types = valueTypes(model);
    expect(model.graph.initializers.filter((t) => t.dims.length === 4).every((t) => t.dtype === 'float16')).to.equal(true);
    for (const o of model.graph.outputs) {
      const producer = model.graph.nodes.find((n) => n.outputs.includes(o.name))!;
      expect(producer.opType, o.name).to.equal('Cast');
      expect(types.get(producer.inputs[0])).to.equal('float16');
    }
    expect(report.halfNodes).to.be.above(0);
    expectConsistentTypes(model, 'backbone (fp32 source)');
  });

  it('each network runs, and its outputs stay within float16 rounding of the fp32 network\'s', async () => {
    const probeInputs = await networkInputs();
    for (const role of ROLES) {
      const head = role === 'boxHead' || role === 'maskHead';
      const ref = await ort.InferenceSession.create(head ? serializeModel(retargetHeadPooling(readModel(fp32.files[role]!), 'webgpu')) : fp32.files[role]!);
      const half = await ort.InferenceSession.create(serializeModel(halfModels.get(role)!), { graphOptimizationLevel: 'disabled' });
      const feeds = probeInputs[role];
      const [a, b] = [await ref.run(feeds), await half.run(feeds)];
      for (const name of ref.outputNames) {
        const x = a[name].data as Float32Array, y = b[name].data as Float32Array;
        let worst = 0, scale = 0;
        for (let i = 0; i < x.length; i++) { worst = Math.max(worst, Math.abs(x[i] - y[i])); scale = Math.max(scale, Math.abs(x[i])); }
        console.log(`      ${role}.${name}: max |fp16 - fp32| ${worst.toExponential(2)} of max |fp32| ${scale.toFixed(2)}`);
        expect(b[name].type).to.equal('float32');
        // float16 keeps 11 significant bits (relative step 2^-10 ~ 1e-3); a few layers compound it.
        expect(worst, `${role}.${name}`).to.be.below(1e-2 * Math.max(scale, 1));
        expect(worst, `${role}.${name}: float16 rounding shows`).to.be.above(0);
      }
      await Promise.all([ref.release(), half.release()]);
    }
  });

  it("the WebGPU detector's graphs in float16 (run on the CPU) detect what fp32 detects on the samples, under stated bars", async () => {
    const standIn = cpuStandIn();
    const half = await createDetector(standIn, pkg.manifest, pkg.files, decodeImage, { provider: 'webgpu', dtype: 'fp16' });
    const reference = await createDetector(ort as unknown as OrtModule, fp32.manifest, fp32.files, decodeImage, { provider: 'cpu' });
    try {
      expect(half.computePrecision).to.equal('fp16');
      for (const sample of SAMPLES) {
        const expected = resdetDetections(await reference.detect(sample, { scoreThreshold: 0.3 }), true);
        const loose = resdetDetections(await half.detect(sample, { scoreThreshold: 0.25 }), true);
        const got = resdetDetections(await half.detect(sample, { scoreThreshold: 0.3 }), true);
        // float16 rounds each stored value by at most 2^-11 relative; through the networks scores
        // moved by <= 1e-3 and boxes kept IoU >= 0.999 (measured, printed below): bars at about
        // 10x that. A score at the 0.3 threshold may cross it, hence the 0.05 margin on the other side.
        const bars = { minBoxIou: 0.98, maxScoreDiff: 0.01, minMaskIou: 0.95 };
        const recall = matchDetections(loose, expected, bars);
        const precision = matchDetections(got, resdetDetections(await reference.detect(sample, { scoreThreshold: 0.25 }), true), bars);
        console.log(`      ${sample.split('/').pop()}: ${got.scores.length} fp16 / ${expected.scores.length} fp32 detections; worst score diff ${recall.worstScoreDiff.toFixed(4)}, box IoU ${recall.worstBoxIou.toFixed(4)}, mask IoU ${recall.worstMaskIou.toFixed(4)}`);
        expect(expected.scores.length).to.be.above(0);
        expect(recall.recall, 'fp32 detections found in fp16').to.equal(1);
        expect(precision.precision, 'fp16 detections found in fp32').to.equal(1);
        expect(recall.maskMatched).to.equal(recall.maskPairs);
      }
      // Every network session was a float16 graph; the small GPU operator graphs stay float32.
      const graphs = standIn.created.map((m) => `${m.graph.name}:${m.metadata?.['resdet.compute'] ?? 'fp32'}`);
      expect(graphs.filter((g) => g.endsWith(':fp16'))).to.have.length(5); // the probe and the four networks
    } finally {
      await Promise.all([half.release(), reference.release()]);
    }
  });

  it('computes in float16 only for an fp16 package on webgpu whose device passes the probe', async () => {
    const cases = [
      { provider: 'webgpu', dtype: 'fp16', fail: true, expected: 'fp32' },
      { provider: 'webgpu', dtype: 'fp32', fail: false, expected: 'fp32' },
      { provider: 'cpu', dtype: 'fp16', fail: false, expected: 'fp32' },
    ] as const;
    for (const c of cases) {
      const standIn = cpuStandIn({ failFloat16: c.fail });
      const files = c.dtype === 'fp16' ? pkg.files : fp32.files;
      const detector = await createDetector(standIn, pkg.manifest, files, decodeImage, { provider: c.provider, dtype: c.dtype });
      expect(detector.computePrecision, JSON.stringify(c)).to.equal(c.expected);
      expect(standIn.created.filter((m) => m.metadata?.['resdet.compute'] === 'fp16' && m.graph.name !== 'float16Probe'), JSON.stringify(c)).to.deep.equal([]);
      // The probe runs only where float16 compute is possible at all.
      expect(standIn.created.some((m) => m.graph.name === 'float16Probe'), JSON.stringify(c)).to.equal(c.provider === 'webgpu' && c.dtype === 'fp16');
      await detector.release();
    }
  });

  it('the probe is exact where float16 kernels run, and says why where they do not', async () => {
    const probe = buildFloat16Probe();
    expect(valueTypes(probe.model).get(probe.model.graph.nodes.find((n) => n.opType === 'Conv')!.outputs[0])).to.equal('float16');
    const cpu = await probeFloat16(ort as unknown as OrtModule, (bytes) => ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' }) as unknown as Promise<InferenceSession>);
    expect(cpu).to.deep.equal({ ok: true });
    const failing = await probeFloat16(ort as unknown as OrtModule, cpuStandIn({ failFloat16: true }).InferenceSession.create);
    expect(failing.ok).to.equal(false);
    expect(failing.reason).to.match(/requires f16/);
  });

  /** Inputs for each network: the fp32 detector's own, recorded on a sample. */
  async function networkInputs(): Promise<Record<Role, Record<string, InstanceType<typeof ort.Tensor>>>> {
    const feeds: Partial<Record<Role, Record<string, InstanceType<typeof ort.Tensor>>>> = {};
    const recorder: OrtModule = {
      Tensor: ort.Tensor as unknown as OrtModule['Tensor'],
      InferenceSession: {
        async create(bytes: Uint8Array, o?: InferenceSession.SessionOptions): Promise<InferenceSession> {
          const { preferredOutputLocation: _gpu, ...rest } = o ?? {};
          const session = await ort.InferenceSession.create(bytes, { ...rest, executionProviders: ['cpu'] });
          const name = readModel(bytes).graph.name;
          const role = ROLES.find((r) => sources.get(r)!.graph.name === name);
          const run = session.run.bind(session);
          return Object.assign(session, {
            run: async (f: Record<string, InstanceType<typeof ort.Tensor>>) => { if (role && !feeds[role]) feeds[role] = f; return run(f); },
          }) as unknown as InferenceSession;
        },
      },
    };
    const detector = await createDetector(recorder, fp32.manifest, fp32.files, decodeImage, { provider: 'webgpu' });
    await detector.detect(SAMPLES[0]);
    await detector.release();
    for (const r of ROLES) if (!feeds[r]) throw new Error(`no inputs recorded for ${r}`);
    return feeds as Record<Role, Record<string, InstanceType<typeof ort.Tensor>>>;
  }
});
