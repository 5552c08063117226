import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { buildNmsMask, buildNonMaxSuppression, MASK_WORD_BITS, scanSuppressionMask, scoreOrder, sortedPaddedBoxes } from '../../gpu/index.js';
import { serializeModel } from '../../onnx/index.js';
import { nms } from '../../postprocess/nms.js';
import { Prng } from '../../src/dataset/prng.js';
import { useSwiftShader } from '../helpers/webgpu.js';

/** Clustered boxes (so that many overlap), a few zero-area and inverted ones, distinct scores. */
function fixture(n: number, seed: number): { boxes: Float32Array; scores: Float32Array } {
  const rng = new Prng(seed);
  const boxes = new Float32Array(4 * n);
  const centres = Array.from({ length: 12 }, () => [rng.uniform(0, 500), rng.uniform(0, 400)]);
  for (let i = 0; i < n; i++) {
    const [cx, cy] = rng.pick(centres);
    const x = cx + rng.uniform(-30, 30), y = cy + rng.uniform(-30, 30), w = rng.uniform(5, 120), h = rng.uniform(5, 120);
    boxes.set([x, y, x + w, y + h], 4 * i);
  }
  boxes.set([10, 10, 10, 50], 0); // zero area
  boxes.set([80, 80, 60, 90], 4); // inverted
  const scores = Float32Array.from({ length: n }, (_, i) => (i * 7919 % n) / n + rng.uniform(0, 0.5 / n));
  return { boxes, scores };
}

async function session(model: Uint8Array, provider: 'cpu' | 'webgpu'): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, { executionProviders: [provider], logSeverityLevel: 3 });
}

describe('gpu/ NMS: the IoU bitmask graph scanned on the CPU equals nms (torchvision CUDA kernel split)', function () {
  this.timeout(300_000);
  for (const provider of ['cpu', 'webgpu'] as const) {
    for (const [n, threshold] of [[300, 0.5], [1000, 0.7], [37, 0.3]] as const) {
      it(`${provider}: ${n} boxes, IoU > ${threshold}: the same kept indices in the same order`, async () => {
        if (provider === 'webgpu') useSwiftShader();
        const { boxes, scores } = fixture(n, n);
        const s = await session(serializeModel(buildNmsMask()), provider);
        try {
          const order = scoreOrder(scores);
          const { data, padded } = sortedPaddedBoxes(boxes, order);
          const out = await s.run({ boxes: new ort.Tensor('float32', data, [padded, 4]), iouThreshold: new ort.Tensor('float32', Float32Array.of(threshold), [1]) });
          const mask = out.mask.data as Int32Array;
          expect(out.mask.dims).to.deep.equal([padded, padded / MASK_WORD_BITS]);
          const kept = Array.from(scanSuppressionMask(mask, n, padded / MASK_WORD_BITS), (k) => order[k]);
          const ref = Array.from(nms(boxes, scores, threshold));
          expect(ref.length).to.be.within(2, n - 2); // something kept and something suppressed
          expect(kept).to.deep.equal(ref);
        } finally {
          await s.release();
        }
      });
    }
  }
});

describe('gpu/ NonMaxSuppression graph (the CUDA provider\'s kernel) equals nms, on the CPU provider', function () {
  for (const opset of [10, 11]) {
    it(`opset ${opset}: 500 boxes, IoU > 0.5: the same kept indices in the same order`, async () => {
      const { boxes, scores } = fixture(500, 3);
      const s = await session(serializeModel(buildNonMaxSuppression(opset)), 'cpu');
      try {
        const out = await s.run({
          boxes: new ort.Tensor('float32', boxes, [500, 4]), scores: new ort.Tensor('float32', scores, [500]),
          iouThreshold: new ort.Tensor('float32', Float32Array.of(0.5), [1]),
        });
        expect(Array.from(out.keep.data as BigInt64Array, Number)).to.deep.equal(Array.from(nms(boxes, scores, 0.5)));
      } finally {
        await s.release();
      }
    });
  }
});
