import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDataset } from '../../src/dataset/index.js';
import { convertCheckpoint, loadModel } from '../../src/index.js';
import { pythonExecutable, repoRoot } from '../helpers/reference.js';

/**
 * tools/finetune.py on a tiny generated dataset of the second task: a few steps from the bundled
 * model's source checkpoint, resumed, converted into a package with the new classes and loaded.
 * Needs torch and torchvision 0.14: a machine without them fails here saying what to install.
 */
const script = join(repoRoot, 'tools', 'finetune.py');
const source = join(repoRoot, 'test', 'fixtures', 'shapes', 'model_final.pth');
const classes = ['hexagon', 'heart', 'arrow'];

function python(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(pythonExecutable(), args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' }, maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw new Error(`cannot run ${pythonExecutable()} (${r.error.message}); install python3, python3-torch and python3-torchvision (see README, "Tests")`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function requireTorch(): void {
  const r = python(['-c', 'import torch, torchvision']);
  if (r.status !== 0) throw new Error(`tools/finetune.py needs torch and torchvision (apt-get install python3-torch python3-torchvision, or set RESDET_PYTHON): ${r.stderr.trim().split('\n').pop()}`);
}

describe('tools/finetune.py', function () {
  this.timeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), 'resdet-finetune-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  const out = join(dir, 'run');
  const common = ['--ckpt', source, '--data', data, '--out', out, '--batch', '2', '--warmup', '2', '--log-every', '1', '--save-every', '1',
    '--eval-every', '0', '--eval-images', '2'];

  before(async () => {
    requireTorch();
    await generateDataset({ out: data, train: 6, val: 2, seed: 3, width: 128, height: 128, scene: { classes: ['hexagon', 'heart', 'arrow'], backgrounds: ['blobs', 'waves'] } });
  });

  it('fine-tunes a few steps from the bundled checkpoint, re-initialising only the class-dependent layers', () => {
    const r = python([script, ...common, '--steps', '2']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/re-initialised 6 class-dependent tensors; 3 classes \(hexagon, heart, arrow\)/);
    expect(r.stdout).to.match(/eval step 2: box AP \d\.\d{4}, mask AP \d\.\d{4}/);
    expect(readFileSync(join(out, 'classes.txt'), 'utf8')).to.equal('hexagon\nheart\narrow\n');
    const eval1 = readFileSync(join(out, 'eval.csv'), 'utf8').trim().split('\n');
    expect(eval1[0]).to.equal('step,minutes,box_ap,mask_ap');
    expect(eval1.slice(1).map((l) => l.split(',')[0])).to.deep.equal(['2']);
  });

  it('resumes from last.pth at the step it reached, and refuses a resume with other settings', () => {
    const r = python([script, ...common, '--steps', '3', '--resume']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('resumed at step 2');
    const steps = readFileSync(join(out, 'log.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    expect(steps).to.deep.equal(['1', '2', '3']);
    const bad = python([script, ...common, '--steps', '3', '--resume', '--from-scratch']);
    expect(bad.status).to.equal(2);
    expect(bad.stderr.trim()).to.match(/^finetune\.py: error: .*last\.pth: was started with --from-scratch False, not True$/);
  });

  it('writes a checkpoint that converts into a package with the new classes, which loads and detects', async () => {
    const summary = await convertCheckpoint(join(out, 'model_final.pth'), { out: join(dir, 'pkg-api'), classes: join(out, 'classes.txt'), eps: 1e-5 });
    expect(summary.manifest.classes).to.deep.equal(['__background__', ...classes]);
    // the README's path: tools/package_finetuned.sh (resdet convert + the run's transform sizes)
    const pkg = join(dir, 'pkg');
    const sh = spawnSync('sh', [join(repoRoot, 'tools', 'package_finetuned.sh'), out, pkg], { cwd: repoRoot, encoding: 'utf8' });
    expect(sh.status, sh.stderr).to.equal(0);
    const model = await loadModel(pkg, { threads: 1 });
    try {
      expect(model.classes).to.deep.equal(['__background__', ...classes]);
      expect(model.config.transform.minSize).to.equal(256);
      expect(model.config.transform.maxSize).to.equal(256);
      const result = await model.detect(join(data, 'val', '000001.png'), { scoreThreshold: 0 });
      for (const d of result.detections) {
        expect(d.label).to.be.within(1, 3);
        expect(classes).to.include(d.className);
      }
    } finally {
      await model.release();
    }
  });

  it('trains the same architecture from scratch with --from-scratch', () => {
    const r = python([script, ...common, '--out', join(dir, 'scratch'), '--steps', '1', '--from-scratch', '--eval-images', '1']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/random init; 3 classes/);
  });

  it('stops with one line naming the file: images missing, not a checkpoint, not a detector', () => {
    const noImages = python([script, '--ckpt', source, '--train-ann', join(data, 'annotations', 'instances_train.json'), '--train-images', join(dir, 'nowhere'), '--out', join(dir, 'x'), '--steps', '1']);
    expect(noImages.status).to.equal(2);
    expect(noImages.stderr.trim().split('\n')).to.have.length(1);
    expect(noImages.stderr).to.contain(`${join(dir, 'nowhere')}: the images of ${join(data, 'annotations', 'instances_train.json')} are not there`);
    const json = join(dir, 'not-a-checkpoint.pth');
    writeFileSync(json, '{"hello": 1}');
    const notTorch = python([script, ...common, '--ckpt', json, '--out', join(dir, 'y'), '--steps', '1']);
    expect(notTorch.status).to.equal(2);
    expect(notTorch.stderr.trim()).to.match(new RegExp(`^finetune\\.py: error: ${json.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a torch checkpoint`));
    const classifier = join(dir, 'classifier.pth');
    const made = python(['-c', `import torch, torchvision; torch.save(torchvision.models.resnet18().state_dict(), ${JSON.stringify(classifier)})`]);
    expect(made.status, made.stderr).to.equal(0);
    const notDetector = python([script, ...common, '--ckpt', classifier, '--out', join(dir, 'z'), '--steps', '1']);
    expect(notDetector.status).to.equal(2);
    expect(notDetector.stderr.trim()).to.equal(`finetune.py: error: ${classifier}: not a torchvision ResNet-FPN Faster/Mask R-CNN checkpoint (no backbone.body.conv1.weight)`);
  });
});
