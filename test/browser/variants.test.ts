import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rleDecode, rleFrString } from '../../postprocess/index.js';
import { type Detection, loadModel, type RleMask } from '../../src/index.js';
import type { Precision } from '../../src/modelPackage/index.js';
import { quantizePackage } from '../../src/quantize/index.js';
import { type FlatDetections, matchDetections } from '../helpers/matching.js';
import { repoRoot } from '../helpers/reference.js';
import { expectSameDetections, flatPageDetections, openUserSite, type PageDetection, type UserSite } from './harness.js';

const DETECT = { masks: 'rle', maskExtent: 'image', scoreThreshold: 0.3 } as const;
/**
 * int8 on WebGPU is compared under a tolerance: onnxruntime's CPU provider runs the QDQ pairs as
 * integer kernels (QLinearConv, QGemm: int32 accumulation, requantized with rounding), while the
 * WebGPU provider has no integer convolutions and computes DequantizeLinear -> float Conv ->
 * QuantizeLinear, whose float sums can round to the neighbouring uint8 step. One step of an
 * activation moves scores by about 1e-2, so: scores within 0.05, box IoU >= 0.9, mask IoU >= 0.85
 * (the masks are mask probabilities thresholded at 0.5: pixels on a small shape's outline flip,
 * measured worst 0.887 on this sample, 0.99 box IoU, 0.021 score), or at most 4 pixels apart: a
 * ring at 0.33 whose mask is 5 pixels differs by 2 (IoU 0.667); and the score threshold 0.3
 * applied with a 0.05 margin on the other side (a detection at 0.31 here may be 0.29 there).
 */
const INT8_WEBGPU_BARS = { minBoxIou: 0.9, maxScoreDiff: 0.05, minMaskIou: 0.85, maxMaskPixelDiff: 4 };
const MARGIN = 0.05;
const SAMPLE = join(repoRoot, 'samples', 'shapes-1.png');
const VARIANTS = ['fp16', 'int8'] as const;

interface PageRun { detections: PageDetection[]; provider: string; computePrecision: string; adapterHasF16: boolean }

/**
 * The bundled shapes model's precision variants through the browser entry as a user bundles it
 * (esbuild, the README's onnxruntime-web files next to the bundle), in headless Chromium: the
 * fp16 and int8 packages `quantizePackage` writes load from a URL and give the detections Node
 * gives for the same variant on the CPU provider, on WASM and on WebGPU (SwiftShader).
 */
