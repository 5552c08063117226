import { expect } from 'chai';
import { placements } from '../helpers/placement.js';
import { runInChild } from '../helpers/child.js';
import { repoRoot } from '../helpers/reference.js';
import { useSwiftShader } from '../helpers/webgpu.js';

/**
 * Where onnxruntime's WebGPU provider places each node of each graph the detector creates on
 * 'webgpu' (the bundled model's networks as the detector re-targets them, and the GPU operators'
 * graphs), read from onnxruntime's own verbose log in a child process: every node that computes on
 * features, scores or boxes is on the GPU; the CPU keeps only shape and index arithmetic
 * (onnxruntime's choice: "ORT explicitly assigns shape related ops to CPU").
 */
const child = `
import { createRequire } from 'node:module';
const ort = createRequire('${repoRoot}/package.json')('onnxruntime-node');
import { createDetector } from '${repoRoot}/dist/src/detector/index.js';
import { readModel, serializeModel } from '${repoRoot}/dist/onnx/index.js';
import { buildNmsMask, buildGridMultiScaleRoiAlign, buildPasteMasks } from '${repoRoot}/dist/gpu/index.js';
import { readModelPackage } from '${repoRoot}/dist/src/modelPackage/index.js';
import { bundledModelsDir } from '${repoRoot}/dist/src/index.js';
// Every session the detector creates logs under its graph's name (onnxruntime's logId).
const announced = { ...ort, InferenceSession: { create: (bytes, options) => ort.InferenceSession.create(bytes, { ...options, logId: readModel(bytes).graph.name }) } };
const pkg = readModelPackage(bundledModelsDir + '/shapes');
const detector = await createDetector(announced, pkg.manifest, pkg.files, async () => { throw new Error('no images'); }, { provider: 'webgpu', logLevel: 'verbose' });
await detector.release();
const levels = pkg.manifest.backbone.levels.filter((l) => l.name !== 'pool');
const pastes = ['probability', 'binary'].map((form) => buildPasteMasks({ maskSize: 28, padding: 1, form }));
for (const model of [buildNmsMask(), buildGridMultiScaleRoiAlign({ levels, channels: 64, outputSize: 7, samplingRatio: 2 }), ...pastes]) {
  const s = await announced.InferenceSession.create(serializeModel(model), { executionProviders: ['webgpu'], logSeverityLevel: 0 });
  await s.release();
}
`;

/** Ops onnxruntime may keep on the CPU, for shape and index arithmetic (int64 sizes, the RoIs' small tensors). */
const shapeOps = new Set(['Shape', 'Reshape', 'Concat', 'Cast', 'Gather', 'Slice', 'Split', 'Expand', 'Unsqueeze', 'Squeeze']);
/** Ops that compute on features, scores or boxes: never on the CPU. */
const computeOps = new Set(['GridSample', 'ReduceMean', 'ReduceSum', 'TopK', 'Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'Mul', 'Add', 'Sub', 'Div',
  'Max', 'Min', 'Abs', 'Greater', 'GreaterOrEqual', 'LessOrEqual', 'Relu', 'Sigmoid', 'Transpose', 'GatherElements', 'Resize', 'MaxPool', 'Softmax', 'Flatten']);

describe('WebGPU placement: every graph of the webgpu detector computes on the GPU', function () {
  this.timeout(300_000);
  it('backbone, RPN head, RPN top-k, box and mask heads (GridSample pooling), NMS bitmask, pooler, mask paste: only shape and index nodes on the CPU', () => {
    const run = runInChild(child, 240_000, useSwiftShader());
    expect(run.status, run.stderr.slice(-2000)).to.equal(0);
    const graphs = placements(run.stderr);
    console.log(graphs.map((g) => `      ${g.graph}: ${g.gpu.length + g.allOnGpu} nodes on WebGPU, ${g.cpu.length} on the CPU (${[...new Set(g.cpu.map((n) => n.op))].join(', ') || 'none'})`).join('\n'));
    expect(graphs.map((g) => g.graph)).to.include.members(['rpnTopK', 'box_head', 'nmsMask', 'gridMultiScaleRoiAlign', 'pasteMasks_probability', 'pasteMasks_binary']);
    expect(graphs).to.have.length(9);
    for (const g of graphs) {
      expect(g.gpu.length + g.allOnGpu, `${g.graph}: nodes on WebGPU`).to.be.above(0);
      for (const n of g.cpu) {
        expect(computeOps.has(n.op), `${g.graph}: ${n.op} (${n.name}) computes on data, yet is on the CPU`).to.equal(false);
        expect(shapeOps.has(n.op), `${g.graph}: ${n.op} (${n.name}) on the CPU`).to.equal(true);
      }
      const gpuOps = new Set(g.gpu.map((n) => n.op));
      if (g.graph === 'box_head' || g.graph === 'gridMultiScaleRoiAlign') expect([...gpuOps]).to.include.members(['GridSample', 'ReduceMean', 'Gather']);
      if (g.graph === 'rpnTopK') expect([...gpuOps]).to.include.members(['TopK', 'Gather']);
      if (g.graph.startsWith('pasteMasks')) expect([...gpuOps, ...(g.allOnGpu ? ['MatMul', 'Abs'] : [])]).to.include.members(['MatMul', 'Abs']);
      expect(g.gpu.some((n) => n.op === 'RoiAlign') || g.cpu.some((n) => n.op === 'RoiAlign'), `${g.graph} has no RoiAlign left`).to.equal(false);
    }
  });

  it('prints none of onnxruntime\'s placement warnings by default', () => {
    const quiet = child.replace("logLevel: 'verbose'", "logLevel: undefined").replace(/logSeverityLevel: 0/g, 'logSeverityLevel: 3');
    const run = runInChild(quiet, 240_000, useSwiftShader());
    expect(run.status, run.stderr.slice(-2000)).to.equal(0);
    expect(run.stderr).to.not.match(/not assigned to the preferred execution providers|VerifyEachNodeIsAssignedToAnEp/);
  });
});
