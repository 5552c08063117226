import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
});