describe('precision variants in headless Chromium, bundled as a user bundles it', function () {
  this.timeout(900_000);
  let work: string;
  let user: UserSite | undefined;
  const expected = new Map<Precision, Detection[]>();

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'resdet-browser-variants-'));
    const fp16 = join(work, 'fp16');
    await quantizePackage(join(repoRoot, 'models', 'shapes'), { dtype: 'fp16', out: fp16 });
    // Calibrated on the other samples: this test compares runtimes on one variant, not accuracy.
    const calibration = [2, 3, 4].map((i) => join(repoRoot, 'samples', `shapes-${i}.png`));
    await quantizePackage(fp16, { dtype: 'int8', out: join(work, 'variants'), calibration });
    for (const dtype of VARIANTS) {
      const node = await loadModel(join(work, 'variants'), { dtype });
      expected.set(dtype, (await node.detect(SAMPLE, DETECT)).detections);
      await node.release();
    }
    user = await openUserSite({ variants: join(work, 'variants') });
  });
  after(async () => {
    await user?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The sample's detections of `dtype` on `provider` in a fresh page. */
  async function detectInPage(dtype: Precision, provider: 'wasm' | 'webgpu', scoreThreshold: number = DETECT.scoreThreshold): Promise<PageRun> {
    const page = await user!.browser.newPage();
    try {
      await page.goto(`${user!.site.origin}/site/`);
      await page.waitForFunction(() => 'resdet' in globalThis);
      return await page.evaluate(async ({ dtype, provider, options }) => {
        type Result = { provider: string; detections: { box: number[]; score: number; label: number; mask: { counts: string } }[] };
        type Model = { computePrecision: string; detect(i: string, o: object): Promise<Result>; release(): Promise<void> };
        const r = (globalThis as unknown as { resdet: { loadModel(u: string, o: object): Promise<Model> } }).resdet;
        type Gpu = { requestAdapter(): Promise<{ features: Set<string> } | null> };
        const gpu = (navigator as unknown as { gpu?: Gpu }).gpu;
        const adapterHasF16 = (await gpu?.requestAdapter())?.features.has('shader-f16') ?? false;
        const model = await r.loadModel('/variants/', { provider, dtype });
        const out = await model.detect('/samples/shapes-1.png', options);
        await model.release();
        return {
          provider: out.provider, computePrecision: model.computePrecision, adapterHasF16,
          detections: out.detections.map((d) => ({ box: d.box, score: d.score, label: d.label, counts: d.mask.counts })),
        };
      }, { dtype, provider, options: { ...DETECT, scoreThreshold } });
    } finally {
      await page.close();
    }
  }

  for (const provider of ['wasm', 'webgpu'] as const) {
    for (const dtype of VARIANTS) {
      if (provider === 'webgpu' && dtype === 'int8') continue;
      it(`${dtype} on ${provider}: loads from a URL and gives Node's cpu detections of the ${dtype} variant`, async () => {
        user!.site.requests.length = 0;
        const run = await detectInPage(dtype, provider);
        const mine = expected.get(dtype)!;
        console.log(`      ${dtype}/${provider}: ${run.detections.length} detections in Chromium, ${mine.length} in Node; computed in ${run.computePrecision}`);
        expect(run.provider).to.equal(provider);
        // Chromium's SwiftShader adapter has no shader-f16, so fp16 computes in float32 on webgpu too.
        expect(run.adapterHasF16, 'the adapter has shader-f16: this test expects SwiftShader').to.equal(false);
        expect(run.computePrecision).to.equal('fp32');
        expect(mine.length, 'Node detects something on the sample').to.be.above(0);
        expectSameDetections(run.detections, mine, `${dtype}/${provider}`);
        // The variant's own files were fetched, never the fp32 networks.
        const onnx = user!.site.requests.filter((q) => q.path.startsWith('/variants/') && q.path.endsWith('.onnx')).map((q) => q.path.split('/').pop());
        expect(onnx.length).to.be.above(0);
        for (const file of onnx) expect(file).to.include(`.${dtype}.onnx`);
      });
    }
  }

  it("int8 on webgpu: Node's cpu detections of the int8 variant under INT8_WEBGPU_BARS (float QDQ on the GPU, integer kernels on the CPU)", async () => {
    const run = await detectInPage('int8', 'webgpu', DETECT.scoreThreshold - MARGIN);
    const node = await loadModel(join(work, 'variants'), { dtype: 'int8' });
    const nodeDetections = (await node.detect(SAMPLE, { ...DETECT, scoreThreshold: DETECT.scoreThreshold - MARGIN })).detections;
    await node.release();
    const loose = flatNode(nodeDetections);
    const page = flatPageDetections(run.detections, (nodeDetections[0].mask as RleMask).size);
    const above = (d: FlatDetections) => keep(d, (s) => s >= DETECT.scoreThreshold);
    // Every detection above the threshold on one side has its match on the other.
    const pageKept = matchDetections(above(page), loose, INT8_WEBGPU_BARS);
    const nodeKept = matchDetections(page, above(loose), INT8_WEBGPU_BARS);
    console.log(`      int8/webgpu: ${above(page).scores.length} detections >= ${DETECT.scoreThreshold} in Chromium, ${above(loose).scores.length} in Node; `
      + `worst score difference ${nodeKept.worstScoreDiff.toFixed(4)}, box IoU ${nodeKept.worstBoxIou.toFixed(4)}, mask IoU ${nodeKept.worstMaskIou.toFixed(4)}`);
    expect(run.provider).to.equal('webgpu');
    expect(above(loose).scores.length).to.be.above(0);
    expect(pageKept.precision, "Chromium's detections matched in Node's").to.equal(1);
    expect(nodeKept.recall, "Node's detections matched in Chromium's").to.equal(1);
    expect(nodeKept.maskMatched).to.equal(nodeKept.maskPairs);
  });
});

function flatNode(detections: Detection[]): FlatDetections {
  return {
    boxes: detections.flatMap((d) => d.box), scores: detections.map((d) => d.score), labels: detections.map((d) => d.label),
    masks: detections.map((d) => { const m = d.mask as RleMask; return rleDecode(rleFrString(m.counts, ...m.size)); }),
  };
}

/** The detections whose score passes `test`. */
function keep(d: FlatDetections, test: (score: number) => boolean): FlatDetections {
  const idx = Array.from(d.scores, (s, i) => (test(s) ? i : -1)).filter((i) => i >= 0);
  return {
    boxes: idx.flatMap((i) => Array.from({ length: 4 }, (_, k) => d.boxes[4 * i + k])), scores: idx.map((i) => d.scores[i]),
    labels: idx.map((i) => d.labels[i]), masks: d.masks && idx.map((i) => d.masks![i]),
  };
}
