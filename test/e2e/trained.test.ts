import { expect } from 'chai';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BinaryMask, convertCheckpoint, fullImageMask, loadModel } from '../../src/index.js';
import { type FlatDetections, matchDetections } from '../helpers/matching.js';
import { repoRoot, torchReference } from '../helpers/reference.js';
import { getFloat32, getInt, getShape } from '../helpers/tensorArchive.js';

/**
 * Our detections vs torchvision's on the project's trained shapes checkpoint (the source of
 * models/shapes): trained weights give realistic proposals, scores and masks.
 */
describe('detect equals torchvision on a trained checkpoint', () => {
  const checkpoint = join(repoRoot, 'test', 'fixtures', 'shapes', 'model_final.pth');
  const images = [1, 2, 3, 4].map((i) => join(repoRoot, 'samples', `shapes-${i}.png`));

  it('every detection (score >= 0.05) matched both ways: label, box IoU >= 0.99, |score diff| <= 1e-3, mask IoU >= 0.98', async () => {
    expect(existsSync(checkpoint), `${checkpoint} (the trained shapes checkpoint) is missing`).to.equal(true);
    const ref = torchReference('trained_cases', [checkpoint, ...images], [checkpoint]);
    const out = join(mkdtempSync(join(tmpdir(), 'resdet-trained-')), 'pkg');
    await convertCheckpoint(checkpoint, { out, config: { transform: { minSize: 256, maxSize: 256 } } });
    const model = await loadModel(out, { threads: 2 });
    let total = 0;
    try {
      for (const [i, image] of images.entries()) {
        const result = await model.detect(image, { masks: 'binary', scoreThreshold: 0 }); // all torchvision keeps (score > 0.05)
        const [d, h, w] = getShape(ref, `image${i}/masks`);
        const all = ref.tensors.get(`image${i}/masks`)!.data as Uint8Array;
        const expected: FlatDetections = {
          boxes: getFloat32(ref, `image${i}/boxes`),
          scores: getFloat32(ref, `image${i}/scores`),
          labels: getInt(ref, `image${i}/labels`),
          masks: Array.from({ length: d }, (_, k) => all.subarray(k * h * w, (k + 1) * h * w)),
        };
        const ours: FlatDetections = {
          boxes: result.detections.flatMap((x) => x.box),
          scores: result.detections.map((x) => x.score),
          labels: result.detections.map((x) => x.label),
          masks: result.detections.map((x) => fullImageMask(x.mask as BinaryMask)),
        };
        const r = matchDetections(ours, expected);
        console.log(`      shapes-${i + 1}.png: ${expected.scores.length} torchvision / ${ours.scores.length} ours; matched ${(r.recall * 100).toFixed(1)}% / ${(r.precision * 100).toFixed(1)}%, worst box IoU ${r.worstBoxIou.toFixed(5)}, worst score diff ${r.worstScoreDiff.toExponential(1)}, masks ${r.maskMatched}/${r.maskPairs} (worst IoU ${r.worstMaskIou.toFixed(4)})`);
        expect(r.recall).to.equal(1);
        expect(r.precision).to.equal(1);
        expect(r.maskMatched).to.equal(r.maskPairs);
        total += expected.scores.length;
      }
    } finally {
      await model.release();
    }
    expect(total, 'the trained model finds objects in the samples').to.be.above(4);
  });
});
