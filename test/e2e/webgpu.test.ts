import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertCheckpoint, type DetectionResult, type Detector, loadModel } from '../../src/index.js';
import { matchDetections } from '../helpers/matching.js';
import { resdetDetections } from '../helpers/parity.js';
import { repoRoot, torchReference } from '../helpers/reference.js';
import { useSwiftShader } from '../helpers/webgpu.js';

/**
 * The webgpu detector (pyramid on the GPU, GridSample pooling, GPU top-k) against the cpu one on
 * the same package and image, in Node on SwiftShader: the end-to-end rule (same label, box IoU >=
 * 0.99, |score diff| <= 1e-3, mask IoU >= 0.98, every detection matched both ways).
 * SwiftShader runs the GPU's work on the CPU: these runs prove correctness, their times nothing.
 */
async function detectBoth(model: string, image: string, maxDetections: number): Promise<{ cpu: DetectionResult; webgpu: DetectionResult }> {
  useSwiftShader();
  // Every detection the model keeps, up to maxDetections by score (the mask head, slowest on
  // SwiftShader, runs on those only).
  const options = { masks: 'binary' as const, scoreThreshold: 0, maxDetections };
  const run = async (provider: 'cpu' | 'webgpu') => {
    const detector: Detector = await loadModel(model, { provider, threads: 2 });
    try {
      return await detector.detect(image, options);
    } finally {
      await detector.release();
    }
  };
  return { cpu: await run('cpu'), webgpu: await run('webgpu') };
}

function expectSameDetections(label: string, cpu: DetectionResult, webgpu: DetectionResult): void {
  const r = matchDetections(resdetDetections(webgpu, true), resdetDetections(cpu, true));
  console.log(`      ${label}: ${cpu.detections.length} cpu / ${webgpu.detections.length} webgpu; matched ${(r.recall * 100).toFixed(1)}% / ${(r.precision * 100).toFixed(1)}%, worst box IoU ${r.worstBoxIou.toFixed(5)}, worst score diff ${r.worstScoreDiff.toExponential(1)}, masks ${r.maskMatched}/${r.maskPairs} (worst IoU ${r.worstMaskIou.toFixed(4)}); webgpu ${(webgpu.timings.total / 1000).toFixed(1)} s on SwiftShader (proves nothing about GPU speed)`);
  expect(webgpu.provider).to.equal('webgpu');
  expect(cpu.detections.length, 'cpu detections').to.be.above(0);
  expect(r.recall, 'cpu detections matched by webgpu').to.equal(1);
  expect(r.precision, 'webgpu detections matched by cpu').to.equal(1);
  expect(r.maskMatched).to.equal(r.maskPairs);
}

describe('webgpu detections equal cpu detections end to end (Node, SwiftShader)', function () {
  this.timeout(1_200_000);
  it('the bundled model on samples/shapes-1.png (its 20 best detections)', async () => {
    const { cpu, webgpu } = await detectBoth('shapes', join(repoRoot, 'samples', 'shapes-1.png'), 20);
    expectSameDetections('shapes', cpu, webgpu);
  });

  it('a seeded ResNet-50-FPN Mask R-CNN package (torchvision-built, as detect.test.ts) on its first image, at 160 px, 200 proposals, its 10 best detections', async () => {
    const ref = torchReference('detect_cases', ['mask-r50']);
    const out = join(mkdtempSync(join(tmpdir(), 'resdet-webgpu-')), 'mask-r50');
    // Small enough for SwiftShader in CI (the whole package and every GPU path, on a 160x213 input
    // and 200 RoIs; cpu and webgpu run the same package, so the comparison is as strict).
    await convertCheckpoint(join(ref.folder, 'mask-r50.pth'), { out, config: { transform: { minSize: 160, maxSize: 224 }, rpn: { postNmsTopN: 200 } } });
    const { cpu, webgpu } = await detectBoth(out, join(ref.folder, 'image0.png'), 10);
    expectSameDetections('mask-r50 image0', cpu, webgpu);
  });
});
