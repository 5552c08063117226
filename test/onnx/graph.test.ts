import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder, attr, readModelInterface } from '../../onnx/index.js';
import { buildResNetFpn } from '../../backbones/index.js';
import { pythonExecutable, repoRoot, torchReference } from '../helpers/reference.js';
import { archiveStateDict, runOnnx } from '../backbones/helpers.js';

/** Runs the onnx package's full checker (structure and shape inference) on `model`. */
function onnxCheck(model: Uint8Array): string {
  const dir = join(repoRoot, '.cache', `onnx-check-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'model.onnx');
  writeFileSync(file, model);
  try {
    const run = spawnSync(pythonExecutable(), ['-c',
      'import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print("ok", m.ir_version, m.opset_import[0].version)', file],
    { encoding: 'utf8' });
    if (run.error) throw new Error(`cannot run ${pythonExecutable()} for onnx.checker: ${run.error.message}; install python3-onnx`);
    return (run.stdout + run.stderr).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ONNX graph builder', () => {
  it('writes a ResNet-FPN model that onnx.checker (full check) accepts as IR 8, opset 17', () => {
    const ref = torchReference('backbone_cases', ['narrow']);
    expect(onnxCheck(buildResNetFpn(archiveStateDict(ref), { eps: 1e-5 }).onnx)).to.equal('ok 8 17');
  });

  it('encodes float, int, negative ints and tensor attributes and metadata as onnx.checker and onnxruntime read them', async () => {
    // probs = softmax(1.5 flatten(x) W^T + b, axis=-1); max = ReduceMax(LeakyRelu(probs - 0.5), axes=[-1])
    const g = new GraphBuilder('attrs');
    const x = g.input('x', 'float32', ['N', 2, 2]);
    const w = g.constFloat([1, 0, -1, 2, 0.5, 0.25, -0.5, 1], [2, 4]);
    const b = g.constFloat([0.1, -0.2]);
    const logits = g.gemm(g.flatten(x, 1), w, b, { transB: true, alpha: 1.5 });
    const p = g.softmax(logits, -1);
    const half = g.node('Constant', [], { value: attr.tensor({ name: 'half', dtype: 'float32', dims: [1], data: Float32Array.of(0.5) }) })[0];
    const leaky = g.node('LeakyRelu', [g.sub(p, half)], { alpha: attr.float(0.25) })[0];
    const max = g.node('ReduceMax', [leaky], { axes: attr.ints([-1]), keepdims: attr.int(0) })[0];
    g.output(p, 'probs', 'float32', ['N', 2]);
    g.output(max, 'max', 'float32', ['N']);
    const model = g.serialize({ metadata: { note: 'UTF-8 ✓' } });
    expect(onnxCheck(model)).to.equal('ok 8 17');

    const input = Float32Array.from([1, 2, 3, 4, -1, 0, 0.5, 2]);
    const out = await runOnnx(model, 'x', input, [2, 2, 2], ['probs', 'max']);
    const W = [[1, 0, -1, 2], [0.5, 0.25, -0.5, 1]];
    for (let n = 0; n < 2; n++) {
      const z = W.map((row, j) => 1.5 * row.reduce((s, v, k) => s + v * input[n * 4 + k], 0) + [0.1, -0.2][j]);
      const e = z.map((v) => Math.exp(v - Math.max(...z)));
      const probs = e.map((v) => v / (e[0] + e[1]));
      expect(out.get('probs')!.data[n * 2]).to.be.closeTo(probs[0], 1e-6);
      const leakyMax = Math.max(...probs.map((q) => (q - 0.5 > 0 ? q - 0.5 : 0.25 * (q - 0.5))));
      expect(out.get('max')!.data[n]).to.be.closeTo(leakyMax, 1e-6);
    }
  });

  it("reads a torch.onnx.export-ed model's declared inputs, outputs and opset", () => {
    const ref = torchReference('backbone_onnx_export');
    const model = ref.tensors.get('model')!.data as Uint8Array;
    const info = readModelInterface(model);
    expect(info.opsets.get('')).to.equal(17);
    expect(info.inputs.filter((v) => !info.initializerNames.has(v.name)).map((v) => [v.name, v.shape])).to.deep.equal([['images', ['N', 3, 'H', 'W']]]);
    expect(info.outputs.map((v) => [v.name, v.shape?.[1]])).to.deep.equal((ref.meta.outputs as string[]).map((n) => [n, 32]));
  });

  it('refuses to reuse a value name', () => {
    const g = new GraphBuilder('dup');
    const x = g.input('x', 'float32', [1]);
    expect(() => g.relu(x, { name: 'x' })).to.throw(/value name 'x' is already used/);
  });
});
