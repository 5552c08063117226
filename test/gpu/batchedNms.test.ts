import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { gpuBatchedNms } from '../../src/detector/gpuNms.js';
import { batchedNms } from '../../postprocess/nms.js';
import { Prng } from '../../src/dataset/prng.js';
import { type DetectionResult, loadModel } from '../../src/index.js';
import type { InferenceSession, OrtModule } from '../../src/runtime/index.js';
import { repoRoot } from '../helpers/reference.js';
import { useSwiftShader } from '../helpers/webgpu.js';

/** Clustered boxes in `categories` categories, distinct scores (as RPN levels or classes give). */
function fixture(n: number, categories: number, seed: number): { boxes: Float32Array; scores: Float32Array; idxs: Int32Array } {
  const rng = new Prng(seed);
  const centres = Array.from({ length: 15 }, () => [rng.uniform(0, 800), rng.uniform(0, 600)]);
  const boxes = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const [cx, cy] = rng.pick(centres);
    const x = cx + rng.uniform(-40, 40), y = cy + rng.uniform(-40, 40);
    boxes.set([x, y, x + rng.uniform(4, 160), y + rng.uniform(4, 160)], 4 * i);
  }
  const scores = Float32Array.from({ length: n }, (_, i) => (i * 7919 % n) / n + rng.uniform(0, 0.5 / n));
  const idxs = Int32Array.from({ length: n }, () => Math.floor(rng.uniform(0, categories)));
  return { boxes, scores, idxs };
}

describe("gpu/ batched NMS with the IoU bitmask on WebGPU equals batchedNms (torchvision batched_nms, both branches)", function () {
  this.timeout(600_000);
  let nms: ReturnType<typeof gpuBatchedNms>;
  before(() => {
    useSwiftShader();
    const create = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], logSeverityLevel: 3 }) as unknown as Promise<InferenceSession>;
    nms = gpuBatchedNms(ort as unknown as OrtModule, create);
  });
  after(async () => nms?.release());

  const cases: Array<[string, number, number, number]> = [
    ['900 boxes in 3 classes (<= 1000: one NMS over offset boxes)', 900, 3, 0.5],
    ['3000 boxes in 5 levels (> 1000: per-level NMS, then the unstable sort)', 3000, 5, 0.7],
    ['1200 boxes in 150 classes (> 1000: per-class NMS over small groups)', 1200, 150, 0.3],
  ];
  for (const [what, n, categories, threshold] of cases) {
    it(`${what}, IoU > ${threshold}: the same kept indices in the same order`, async () => {
      const { boxes, scores, idxs } = fixture(n, categories, n);
      const ref = Array.from(batchedNms(boxes, scores, idxs, threshold));
      expect(ref.length).to.be.within(Math.min(categories, n / 4), n - 10); // much kept, something suppressed
      expect(Array.from(await nms.nms(boxes, scores, idxs, threshold))).to.deep.equal(ref);
    });
  }

  it('no boxes: nothing kept, no dispatch', async () => {
    expect(await nms.nms(new Float32Array(0), new Float32Array(0), new Int32Array(0), 0.5)).to.have.length(0);
  });

  it("the webgpu detector with nms: 'gpu' gives exactly the detections of nms: 'cpu' (bundled model)", async () => {
    const image = join(repoRoot, 'samples', 'shapes-1.png');
    const run = async (where: 'cpu' | 'gpu'): Promise<DetectionResult> => {
      const model = await loadModel('shapes', { provider: 'webgpu', nms: where, threads: 2 });
      try {
        return await model.detect(image, { scoreThreshold: 0, masks: 'none' });
      } finally {
        await model.release();
      }
    };
    const cpu = await run('cpu');
    const gpu = await run('gpu');
    expect(cpu.detections.length).to.be.above(10);
    expect(gpu.detections).to.deep.equal(cpu.detections);
  });
});
