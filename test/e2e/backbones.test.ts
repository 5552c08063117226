import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertCheckpoint, loadModel } from '../../src/index.js';
import { relativeMaxDiff } from '../backbones/helpers.js';
import { expectEveryDetectionMatched, torchvisionDetections } from '../helpers/parity.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getShape } from '../helpers/tensorArchive.js';

/**
 * Pyramids other than ResNet-FPN's default five levels, end to end against torchvision 0.14
 * (test/reference/pyramid_cases.py, seeded calibrated weights, 320-pixel images):
 * fasterrcnn_mobilenet_v3_large_fpn with its backbone exported by torch.onnx.export and plugged in
 * with --backbone-onnx and --preset, and a Mask R-CNN on ResNet-50-FPN with returned_layers=[2, 3, 4]
 * (three pooled levels) and two anchor sizes per level. The matching rule is the end-to-end one:
 * every detection matched both ways (label, box IoU >= 0.99, |score diff| <= 1e-3, mask IoU >= 0.98).
 */
type Meta = { arch: string; minSize: number; maxSize: number; images: number; levels: string[]; anchorSizes?: number[][] };

describe('pluggable backbones and declared pyramids, detecting as torchvision does', () => {
  const work = mkdtempSync(join(tmpdir(), 'resdet-backbones-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('fasterrcnn_mobilenet_v3_large_fpn: its torch.onnx.export-ed backbone converts with --backbone-onnx --preset, levels read from the file; pyramid and detections match', async () => {
    const ref = torchReference('pyramid_cases', ['mobilenet']);
    const meta = ref.meta as Meta;
    const out = join(work, 'mobilenet');
    const summary = await convertCheckpoint(join(ref.folder, 'mobilenet.pth'), {
      out, backboneOnnx: join(ref.folder, 'mobilenet-backbone.onnx'), preset: 'fasterrcnn_mobilenet_v3_large_fpn',
      config: { transform: { minSize: meta.minSize, maxSize: meta.maxSize } },
    });
    expect(summary.family).to.equal('Faster R-CNN v1, ONNX backbone (mobilenet-backbone.onnx)');
    expect(summary.eps).to.equal(undefined);
    const manifest = JSON.parse(readFileSync(join(out, 'resdet.json'), 'utf8'));
    // '0' and '1' both at stride 32 (the last two MobileNetV3 stages), 'pool' at 64
    expect(manifest.backbone).to.deep.equal({
      kind: 'onnx', arch: 'mobilenet-backbone.onnx',
      levels: [{ name: '0', stride: 32, channels: 256 }, { name: '1', stride: 32, channels: 256 }, { name: 'pool', stride: 64, channels: 256 }],
    });
    expect(manifest.config.rpn).to.deep.include({ anchorSizes: [[32, 64, 128, 256, 512], [32, 64, 128, 256, 512], [32, 64, 128, 256, 512]], aspectRatios: [0.5, 1, 2], scoreThresh: 0.05 });
    expect(manifest.config.levelMapper).to.deep.equal({ featureNames: ['0', '1'] });
    expect(manifest.source.preset).to.equal('fasterrcnn_mobilenet_v3_large_fpn');
    const model = await loadModel(out, { threads: 2 });
    try {
      const first = await model.detect(join(ref.folder, 'image0.png'), { scoreThreshold: 0, pyramid: true });
      expect(first.pyramid!.levels.map((l) => l.name)).to.deep.equal(meta.levels);
      const diffs = first.pyramid!.levels.map((l) => {
        expect([1, l.channels, l.height, l.width], `level ${l.name} shape`).to.deep.equal(getShape(ref, `pyramid/${l.name}`));
        const d = relativeMaxDiff(getFloat32(ref, `pyramid/${l.name}`), l.data);
        expect(d, `level ${l.name}`).to.be.at.most(1e-4);
        return `${l.name} ${d.toExponential(1)}`;
      });
      console.log(`      mobilenet pyramid (max diff / max): ${diffs.join(', ')}`);
      expectEveryDetectionMatched('mobilenet image0', first, torchvisionDetections(ref, 'image0', false));
      for (let i = 1; i < meta.images; i++) {
        const result = await model.detect(join(ref.folder, `image${i}.png`), { scoreThreshold: 0 });
        expectEveryDetectionMatched(`mobilenet image${i}`, result, torchvisionDetections(ref, `image${i}`, false));
      }
    } finally {
      await model.release();
    }
  });

  it('Mask R-CNN ResNet-50-FPN with returned_layers=[2, 3, 4] and two anchor sizes per level: levels read from the weights, three pooled; detections and masks match', async () => {
    const ref = torchReference('pyramid_cases', ['r50-l234']);
    const meta = ref.meta as Meta;
    const out = join(work, 'r50-l234');
    const summary = await convertCheckpoint(join(ref.folder, 'r50-l234.pth'), {
      out, config: { transform: { minSize: meta.minSize, maxSize: meta.maxSize }, rpn: { anchorSizes: meta.anchorSizes } },
    });
    expect(summary.family).to.equal('Mask R-CNN v1, ResNet-50-FPN');
    expect(summary.architecture).to.contain('FPN 256 on layer2,3,4');
    const manifest = JSON.parse(readFileSync(join(out, 'resdet.json'), 'utf8'));
    expect(manifest.backbone.levels).to.deep.equal([
      { name: '0', stride: 8, channels: 256 }, { name: '1', stride: 16, channels: 256 }, { name: '2', stride: 32, channels: 256 }, { name: 'pool', stride: 64, channels: 256 },
    ]);
    expect(manifest.config.levelMapper).to.deep.equal({ featureNames: ['0', '1', '2'] });
    const model = await loadModel(out, { threads: 2 });
    try {
      for (let i = 0; i < meta.images; i++) {
        const result = await model.detect(join(ref.folder, `image${i}.png`), { masks: 'binary', scoreThreshold: 0 });
        expectEveryDetectionMatched(`r50-l234 image${i}`, result, torchvisionDetections(ref, `image${i}`, true));
      }
    } finally {
      await model.release();
    }
  });

  it('the same ResNet-50-FPN (returned_layers=[2, 3, 4]) as a torch.onnx.export-ed backbone: four levels read from the file, three pooled at strides 8, 16, 32; detections and masks match', async () => {
    const ref = torchReference('pyramid_cases', ['r50-l234']);
    const meta = ref.meta as Meta;
    const out = join(work, 'r50-l234-onnx');
    const summary = await convertCheckpoint(join(ref.folder, 'r50-l234.pth'), {
      out, backboneOnnx: join(ref.folder, 'r50-l234-backbone.onnx'),
      config: { transform: { minSize: meta.minSize, maxSize: meta.maxSize }, rpn: { anchorSizes: meta.anchorSizes } },
    });
    expect(summary.family).to.equal('Mask R-CNN v1, ONNX backbone (r50-l234-backbone.onnx)');
    const manifest = JSON.parse(readFileSync(join(out, 'resdet.json'), 'utf8'));
    expect(manifest.backbone.kind).to.equal('onnx');
    expect(manifest.backbone.levels.map((l: { name: string; stride: number }) => `${l.name}/${l.stride}`)).to.deep.equal(['0/8', '1/16', '2/32', 'pool/64']);
    expect(manifest.config.levelMapper).to.deep.equal({ featureNames: ['0', '1', '2'] });
    const model = await loadModel(out, { threads: 2 });
    try {
      const result = await model.detect(join(ref.folder, 'image0.png'), { masks: 'binary', scoreThreshold: 0 });
      expectEveryDetectionMatched('r50-l234 (ONNX backbone) image0', result, torchvisionDetections(ref, 'image0', true));
    } finally {
      await model.release();
    }
  });
});
