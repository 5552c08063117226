import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { POOLED_CHANNELS_LAST, poolerInputs } from '../../heads/pooler.js';
import { readModelInterface } from '../../onnx/index.js';
import { resolveConfig } from '../../src/config.js';
import { createDetector } from '../../src/detector/index.js';
import { cpuOperators, headPoolers } from '../../src/detector/operators.js';
import type { Detector } from '../../src/detector/index.js';
import type { DetectionResult } from '../../src/detector/result.js';
import { decodeImage } from '../../src/image/index.js';
import { checkPackageNetworks, readModelPackage } from '../../src/modelPackage/index.js';
import type { OrtModule } from '../../src/runtime/index.js';
import { matchDetections } from '../helpers/matching.js';
import { resdetDetections } from '../helpers/parity.js';
import { repoRoot } from '../helpers/reference.js';

/**
 * The CPU operators pool the heads' RoIs in WebAssembly (postprocess/roiAlignSimd.ts) instead of
 * onnxruntime's RoiAlign nodes: the same detections as the packaged graphs give, also when
 * forwards overlap.
 */
describe('CPU operators: the heads fed by the SIMD pooler', () => {
  const pkg = checkPackageNetworks(readModelPackage(join(repoRoot, 'models', 'shapes')));
  const samples = [1, 2, 3, 4].map((i) => join(repoRoot, 'samples', `shapes-${i}.png`));
  const make = (graphPooling: boolean) => createDetector(ort as unknown as OrtModule, pkg.manifest, pkg.files, decodeImage, { provider: 'cpu', threads: 2, graphPooling });
  let simd: Detector, graph: Detector;
  before(async () => {
    [simd, graph] = await Promise.all([make(false), make(true)]);
  });
  after(async () => {
    await Promise.all([simd?.release(), graph?.release()]);
  });

  it('takes the RoiAlign nodes out at load: the box head reads channels-last (fc6 permuted), the mask head planes', () => {
    const levels = pkg.manifest.backbone.levels;
    const ops = cpuOperators(ort as unknown as OrtModule, 'cpu', headPoolers(levels, resolveConfig(pkg.manifest.config)));
    const box = readModelInterface(ops.network('boxHead', pkg.files.boxHead));
    const mask = readModelInterface(ops.network('maskHead', pkg.files.maskHead!));
    expect(box.inputs.map((i) => i.name)).to.deep.equal([POOLED_CHANNELS_LAST]);
    expect(mask.inputs.map((i) => i.name)).to.deep.equal(['pooled', 'labels']);
    // the packaged heads pool in the graph; on 'cuda' they keep doing so (RoiAlign-10)
    expect(readModelInterface(pkg.files.boxHead).inputs.map((i) => i.name)).to.include(poolerInputs.order);
    const cuda = cpuOperators(ort as unknown as OrtModule, 'cuda', headPoolers(levels, resolveConfig(pkg.manifest.config)));
    expect(readModelInterface(cuda.network('boxHead', pkg.files.boxHead)).inputs.map((i) => i.name)).to.include(poolerInputs.order);
  });

  it('gives the detections and masks of onnxruntime\'s RoiAlign on every sample, every score kept', async () => {
    for (const image of samples) {
      const [a, b] = [await simd.detect(image, { scoreThreshold: 0 }), await graph.detect(image, { scoreThreshold: 0 })];
      const r = matchDetections(resdetDetections(a, true), resdetDetections(b, true), { minBoxIou: 0.999, maxScoreDiff: 1e-4, minMaskIou: 0.99, maxMaskPixelDiff: 2 });
      expect(b.detections.length, image).to.be.above(10);
      expect([r.recall, r.precision, r.maskMatched], image).to.deep.equal([1, 1, r.maskPairs]);
    }
  });

  it('gives each forward of several running at once its own pooler: results equal to one at a time', async () => {
    const images = [...samples, ...samples];
    const alone: DetectionResult[] = [];
    for (const image of images) alone.push(await simd.detect(image, { scoreThreshold: 0 }));
    const together = await Promise.all(images.map((image) => simd.detect(image, { scoreThreshold: 0 })));
    together.forEach((t, i) => {
      expect(t.detections.map((d) => [d.label, d.score, ...d.box]), images[i]).to.deep.equal(alone[i].detections.map((d) => [d.label, d.score, ...d.box]));
    });
  });
});
