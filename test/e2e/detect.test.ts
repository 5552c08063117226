import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BinaryMask, convertCheckpoint, fullImageMask, loadModel } from '../../src/index.js';
import { type FlatDetections, matchDetections } from '../helpers/matching.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getInt, getShape } from '../helpers/tensorArchive.js';

/** Our detections vs torchvision's on the same checkpoint and image (seeded random, calibrated weights). */
const cases = ['mask-r18', 'faster-r18', 'mask-r50', 'faster-r50-800', 'mask-r101', 'faster-r101', 'mask-x50'];

describe('detect equals torchvision end to end', () => {
  const work = mkdtempSync(join(tmpdir(), 'resdet-e2e-'));
  for (const name of cases) {
    it(`${name}: every detection matched both ways (label, box IoU >= 0.99, |score diff| <= 1e-3, mask IoU >= 0.98)`, async () => {
      const ref = torchReference('detect_cases', [name]);
      const meta = ref.meta as { minSize: number; maxSize: number; images: number; arch: string };
      const out = join(work, name);
      await convertCheckpoint(join(ref.folder, `${name}.pth`), { out, config: { transform: { minSize: meta.minSize, maxSize: meta.maxSize } } });
      const model = await loadModel(out, { threads: 2 });
      try {
        for (let i = 0; i < meta.images; i++) {
          const result = await model.detect(join(ref.folder, `image${i}.png`), { masks: 'binary', scoreThreshold: 0 }); // all torchvision keeps (score > 0.05)
          const expected: FlatDetections = {
            boxes: getFloat32(ref, `image${i}/boxes`),
            scores: getFloat32(ref, `image${i}/scores`),
            labels: getInt(ref, `image${i}/labels`),
          };
          if (meta.arch === 'mask') {
            const [d, h, w] = getShape(ref, `image${i}/masks`);
            const all = ref.tensors.get(`image${i}/masks`)!.data as Uint8Array;
            expected.masks = Array.from({ length: d }, (_, k) => all.subarray(k * h * w, (k + 1) * h * w));
          }
          const ours: FlatDetections = {
            boxes: result.detections.flatMap((d) => d.box),
            scores: result.detections.map((d) => d.score),
            labels: result.detections.map((d) => d.label),
            masks: meta.arch === 'mask' ? result.detections.map((d) => fullImageMask(d.mask as BinaryMask)) : undefined,
          };
          const r = matchDetections(ours, expected);
          console.log(`      ${name} image${i} ${result.width}x${result.height}: ${expected.scores.length} torchvision / ${ours.scores.length} ours; matched ${(r.recall * 100).toFixed(1)}% / ${(r.precision * 100).toFixed(1)}%, worst box IoU ${r.worstBoxIou.toFixed(5)}, worst score diff ${r.worstScoreDiff.toExponential(1)}${r.maskPairs ? `, masks ${r.maskMatched}/${r.maskPairs} (worst IoU ${r.worstMaskIou.toFixed(4)})` : ''}`);
          expect(expected.scores.length, 'torchvision found detections').to.be.above(0);
          expect(r.recall, 'torchvision detections matched by ours').to.equal(1);
          expect(r.precision, 'our detections matched by torchvision').to.equal(1);
          expect(r.maskMatched).to.equal(r.maskPairs);
        }
      } finally {
        await model.release();
      }
    });
  }
});
