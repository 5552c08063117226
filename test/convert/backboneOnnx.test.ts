import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelPackageError } from '../../src/modelPackage/index.js';
import { convertCheckpoint, loadModel } from '../../src/index.js';
import { repoRoot, torchReference } from '../helpers/reference.js';

/**
 * `resdet convert --backbone-onnx`: what is read from the user's file, and the errors that name the
 * file, the level and both sides of a mismatch. On test/reference/pyramid_cases.py's MobileNetV3-FPN
 * (outputs 'feat0', 'feat1', 'pool'; RPN head with 15 anchors per location).
 */
describe('resdet convert --backbone-onnx: the user backbone, its levels and the checks against the heads', () => {
  const work = mkdtempSync(join(tmpdir(), 'resdet-backbone-onnx-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const ref = () => torchReference('pyramid_cases', ['mobilenet']);
  const checkpoint = () => join(ref().folder, 'mobilenet.pth');
  const backbone = () => join(ref().folder, 'mobilenet-backbone.onnx');
  const small = { transform: { minSize: 320, maxSize: 512 } };
  const preset = 'fasterrcnn_mobilenet_v3_large_fpn';
  const refuses = async (what: RegExp, run: () => Promise<unknown>) => {
    let error: unknown;
    try {
      await run();
    } catch (e) {
      error = e;
    }
    expect(error, String(what)).to.be.instanceOf(ModelPackageError);
    expect((error as Error).message).to.match(what);
  };

  it('an anchor generator unlike the RPN head is refused naming both: level count first, then anchors per location', async () => {
    await refuses(/the anchor sizes \[\[32\],\[64\],\[128\],\[256\],\[512\]\] are for 5 levels, the ONNX backbone \(mobilenet-backbone\.onnx\) has 3 \('0', '1', 'pool'\).*--anchor-sizes.*--preset/,
      () => convertCheckpoint(checkpoint(), { out: join(work, 'a'), backboneOnnx: backbone(), config: small }));
    await refuses(/mobilenet\.pth: the RPN head predicts 15 anchors per location \('rpn\.head\.cls_logits\.weight'\), but anchor sizes \[32\] x aspect ratios \[0\.5,1,2\] give level '0' 3/,
      () => convertCheckpoint(checkpoint(), { out: join(work, 'b'), backboneOnnx: backbone(), config: { ...small, rpn: { anchorSizes: [[32], [64], [128]] } } }));
    await refuses(/--preset 'fasterrcnn_mobilenet' is not a torchvision detection builder resdet knows \(.*fasterrcnn_mobilenet_v3_large_fpn/,
      () => convertCheckpoint(checkpoint(), { out: join(work, 'c'), backboneOnnx: backbone(), preset: 'fasterrcnn_mobilenet' }));
  });

  it('--levels gives one level per output, and its strides and channels are checked against the probed ones', async () => {
    await refuses(/mobilenet-backbone\.onnx: --levels names 2 levels, the backbone has 3 outputs \('feat0', 'feat1', 'pool'\)/,
      () => convertCheckpoint(checkpoint(), { out: join(work, 'd'), backboneOnnx: backbone(), preset, levels: [{ name: '0' }, { name: '1' }] }));
    await refuses(/--levels gives level '0' stride 16, output 'feat0' has stride 32/,
      () => convertCheckpoint(checkpoint(), { out: join(work, 'e'), backboneOnnx: backbone(), preset, levels: [{ name: '0', stride: 16 }, { name: '1' }, { name: 'pool' }] }));
    await refuses(/--levels gives level 'pool' 128 channels, output 'pool' has 256/,
      () => convertCheckpoint(checkpoint(), { out: join(work, 'f'), backboneOnnx: backbone(), preset, levels: [{ name: '0' }, { name: '1' }, { name: 'pool', stride: 64, channels: 128 }] }));
  });

  it("outputs with the exporter's own names are refused saying how to name them; with --levels they convert and load", async () => {
    // torch.onnx.export without output_names names a dict's outputs after their values ('523', ...)
    const file = join(ref().folder, 'mobilenet-backbone-unnamed.onnx');
    await refuses(/unnamed\.onnx: its outputs \('\d+', '[^']+', '\d+'\) are not named as pyramid levels.*output_names=\['feat0', 'feat1', 'pool'\].*--levels 0,1,pool/,
      () => convertCheckpoint(checkpoint(), { out: join(work, 'g'), backboneOnnx: file, preset }));
    const out = join(work, 'h');
    await convertCheckpoint(checkpoint(), { out, backboneOnnx: file, preset, config: small, levels: [{ name: '0' }, { name: '1' }, { name: 'pool', stride: 64, channels: 256 }] });
    const model = await loadModel(out, { threads: 1 });
    try {
      expect(model.manifest.backbone.levels.map((l) => `${l.name}/${l.stride}`)).to.deep.equal(['0/32', '1/32', 'pool/64']);
    } finally {
      await model.release();
    }
  });

  it("a backbone whose channels are not the RPN head's is refused naming the level and both counts", async () => {
    // a narrow torchvision ResNet-FPN (32 channels, outputs 'feat0'..'feat3', 'pool') under MobileNet's 256-channel heads
    const tiny = torchReference('backbone_onnx_export').tensors.get('model')!.data as Uint8Array;
    const file = join(work, 'tiny.onnx');
    writeFileSync(file, tiny);
    await refuses(/mobilenet\.pth: the RPN head takes 256-channel features \('rpn\.head\.conv'\), but level '0' of the ONNX backbone \(tiny\.onnx\) has 32 channels/,
      () => convertCheckpoint(checkpoint(), { out: join(work, 'l'), backboneOnnx: file }));
  });

  it('without --backbone-onnx, a checkpoint whose backbone is no ResNet-FPN is refused pointing at it', async () => {
    await refuses(/mobilenet\.pth: state dict has no ResNet-FPN backbone.*'backbone\.body\.0\.0\.weight'.*pass --backbone-onnx/,
      () => convertCheckpoint(checkpoint(), { out: join(work, 'k'), preset }));
  });

  it('a file that is not ONNX, or missing, is refused naming it', async () => {
    const junk = join(work, 'junk.onnx');
    writeFileSync(junk, 'not a model');
    await refuses(/junk\.onnx: is not a readable ONNX model/, () => convertCheckpoint(checkpoint(), { out: join(work, 'i'), backboneOnnx: junk, preset }));
    await refuses(/nothing\.onnx: cannot read the backbone \(ENOENT\)/, () => convertCheckpoint(checkpoint(), { out: join(work, 'j'), backboneOnnx: join(work, 'nothing.onnx'), preset }));
  });

  it('the CLI converts with --backbone-onnx --preset, and prints a mismatch as one line', () => {
    const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const run = (...args: string[]) => spawnSync(process.execPath, [main, 'convert', checkpoint(), ...args], { encoding: 'utf8' });
    const ok = run('--out', join(work, 'cli'), '--backbone-onnx', backbone(), '--preset', preset);
    expect(ok.status, ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/^Faster R-CNN v1, ONNX backbone \(mobilenet-backbone\.onnx\): Faster R-CNN, ONNX backbone mobilenet-backbone\.onnx: levels 0 \(stride 32, 256 channels\), 1 \(stride 32, 256 channels\), pool \(stride 64, 256 channels\);/);
    const manifest = JSON.parse(readFileSync(join(work, 'cli', 'resdet.json'), 'utf8'));
    expect(manifest.config.rpn.anchorSizes).to.have.length(3);
    const bad = run('--out', join(work, 'cli-bad'), '--backbone-onnx', backbone(), '--anchor-sizes', '32,64,128');
    expect(bad.status).to.equal(1);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
    expect(bad.stderr).to.contain('the RPN head predicts 15 anchors per location');
  });
});
