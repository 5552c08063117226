import { expect } from 'chai';
import { readFileSync, statSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rleFrString, rleIou } from '../../postprocess/rle.js';
import { type Detector, loadModel, readModelPackage } from '../../src/index.js';
import { type CocoInstances, SHAPE_CLASSES } from '../../src/dataset/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const modelDir = join(root, 'models', 'shapes');
const samples = join(root, 'samples');

function boxIou(a: number[], b: number[]): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])), h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

describe('the bundled shapes model', () => {
  it('is a valid Mask R-CNN package for the dataset classes, trained at 256 px, under 25 MB', () => {
    const pkg = readModelPackage(modelDir);
    expect(pkg.manifest.architecture).to.equal('maskrcnn');
    expect(pkg.manifest.classes).to.deep.equal(['__background__', ...SHAPE_CLASSES]);
    expect(pkg.manifest.config.transform).to.include({ minSize: 256, maxSize: 256 });
    const bytes = readdirSync(modelDir).reduce((s, f) => s + statSync(join(modelDir, f)).size, 0);
    expect(bytes).to.be.below(25e6);
  });

  describe('on the sample images (a seed not used in training)', () => {
    let detector: Detector;
    before(async () => {
      detector = await loadModel('shapes');
    });

    it('finds the annotated objects with the right class, box and mask', async () => {
      const coco = JSON.parse(readFileSync(join(samples, 'shapes-instances.json'), 'utf8')) as CocoInstances;
      let found = 0;
      for (const image of coco.images) {
        const result = await detector.detect(join(samples, image.file_name), { masks: 'rle', scoreThreshold: 0.5 });
        expect([result.width, result.height]).to.deep.equal([image.width, image.height]);
        for (const gt of coco.annotations.filter((a) => a.image_id === image.id)) {
          const [x, y, w, h] = gt.bbox;
          const gtRle = rleFrString(gt.segmentation.counts, image.height, image.width);
          const hit = result.detections.some((d) => {
            if (d.label !== gt.category_id || d.mask?.format !== 'rle') return false;
            const maskIou = rleIou([rleFrString(d.mask.counts, d.mask.size[0], d.mask.size[1])], [gtRle], [0])[0];
            return boxIou(d.box, [x, y, x + w, y + h]) >= 0.7 && maskIou >= 0.7;
          });
          if (hit) found++;
        }
      }
      // recall at IoU 0.7 with the right class, boxes and masks both
      expect(found / coco.annotations.length).to.be.at.least(RECALL_FLOOR);
    });
  });
});

/** Set from the measured recall of the committed model (models/shapes/README.md), with a margin. */
const RECALL_FLOOR = 0.8;
