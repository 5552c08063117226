import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertCheckpoint, loadModel } from '../../src/index.js';
import { expectEveryDetectionMatched, torchvisionDetections } from '../helpers/parity.js';
import { torchReference } from '../helpers/reference.js';

/** Our detections vs torchvision's on the same checkpoint and image (seeded random, calibrated weights). */
const cases = ['mask-r18', 'faster-r18', 'mask-r50', 'faster-r50-800', 'mask-r101', 'faster-r101', 'mask-x50'];

describe('detect equals torchvision end to end', () => {
  const work = mkdtempSync(join(tmpdir(), 'resdet-e2e-'));
  // Seven converted packages, 1.2 GB: removed, or every run would leave them in the temp folder.
  after(() => rmSync(work, { recursive: true, force: true }));
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
          expectEveryDetectionMatched(`${name} image${i}`, result, torchvisionDetections(ref, `image${i}`, meta.arch === 'mask'));
        }
      } finally {
        await model.release();
      }
    });
  }
});
