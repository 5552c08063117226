import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertCheckpoint, type Detection, loadModel, type RleMask } from '../../src/index.js';
import { matchDetections } from '../helpers/matching.js';
import { torchReference } from '../helpers/reference.js';
import { flatPageDetections, openUserSite, type PageDetection, type UserSite } from './harness.js';

/** Every detection the model keeps, its 10 best (the mask head, slowest on SwiftShader, runs on those only). */
const DETECT = { masks: 'rle', maskExtent: 'image', scoreThreshold: 0, maxDetections: 10 } as const;

/**
 * The GPU-resident path in a browser on a real backbone: a seeded ResNet-50-FPN Mask R-CNN package
 * (torchvision-built, as test/e2e/webgpu.test.ts runs it in Node), loaded from a URL through the
 * browser entry as a user bundles it, on WebGPU (SwiftShader) in headless Chromium, gives Node's
 * cpu detections under the end-to-end rule: same label, box IoU >= 0.99, |score diff| <= 1e-3,
 * mask IoU >= 0.98, every detection matched both ways. The package runs at 160 px with 200
 * proposals so that SwiftShader finishes in CI; cpu and webgpu run the same package, so the
 * comparison is as strict as at full size.
 */
describe('a ResNet-50-FPN Mask R-CNN on WebGPU in headless Chromium equals Node on the CPU', function () {
  this.timeout(1_200_000);
  let work: string;
  let user: UserSite | undefined;
  let expected: Detection[];
  let imageFolder: string;

  before(async () => {
    const ref = torchReference('detect_cases', ['mask-r50']);
    imageFolder = ref.folder;
    work = mkdtempSync(join(tmpdir(), 'resdet-browser-r50-'));
    const pkg = join(work, 'mask-r50');
    await convertCheckpoint(join(ref.folder, 'mask-r50.pth'), { out: pkg, config: { transform: { minSize: 160, maxSize: 224 }, rpn: { postNmsTopN: 200 } } });
    const node = await loadModel(pkg, { threads: 2 });
    expected = (await node.detect(join(ref.folder, 'image0.png'), DETECT)).detections;
    await node.release();
    user = await openUserSite({ r50: pkg, images: imageFolder });
  });
  after(async () => {
    await user?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("gives Node's cpu detections, the pyramid kept on the GPU (GridSample pooling, GPU top-k)", async () => {
    const page = await user!.browser.newPage();
    let run: { provider: string; seconds: number; detections: PageDetection[] };
    try {
      await page.goto(`${user!.site.origin}/site/`);
      await page.waitForFunction(() => 'resdet' in globalThis);
      run = await page.evaluate(async (options) => {
        type Result = { provider: string; detections: { box: number[]; score: number; label: number; mask: { counts: string } }[] };
        type Model = { detect(i: string, o: object): Promise<Result>; release(): Promise<void> };
        const r = (globalThis as unknown as { resdet: { loadModel(u: string, o: object): Promise<Model> } }).resdet;
        const model = await r.loadModel('/r50/', { provider: 'webgpu' });
        const t0 = performance.now();
        const out = await model.detect('/images/image0.png', options);
        const seconds = (performance.now() - t0) / 1000;
        await model.release();
        return { provider: out.provider, seconds, detections: out.detections.map((d) => ({ box: d.box, score: d.score, label: d.label, counts: d.mask.counts })) };
      }, DETECT);
    } finally {
      await page.close();
    }
    const size = (expected[0].mask as RleMask).size;
    const ours = flatPageDetections(run.detections, size);
    const theirs = flatPageDetections(expected.map((d) => ({ box: d.box, score: d.score, label: d.label, counts: (d.mask as RleMask).counts })), size);
    const r = matchDetections(ours, theirs);
    console.log(`      mask-r50 image0: ${expected.length} Node cpu / ${run.detections.length} Chromium webgpu; matched ${(r.recall * 100).toFixed(1)}% / ${(r.precision * 100).toFixed(1)}%, worst box IoU ${r.worstBoxIou.toFixed(5)}, worst score diff ${r.worstScoreDiff.toExponential(1)}, masks ${r.maskMatched}/${r.maskPairs} (worst IoU ${r.worstMaskIou.toFixed(4)}); ${run.seconds.toFixed(1)} s on SwiftShader (proves nothing about GPU speed)`);
    expect(run.provider).to.equal('webgpu');
    expect(expected.length, 'Node detects something').to.be.above(0);
    expect(r.recall, "Node's detections matched in Chromium's").to.equal(1);
    expect(r.precision, "Chromium's detections matched in Node's").to.equal(1);
    expect(r.maskMatched).to.equal(r.maskPairs);
  });
});
