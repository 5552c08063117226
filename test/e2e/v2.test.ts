import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildResNetFpn } from '../../backbones/index.js';
import { buildBoxHead } from '../../heads/boxHead.js';
import { buildMaskHead } from '../../heads/maskHead.js';
import { buildRpnHead } from '../../heads/rpnHead.js';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { convertCheckpoint, loadModel } from '../../src/index.js';
import { relativeMaxDiff, runOnnx } from '../backbones/helpers.js';
import { expectEveryDetectionMatched, torchvisionDetections } from '../helpers/parity.js';
import { feed, runOnnx as runHead } from '../helpers/onnx.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getShape } from '../helpers/tensorArchive.js';

/**
 * torchvision 0.14's v2 detectors (maskrcnn_resnet50_fpn_v2, fasterrcnn_resnet50_fpn_v2): BatchNorm2d
 * in the body, the FPN, the conv box head and the mask head, a two-conv RPN head. Seeded random,
 * calibrated weights from test/reference/v2_cases.py.
 */
const cases = [
  { name: 'mask-v2', family: 'Mask R-CNN v2, ResNet-50-FPN' },
  { name: 'faster-v2', family: 'Faster R-CNN v2, ResNet-50-FPN' },
];

describe('torchvision v2 Faster / Mask R-CNN converted and detecting as torchvision does', () => {
  const work = mkdtempSync(join(tmpdir(), 'resdet-v2-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  for (const { name, family } of cases) {
    it(`${name}: the pyramid of BatchNorm2d body + FPN equals torchvision's on every level`, async () => {
      const ref = torchReference('v2_cases', [name]);
      const sd = await loadCheckpoint(join(ref.folder, `${name}.pth`));
      const backbone = buildResNetFpn(sd, { eps: 0 }); // eps 0 is FrozenBatchNorm2d's: every layer here is a BatchNorm2d (1e-5)
      expect(backbone.description).to.include({ arch: 'resnet50', norm: 'BatchNorm2d', fpnNorm: true });
      const names = backbone.levels.map((l) => l.name);
      const out = await runOnnx(backbone.onnx, backbone.inputName, getFloat32(ref, 'pyramid/input'), getShape(ref, 'pyramid/input'), names);
      const diffs = names.map((level) => {
        expect(out.get(level)!.dims, `level ${level} shape`).to.deep.equal(getShape(ref, `pyramid/${level}`));
        const d = relativeMaxDiff(getFloat32(ref, `pyramid/${level}`), out.get(level)!.data);
        expect(d, `level ${level}`).to.be.at.most(1e-4);
        return `${level} ${d.toExponential(1)}`;
      });
      console.log(`      ${name} pyramid (max diff / max): ${diffs.join(', ')}`);
    });

    it(`${name}: the two-conv RPN head${name.startsWith('mask') ? ', conv box head and BatchNorm2d mask head' : ' and conv box head'} each equal torchvision's`, async () => {
      const ref = torchReference('v2_cases', [name]);
      const sd = await loadCheckpoint(join(ref.folder, `${name}.pth`));
      const levelNames = ['0', '1', '2', '3', 'pool'];
      const rpn = buildRpnHead(sd, { levelNames });
      expect(rpn.convDepth).to.equal(2);
      const rpnOut = await runHead(rpn.onnx, Object.fromEntries(levelNames.map((l) => [l, feed(ref, `pyramid/${l}`)])));
      const diffs = [
        ['rpn objectness', relativeMaxDiff(getFloat32(ref, 'rpn/objectness'), rpnOut.objectness.data as Float32Array)],
        ['rpn deltas', relativeMaxDiff(getFloat32(ref, 'rpn/deltas'), rpnOut.deltas.data as Float32Array)],
      ] as Array<[string, number]>;
      const box = buildBoxHead(sd, 256);
      expect(box).to.include({ kind: 'conv', convLayers: 4, pooledSize: 7, representationSize: 1024, numClasses: 6 });
      const boxOut = await runHead(box.onnx, { pooled: feed(ref, 'box/pooled') });
      diffs.push(['class logits', relativeMaxDiff(getFloat32(ref, 'box/classLogits'), boxOut.classLogits.data as Float32Array)]);
      diffs.push(['box deltas', relativeMaxDiff(getFloat32(ref, 'box/boxDeltas'), boxOut.boxDeltas.data as Float32Array)]);
      if (name.startsWith('mask')) {
        const mask = buildMaskHead(sd, 256);
        const maskOut = await runHead(mask.onnx, { pooled: feed(ref, 'mask/pooled'), labels: feed(ref, 'mask/labels') });
        diffs.push(['mask probs', relativeMaxDiff(getFloat32(ref, 'mask/probs'), maskOut.maskProbs.data as Float32Array)]);
      }
      console.log(`      ${name} heads (max diff / max): ${diffs.map(([k, d]) => `${k} ${d.toExponential(1)}`).join(', ')}`);
      for (const [k, d] of diffs) expect(d, k).to.be.below(1e-4);
    });

    it(`${name}: converted as '${family}', every detection matched both ways (label, box IoU >= 0.99, |score diff| <= 1e-3, mask IoU >= 0.98)`, async () => {
      const ref = torchReference('v2_cases', [name]);
      const meta = ref.meta as { minSize: number; maxSize: number; images: number; arch: string };
      const out = join(work, name);
      const summary = await convertCheckpoint(join(ref.folder, `${name}.pth`), { out, config: { transform: { minSize: meta.minSize, maxSize: meta.maxSize } } });
      expect(summary.variant).to.equal('v2');
      expect(summary.family).to.equal(family);
      const written = JSON.parse(readFileSync(join(out, 'resdet.json'), 'utf8')) as { variant: string; source: Record<string, unknown> };
      expect(written.variant).to.equal('v2');
      expect(written.source.family).to.equal(family);
      const model = await loadModel(out, { threads: 2 });
      try {
        for (let i = 0; i < meta.images; i++) {
          const result = await model.detect(join(ref.folder, `image${i}.png`), { masks: 'binary', scoreThreshold: 0 });
          expectEveryDetectionMatched(`${name} image${i}`, result, torchvisionDetections(ref, `image${i}`, meta.arch === 'mask'));
        }
      } finally {
        await model.release();
      }
    });
  }
});
