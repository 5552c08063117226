import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CUDA_HEAD_OPSET, type PoolingTarget, retargetHeadPooling } from '../../gpu/index.js';
import { splitByLevel } from '../../heads/pooler.js';
import { readModel, serializeModel } from '../../onnx/index.js';
import { Prng } from '../../src/dataset/prng.js';
import { bundledModelsDir, loadModel, ProviderUnavailableError } from '../../src/index.js';
import { useSwiftShader } from '../helpers/webgpu.js';

const dir = join(bundledModelsDir, 'shapes');
const manifest = JSON.parse(readFileSync(join(dir, 'resdet.json'), 'utf8')) as { backbone: { levels: Array<{ name: string; stride: number; channels: number }> } };
const pooled = manifest.backbone.levels.filter((l) => l.name !== 'pool');
const rng = new Prng(3);
/** A 256x256 input's pooled levels, seeded, and 60 boxes. */
const features = pooled.map((l) => {
  const shape = [1, l.channels, 256 / l.stride, 256 / l.stride];
  return new ort.Tensor('float32', Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-2, 2)), shape);
});
const boxes = Float32Array.from({ length: 240 }, (_, i) => (i % 4 < 2 ? rng.uniform(-10, 200) : 0));
for (let i = 0; i < 60; i++) {
  boxes[4 * i + 2] = boxes[4 * i] + rng.uniform(2, 120);
  boxes[4 * i + 3] = boxes[4 * i + 1] + rng.uniform(2, 120);
}

function feeds(withLabels: boolean): Record<string, ort.Tensor> {
  const split = splitByLevel(boxes, pooled.map((l) => l.stride), 224, 4, 1e-6);
  const f: Record<string, ort.Tensor> = { order: new ort.Tensor('int64', split.order, [60]) };
  pooled.forEach((l, i) => {
    f[l.name] = features[i];
    f[`rois_${l.name}`] = new ort.Tensor('float32', split.rois[i], [split.rois[i].length / 4, 4]);
    f[`batchIndices_${l.name}`] = new ort.Tensor('int64', split.batchIndices[i], [split.batchIndices[i].length]);
  });
  if (withLabels) f.labels = new ort.Tensor('int64', BigInt64Array.from({ length: 60 }, (_, i) => BigInt(1 + (i % 3))), [60]);
  return f;
}

async function run(model: Uint8Array, provider: 'cpu' | 'webgpu', withLabels: boolean): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(model, { executionProviders: [provider], logSeverityLevel: 3 });
  try {
    const out = await s.run(feeds(withLabels));
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

describe('gpu/ head re-targeting: the bundled model\'s heads with their RoiAlign nodes replaced compute the same outputs', function () {
  this.timeout(600_000);
  for (const head of ['boxHead', 'maskHead'] as const) {
    const bytes = readFileSync(join(dir, `${head}.onnx`));
    let reference: Record<string, Float32Array>;
    before(async () => {
      reference = await run(bytes, 'cpu', head === 'maskHead');
    });
    const cases: Array<[PoolingTarget, 'cpu' | 'webgpu']> = [['webgpu', 'cpu'], ['webgpu', 'webgpu'], ['cuda', 'cpu']];
    for (const [target, provider] of cases) {
      it(`${head}, re-targeted at ${target}, run on ${provider}: outputs within 1e-4 of the output range of the package's head`, async () => {
        if (provider === 'webgpu') useSwiftShader();
        const model = retargetHeadPooling(readModel(bytes), target);
        const ops = model.graph.nodes.map((n) => n.opType);
        if (target === 'webgpu') expect(ops).to.include('GridSample').and.not.include('RoiAlign');
        else {
          expect(model.opset).to.equal(CUDA_HEAD_OPSET);
          expect(model.graph.nodes.filter((n) => n.opType === 'RoiAlign').every((n) => !('coordinate_transformation_mode' in n.attributes))).to.equal(true);
        }
        const out = await run(serializeModel(model), provider, head === 'maskHead');
        for (const [name, ref] of Object.entries(reference)) {
          let lo = Infinity, hi = -Infinity, worst = 0;
          for (let i = 0; i < ref.length; i++) {
            lo = Math.min(lo, ref[i]); hi = Math.max(hi, ref[i]);
            worst = Math.max(worst, Math.abs(ref[i] - out[name][i]));
          }
          console.log(`      ${name}: max diff ${worst.toExponential(2)} of range ${(hi - lo).toFixed(3)}`);
          expect(worst, name).to.be.below(1e-4 * (hi - lo));
        }
      });
    }
  }

  it('refuses a graph without RoiAlign, and a RoiAlign the GridSample pooler does not do (max mode)', () => {
    const box = readModel(readFileSync(join(dir, 'boxHead.onnx')));
    const maxMode = { ...box, graph: { ...box.graph, nodes: box.graph.nodes.map((n) => (n.opType === 'RoiAlign' ? { ...n, attributes: { ...n.attributes, mode: { type: 'string' as const, value: 'max' } } } : n)) } };
    expect(() => retargetHeadPooling(maxMode, 'webgpu')).to.throw(/mode 'avg', aligned=False/);
    const none = { ...box, graph: { ...box.graph, nodes: box.graph.nodes.filter((n) => n.opType !== 'RoiAlign') } };
    expect(() => retargetHeadPooling(none, 'webgpu')).to.throw(/no RoiAlign node/);
  });

  it('a package whose head the rewrite cannot take: loading on webgpu says so and names the way out; fallback cpu runs it', async () => {
    useSwiftShader();
    const copy = mkdtempSync(join(tmpdir(), 'resdet-maxpool-'));
    try {
      cpSync(dir, copy, { recursive: true });
      const box = readModel(readFileSync(join(dir, 'boxHead.onnx')));
      const bytes = serializeModel({ ...box, graph: { ...box.graph, nodes: box.graph.nodes.map((n) => (n.opType === 'RoiAlign' ? { ...n, attributes: { ...n.attributes, mode: { type: 'string' as const, value: 'max' } } } : n)) } });
      writeFileSync(join(copy, 'boxHead.onnx'), bytes);
      const pkg = JSON.parse(readFileSync(join(copy, 'resdet.json'), 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
      pkg.files.boxHead = { ...pkg.files.boxHead, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
      writeFileSync(join(copy, 'resdet.json'), JSON.stringify(pkg, null, 2));
      let error: unknown;
      await loadModel(copy, { provider: 'webgpu' }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(ProviderUnavailableError);
      expect((error as Error).message).to.match(/^provider 'webgpu': this package's boxHead network cannot be rewritten for it \(RoiAlign node .*mode 'avg'.*not mode 'max'\); load the model with provider 'cpu'$/);
      const model = await loadModel(copy, { provider: 'webgpu', fallback: 'cpu' });
      try {
        expect(model.provider).to.equal('cpu');
        expect(model.providerFallback).to.contain('boxHead network cannot be rewritten');
        expect((await model.detect(join(bundledModelsDir, '..', 'samples', 'shapes-1.png'))).detections.length).to.be.greaterThan(0);
      } finally {
        await model.release();
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
