import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { retargetHeadPooling, toFloat16Compute } from '../../gpu/index.js';
import { readModel, serializeModel } from '../../onnx/index.js';
import { readModelPackage } from '../../src/modelPackage/index.js';
import { quantizePackage } from '../../src/quantize/index.js';
import { pythonExecutable, repoRoot } from '../helpers/reference.js';

/** The graphs resdet's writer produces for the variants are valid ONNX, by the onnx package's own checker. */
describe('precision variants pass onnx.checker', function () {
  this.timeout(900_000);
  let work: string;
  before(() => { work = mkdtempSync(join(tmpdir(), 'resdet-checker-')); });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('fp16 and int8 networks of the bundled model pass check_model(full_check=True)', async () => {
    await quantizePackage(join(repoRoot, 'models', 'shapes'), { dtype: 'fp16', out: join(work, 'fp16') });
    await quantizePackage(join(work, 'fp16'), { dtype: 'int8', out: join(work, 'both'), calibration: [join(repoRoot, 'samples')] });
    const script = [
      'import glob, sys, onnx',
      'files = sorted(glob.glob(sys.argv[1] + "/*.onnx"))',
      'assert len(files) == 12, files',
      'for f in files:',
      '    onnx.checker.check_model(onnx.load(f), full_check=True)',
      '    print("ok", f.rsplit("/", 1)[1])',
    ].join('\n');
    const run = spawnSync(pythonExecutable(), ['-c', script, join(work, 'both')], { encoding: 'utf8' });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout.trim().split('\n')).to.have.length(12);
  });

  it('the fp16 networks rewritten for float16 compute on WebGPU (gpu/float16Compute.ts) pass check_model(full_check=True)', async () => {
    await quantizePackage(join(repoRoot, 'models', 'shapes'), { dtype: 'fp16', out: join(work, 'half') });
    const pkg = readModelPackage(join(work, 'half'), { dtype: 'fp16' });
    const dir = mkdtempSync(join(work, 'compute-'));
    for (const role of ['backbone', 'rpnHead', 'boxHead', 'maskHead'] as const) {
      let model = readModel(pkg.files[role]!);
      if (role === 'boxHead' || role === 'maskHead') model = retargetHeadPooling(model, 'webgpu');
      writeFileSync(join(dir, `${role}.onnx`), serializeModel(toFloat16Compute(model, { float32Predictors: role !== 'backbone' }).model));
    }
    const script = [
      'import glob, sys, onnx',
      'files = sorted(glob.glob(sys.argv[1] + "/*.onnx"))',
      'assert len(files) == 4, files',
      'for f in files:',
      '    onnx.checker.check_model(onnx.load(f), full_check=True)',
      '    print("ok", f.rsplit("/", 1)[1])',
    ].join('\n');
    const run = spawnSync(pythonExecutable(), ['-c', script, dir], { encoding: 'utf8' });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout.trim().split('\n')).to.have.length(4);
  });
});
